package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newIdentity(t *testing.T) *Enforcer {
	t.Helper()
	e, err := New(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Register(map[string]string{
		"identity:get_project":  "rule:system_reader or rule:project_reader",
		"identity:list_domains": "rule:system_reader",
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLoadFile(t *testing.T) {
	p1 := Target{"project_id": "p1"}
	tests := []struct {
		name, file, body string
	}{
		{"yaml", "policy.yaml", `
# Operators may open get_project to anyone, and close list_domains.
"identity:get_project": "@"
identity:list_domains: "!"
"custom_helper": "role:member"   # extra rules are allowed
`},
		{"json", "policy.json", `{
	"identity:get_project": "@",
	"identity:list_domains": "!",
	"custom_helper": "role:member"
}`},
		{"json named yaml", "policy.yaml", `{"identity:get_project": "@", "identity:list_domains": "!", "custom_helper": "role:member"}`},
		{"yaml flow", "policy.yaml", `{identity:get_project: "@", identity:list_domains: "!", custom_helper: role:member}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newIdentity(t)
			if e.Enforce("identity:get_project", credOther, p1) || !e.Enforce("identity:list_domains", credSystem, nil) {
				t.Fatal("defaults not in force before load")
			}
			if err := e.LoadFile(writeFile(t, tc.file, tc.body)); err != nil {
				t.Fatal(err)
			}
			if !e.Enforce("identity:get_project", credOther, p1) {
				t.Error("override of identity:get_project not applied")
			}
			if e.Enforce("identity:list_domains", credSystem, nil) {
				t.Error("override of identity:list_domains not applied")
			}
			if !e.Enforce("custom_helper", credMember, nil) {
				t.Error("extra rule from file not applied")
			}
			if !e.Enforce("project_reader", credReader, p1) {
				t.Error("default not named in the file was lost")
			}
		})
	}
}

func TestLoadFileReloadReverts(t *testing.T) {
	e := newIdentity(t)
	if err := e.LoadFile(writeFile(t, "a.yaml", `identity:list_domains: "!"`)); err != nil {
		t.Fatal(err)
	}
	if e.Enforce("identity:list_domains", credSystem, nil) {
		t.Fatal("override not applied")
	}
	if err := e.LoadFile(writeFile(t, "b.yaml", "# nothing overridden\n")); err != nil {
		t.Fatal(err)
	}
	if !e.Enforce("identity:list_domains", credSystem, nil) {
		t.Error("rule dropped from the file did not revert to its default")
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name, file, body string
		want             []string // substrings of the error
	}{
		{"yaml syntax in rule", "p.yaml", "identity:get_project: \"role:admin and\"\n", []string{`"identity:get_project"`, "end of rule"}},
		{"json syntax in rule", "p.json", `{"identity:get_project": "(role:admin"}`, []string{`"identity:get_project"`, `expected ")"`}},
		{"yaml non-string", "p.yaml", "identity:get_project: true\n", []string{`"identity:get_project"`, "must be a string"}},
		{"yaml null", "p.yaml", "identity:get_project:\n", []string{`"identity:get_project"`, "must be a string"}},
		{"yaml list", "p.yaml", "identity:get_project: [a]\n", []string{`"identity:get_project"`, "must be a string"}},
		{"json non-string", "p.json", `{"identity:get_project": 1}`, []string{`"identity:get_project"`, "must be a string"}},
		{"yaml duplicate", "p.yaml", "a: \"@\"\na: \"!\"\n", []string{`"a"`, "twice"}},
		{"json duplicate", "p.json", `{"a": "@", "a": "!"}`, []string{`"a"`, "twice"}},
		{"not a map", "p.yaml", "- role:admin\n", []string{"want a map"}},
		{"bad yaml", "p.yaml", "a: \"unterminated\n", []string{"p.yaml"}},
		{"unknown rule ref", "p.yaml", "identity:get_project: rule:nope\n", []string{`"identity:get_project"`, `unknown rule "nope"`}},
		{"unknown attribute", "p.yaml", "identity:get_project: projct_id:%(project_id)s\n", []string{`"identity:get_project"`, `unknown credentials attribute`}},
		{"cycle", "p.yaml", "admin_required: rule:service_or_admin\n", []string{"reference cycle"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newIdentity(t)
			before := e.Rules()
			err := e.LoadFile(writeFile(t, tc.file, tc.body))
			if err == nil {
				t.Fatal("LoadFile accepted a bad file")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %s", err, w)
				}
			}
			if after := e.Rules(); len(after) != len(before) || after["identity:get_project"] != before["identity:get_project"] {
				t.Error("a rejected file changed the rules in force")
			}
			if !e.Enforce("identity:get_project", credReader, Target{"project_id": "p1"}) {
				t.Error("rules in force lost after a rejected file")
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		err := newIdentity(t).LoadFile(filepath.Join(t.TempDir(), "absent.yaml"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want ErrNotExist", err)
		}
	})
}

// TestConcurrentEnforceAndReload runs Enforce from many goroutines while
// the override file is reloaded and services register rules; run with -race.
// Every Enforce must see either the default or the override, never a mix.
func TestConcurrentEnforceAndReload(t *testing.T) {
	e := newIdentity(t)
	open := writeFile(t, "open.yaml", `identity:list_domains: "rule:system_reader or role:member"`)
	shut := writeFile(t, "shut.json", `{"identity:list_domains": "rule:system_reader"}`)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !e.Enforce("identity:list_domains", credSystem, nil) {
					t.Error("system reader denied mid-reload")
					return
				}
				if !e.Enforce("project_reader", credReader, Target{"project_id": "p1"}) {
					t.Error("project_reader denied mid-reload")
					return
				}
				e.Enforce("identity:list_domains", credMember, nil) // either answer is valid
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if err := e.Register(map[string]string{"svc" + string(rune('a'+i%26)) + ":x": "@"}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := range 200 {
		p := open
		if i%2 == 1 {
			p = shut
		}
		if err := e.LoadFile(p); err != nil {
			t.Fatal(err)
		}
		want := i%2 == 0
		if got := e.Enforce("identity:list_domains", credMember, nil); got != want {
			t.Fatalf("after load %d: member allowed = %v, want %v", i, got, want)
		}
	}
	close(stop)
	wg.Wait()
}
