package identity

import "testing"

func TestSubstituteProject(t *testing.T) {
	tests := []struct {
		url, project, want string
		ok                 bool
	}{
		{"http://h/volume/v3/$(project_id)s", "p1", "http://h/volume/v3/p1", true},
		{"http://h/v2/$(tenant_id)s", "p1", "http://h/v2/p1", true},
		{"http://h/volume/v3/$(project_id)s", "", "", false},
		{"http://h/identity", "", "http://h/identity", true},
	}
	for _, tt := range tests {
		got, ok := substituteProject(tt.url, tt.project)
		if got != tt.want || ok != tt.ok {
			t.Errorf("substituteProject(%q, %q) = %q, %v; want %q, %v", tt.url, tt.project, got, ok, tt.want, tt.ok)
		}
	}
}
