package novaapi

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPoliciesAreDefined checks that every rule a route or a handler names
// has a default, so that no endpoint is refused to everyone by accident.
func TestPoliciesAreDefined(t *testing.T) {
	s := New(Config{}, Deps{})
	for _, r := range s.API().Routes {
		if r.Policy != "" {
			if _, ok := Policy[r.Policy]; !ok {
				t.Errorf("%s %s: rule %s has no default", r.Method, r.Path, r.Policy)
			}
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`"(os_compute_api:[a-zA-Z0-9_:-]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "policy.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			if _, ok := Policy[m[1]]; !ok && !strings.HasSuffix(m[1], ":") {
				t.Errorf("%s names rule %s, which has no default", f, m[1])
			}
		}
	}
}
