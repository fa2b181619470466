package policy

import "testing"

const typicalRule = "role:admin or (role:member and project_id:%(project_id)s)"

func BenchmarkEnforce(b *testing.B) {
	e, err := New(Defaults())
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Register(map[string]string{"compute:servers:show": typicalRule}); err != nil {
		b.Fatal(err)
	}
	target := Target{"project_id": "9f0c3a", "user_id": "u-1"}
	cases := []struct {
		name string
		cred Credentials
		want bool
	}{
		// The member path walks the whole tree: the slow case.
		{"member", Credentials{UserID: "u-1", ProjectID: "9f0c3a", Roles: []string{"member", "reader"}}, true},
		{"admin", Credentials{UserID: "u-0", ProjectID: "other", Roles: []string{"admin", "member", "reader"}}, true},
		{"other_project", Credentials{UserID: "u-2", ProjectID: "other", Roles: []string{"member", "reader"}}, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if e.Enforce("compute:servers:show", c.cred, target) != c.want {
				b.Fatal("wrong answer")
			}
			b.ReportAllocs()
			for b.Loop() {
				e.Enforce("compute:servers:show", c.cred, target)
			}
		})
	}
}

func TestEnforceDoesNotAllocate(t *testing.T) {
	e, err := New(map[string]string{"r": typicalRule, "t": "user_id:%(a)s-%(b)s or rule:r"})
	if err != nil {
		t.Fatal(err)
	}
	cred := Credentials{UserID: "u-1", ProjectID: "p1", Roles: []string{"member", "reader"}}
	target := Target{"project_id": "p1", "a": "u", "b": "2"}
	if n := testing.AllocsPerRun(100, func() {
		e.Enforce("r", cred, target)
		e.Enforce("t", cred, target)
	}); n != 0 {
		t.Errorf("Enforce allocates %v times per call", n)
	}
}
