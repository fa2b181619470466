package policy

import (
	"errors"
	"strings"
	"testing"
)

var (
	credAdmin  = Credentials{UserID: "u-admin", UserDomainID: "default", ProjectID: "p1", ProjectDomainID: "default", Roles: []string{"admin", "member", "reader"}}
	credMember = Credentials{UserID: "u-member", UserDomainID: "default", ProjectID: "p1", ProjectDomainID: "default", Roles: []string{"member", "reader"}}
	credReader = Credentials{UserID: "u-reader", ProjectID: "p1", Roles: []string{"reader"}}
	credOther  = Credentials{UserID: "u-other", ProjectID: "p2", Roles: []string{"member", "reader"}}
	credSystem = Credentials{UserID: "u-sys", Roles: []string{"admin", "member", "reader"}, System: true}
	credDomain = Credentials{UserID: "u-dom", DomainID: "d1", Roles: []string{"admin", "member", "reader"}}
	credNone   = Credentials{}
)

// eval compiles text as rule "t" next to a few helpers and enforces it.
func eval(t *testing.T, text string, c Credentials, tg Target) bool {
	t.Helper()
	e, err := New(map[string]string{
		"t":             text,
		"yes":           "@",
		"no":            "!",
		"is_admin_role": "role:admin",
	})
	if err != nil {
		t.Fatalf("New(%q): %v", text, err)
	}
	return e.Enforce("t", c, tg)
}

func TestSyntax(t *testing.T) {
	p1 := Target{"project_id": "p1", "user_id": "u-member", "domain_id": "d1"}
	tests := []struct {
		name string
		rule string
		cred Credentials
		tg   Target
		want bool
	}{
		// Constants.
		{"always", "@", credNone, nil, true},
		{"never", "!", credAdmin, p1, false},
		{"empty", "", credNone, nil, true},
		{"blank", "  \t", credNone, nil, true},
		{"not never", "not !", credNone, nil, true},

		// Roles.
		{"role hit", "role:admin", credAdmin, nil, true},
		{"role miss", "role:admin", credMember, nil, false},
		{"role upper value", "role:ADMIN", credAdmin, nil, true},
		{"role upper kind", "ROLE:admin", credAdmin, nil, true},
		{"roles alias", "roles:member", credMember, nil, true},
		{"role no roles", "role:reader", credNone, nil, false},
		{"role from target", "role:%(target.role.name)s", credMember, Target{"target.role.name": "member"}, true},
		{"role from target miss", "role:%(target.role.name)s", credReader, Target{"target.role.name": "member"}, false},
		{"role from missing key", "role:%(target.role.name)s", credAdmin, nil, false},
		{"role with colon", "role:compute:admin", Credentials{Roles: []string{"compute:admin"}}, nil, true},

		// Attributes against the target.
		{"project match", "project_id:%(project_id)s", credMember, p1, true},
		{"project mismatch", "project_id:%(project_id)s", credOther, p1, false},
		{"project missing key", "project_id:%(project_id)s", credMember, Target{}, false},
		{"project nil target", "project_id:%(project_id)s", credMember, nil, false},
		{"unset attr vs empty target", "project_id:%(project_id)s", credNone, Target{"project_id": ""}, false},
		{"tenant alias", "tenant_id:%(project_id)s", credMember, p1, true},
		{"user dotted key", "user_id:%(target.user.id)s", credMember, Target{"target.user.id": "u-member"}, true},
		{"user dotted key miss", "user_id:%(target.user.id)s", credReader, Target{"target.user.id": "u-member"}, false},
		{"domain", "domain_id:%(domain_id)s", credDomain, p1, true},
		{"user_domain literal", "user_domain_id:default", credMember, nil, true},
		{"project_domain from target", "project_domain_id:%(target.project.domain_id)s", credAdmin, Target{"target.project.domain_id": "default"}, true},
		{"id is case-sensitive", "project_id:P1", credMember, nil, false},
		{"template", "project_id:p%(n)s", credMember, Target{"n": "1"}, true},
		{"template miss", "project_id:p%(n)s", credMember, Target{"n": "2"}, false},
		{"template two keys", "user_id:%(a)s-%(b)s", credMember, Target{"a": "u", "b": "member"}, true},
		{"template missing key", "user_id:%(a)s-%(b)s", credMember, Target{"a": "u"}, false},

		// Quoted and reversed literals.
		{"single-quoted literal", "project_id:'p1'", credMember, nil, true},
		{"double-quoted literal", `project_id:"p1"`, credMember, nil, true},
		{"quoted literal is not substituted", "project_id:'%(project_id)s'", credMember, p1, false},
		{"quoted literal with space", "user_id:'a b'", Credentials{UserID: "a b"}, nil, true},
		{"reversed literal", "'member':%(target.role.name)s", credNone, Target{"target.role.name": "member"}, true},
		{"reversed literal miss", "'member':%(target.role.name)s", credNone, Target{"target.role.name": "admin"}, false},
		{"reversed literal missing key", "'member':%(target.role.name)s", credAdmin, nil, false},
		{"reversed double-quoted", `"a:b":%(k)s`, credNone, Target{"k": "a:b"}, true},
		{"reversed True", "True:%(target.user.enabled)s", credNone, Target{"target.user.enabled": "true"}, true},
		{"reversed True vs false", "True:%(target.user.enabled)s", credNone, Target{"target.user.enabled": "False"}, false},
		{"reversed false lower", "false:%(e)s", credNone, Target{"e": "0"}, true},

		// Scope and is_admin.
		{"system scope", "system_scope:all", credSystem, nil, true},
		{"system scope project token", "system_scope:all", credAdmin, nil, false},
		{"system scope upper", "SYSTEM_SCOPE:ALL", credSystem, nil, true},
		{"is_admin true", "is_admin:True", credAdmin, nil, true},
		{"is_admin non-admin", "is_admin:True", credMember, nil, false},
		{"is_admin 1", "is_admin:1", credAdmin, nil, true},
		{"is_admin False", "is_admin:False", credMember, nil, true},

		// Unknown things deny.
		{"unknown attribute", "flavor:%(x)s", credAdmin, Target{"x": "y"}, false},
		{"unknown rule", "rule:nope", credAdmin, nil, false},
		{"unknown rule or", "rule:nope or role:admin", credAdmin, nil, true},
		{"not unknown rule", "not rule:nope", credAdmin, nil, true},

		// Rule references.
		{"rule ref", "rule:is_admin_role", credAdmin, nil, true},
		{"rule ref miss", "rule:is_admin_role", credMember, nil, false},
		{"rule ref case-insensitive kind", "RULE:yes", credNone, nil, true},

		// Operators and precedence: not > and > or.
		{"and", "role:member and project_id:%(project_id)s", credMember, p1, true},
		{"and miss", "role:member and project_id:%(project_id)s", credOther, p1, false},
		{"or", "role:admin or role:member", credMember, nil, true},
		{"and binds tighter than or", "@ or ! and !", credNone, nil, true},
		{"and binds tighter than or, left", "! and ! or @", credNone, nil, true},
		{"parens override", "(@ or !) and !", credNone, nil, false},
		{"not binds tighter than and", "not ! and !", credNone, nil, false},
		{"not binds tighter than or", "not @ or @", credNone, nil, true},
		{"not of group", "not (@ and !)", credNone, nil, true},
		{"double not", "not not role:admin", credAdmin, nil, true},
		{"not without space", "not(role:admin)", credMember, nil, true},
		{"keywords upper", "NOT role:reader OR role:admin AND Project_Id:%(project_id)s", credAdmin, p1, true},
		{"keywords mixed", "role:reader aNd nOt role:admin", credReader, nil, true},
		{"nested parens", "((role:admin) or ((role:member) and (project_id:%(project_id)s)))", credMember, p1, true},
		{"nested parens other", "((role:admin) or ((role:member) and (project_id:%(project_id)s)))", credOther, p1, false},
		{"parens hug substitution", "(project_id:%(project_id)s)", credMember, p1, true},
		{"chain of or", "! or ! or ! or role:reader", credReader, nil, true},
		{"chain of and", "@ and @ and role:reader and !", credReader, nil, false},

		// Typical rules.
		{"typical admin", "role:admin or (role:member and project_id:%(project_id)s)", credAdmin, Target{"project_id": "p9"}, true},
		{"typical member", "role:admin or (role:member and project_id:%(project_id)s)", credMember, p1, true},
		{"typical other", "role:admin or (role:member and project_id:%(project_id)s)", credOther, p1, false},
		{"typical reader", "role:admin or (role:member and project_id:%(project_id)s)", credReader, p1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := eval(t, tc.rule, tc.cred, tc.tg); got != tc.want {
				t.Errorf("%q: got %v, want %v", tc.rule, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		rule string
		msg  string
	}{
		{"role:admin and", "end of rule"},
		{"and role:admin", `unexpected "and"`},
		{"role:admin or or role:member", `unexpected "or"`},
		{"(role:admin", `expected ")"`},
		{"role:admin)", `unexpected ")"`},
		{"()", `unexpected ")"`},
		{"not", "end of rule"},
		{"admin", "kind:match"},
		{"role:", "empty match"},
		{":admin", "empty kind"},
		{"rule:''", "empty rule name"},
		{"project_id:%(project_id)", "must look like %(key)s"},
		{"project_id:%(project_id", "unterminated"},
		{"project_id:%()s", "empty substitution key"},
		{"user_id:'abc", "unterminated quote"},
		{"is_admin:maybe", "is_admin"},
		{"role:admin role:member", `unexpected "role:member"`},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			_, err := New(map[string]string{"bad_rule": tc.rule, "good": "@"})
			if err == nil {
				t.Fatalf("New accepted %q", tc.rule)
			}
			var re *RuleError
			if !errors.As(err, &re) || re.Rule != "bad_rule" {
				t.Fatalf("error %v does not name rule bad_rule", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestUnregisteredRuleDenied(t *testing.T) {
	e, err := New(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if e.Enforce("compute:no_such_rule", credSystem, Target{}) {
		t.Error("unregistered rule allowed")
	}
	if e.Enforce("", credSystem, Target{}) {
		t.Error("empty rule name allowed")
	}
}

func TestDefaults(t *testing.T) {
	e, err := New(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	p1 := Target{"project_id": "p1", "user_id": "u-member", "domain_id": "d1"}
	tests := []struct {
		rule string
		cred Credentials
		want bool
	}{
		{"admin_required", credAdmin, true},
		{"admin_required", credMember, false},
		{"admin_or_owner", credAdmin, true},
		{"admin_or_owner", credMember, true},
		{"admin_or_owner", credOther, false},
		{"owner", credMember, true},
		{"owner", credAdmin, false},
		{"project_member", credMember, true},
		{"project_member", credAdmin, true}, // roles arrive expanded
		{"project_member", credReader, false},
		{"project_member", credOther, false},
		{"project_reader", credReader, true},
		{"project_reader", credOther, false},
		{"project_admin", credAdmin, true},
		{"project_admin", credMember, false},
		{"system_admin", credSystem, true},
		{"system_admin", credAdmin, false},
		{"system_reader", credSystem, true},
		{"system_reader", credReader, false},
		{"domain_admin", credDomain, true},
		{"domain_admin", credAdmin, false},
		{"domain_reader", credDomain, true},
		{"project_member_or_admin", credOther, false},
		{"project_member_or_admin", credMember, true},
		{"project_reader_or_admin", credReader, true},
		{"service_or_admin", Credentials{Roles: []string{"service"}}, true},
		{"service_or_admin", credMember, false},
	}
	for _, tc := range tests {
		t.Run(tc.rule+"/"+tc.cred.UserID, func(t *testing.T) {
			if got := e.Enforce(tc.rule, tc.cred, p1); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	e, err := New(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	identity := map[string]string{
		"identity:list_projects": "rule:system_reader or rule:domain_reader",
		"identity:get_project":   "rule:system_reader or rule:project_reader",
	}
	if err := e.Register(identity); err != nil {
		t.Fatal(err)
	}
	if !e.Enforce("identity:list_projects", credSystem, nil) || e.Enforce("identity:list_projects", credMember, Target{"domain_id": "d1"}) {
		t.Error("identity:list_projects not enforced as registered")
	}
	// Registering the same text again is harmless; different text is refused.
	if err := e.Register(identity); err != nil {
		t.Errorf("re-registering identical rules: %v", err)
	}
	err = e.Register(map[string]string{"identity:get_project": "@"})
	var re *RuleError
	if !errors.As(err, &re) || re.Rule != "identity:get_project" {
		t.Errorf("conflicting Register: got %v", err)
	}
	if e.Enforce("identity:get_project", credOther, Target{"project_id": "p1"}) {
		t.Error("conflicting Register took effect")
	}
	// A bad rule is refused and leaves the enforcer unchanged.
	if err := e.Register(map[string]string{"image:bad": "role:admin and", "image:good": "@"}); err == nil || !strings.Contains(err.Error(), `"image:bad"`) {
		t.Errorf("bad Register: got %v", err)
	}
	if e.Enforce("image:good", credAdmin, nil) {
		t.Error("half of a failed Register took effect")
	}
	// A rule registered later resolves a reference made earlier.
	if err := e.Register(map[string]string{"a": "rule:b"}); err != nil {
		t.Fatal(err)
	}
	if e.Enforce("a", credAdmin, nil) {
		t.Error("dangling reference allowed")
	}
	if err := e.Check(); err == nil || !strings.Contains(err.Error(), `unknown rule "b"`) {
		t.Errorf("Check: got %v", err)
	}
	if err := e.Register(map[string]string{"b": "@"}); err != nil {
		t.Fatal(err)
	}
	if !e.Enforce("a", credAdmin, nil) {
		t.Error("late-registered reference not linked")
	}
	if err := e.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestCheckReportsUnknowns(t *testing.T) {
	e, err := New(map[string]string{
		"r1": "rule:missing or role:admin",
		"r2": "projct_id:%(project_id)s",
		"r3": "@",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Check()
	if err == nil {
		t.Fatal("Check found nothing")
	}
	for _, want := range []string{`"r1"`, `unknown rule "missing"`, `"r2"`, `unknown credentials attribute "projct_id"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q lacks %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `"r3"`) {
		t.Errorf("Check blamed a good rule: %v", err)
	}
}

func TestCycles(t *testing.T) {
	for name, rules := range map[string]map[string]string{
		"self":     {"a": "rule:a"},
		"pair":     {"a": "role:x or rule:b", "b": "rule:a"},
		"indirect": {"root": "rule:a", "a": "not rule:b", "b": "rule:c", "c": "rule:a and @"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(rules)
			if err == nil || !strings.Contains(err.Error(), "reference cycle") {
				t.Fatalf("got %v, want a reference cycle error", err)
			}
		})
	}
	// A diamond is not a cycle.
	e, err := New(map[string]string{"top": "rule:l and rule:r", "l": "rule:base", "r": "rule:base", "base": "role:reader"})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Enforce("top", credReader, nil) {
		t.Error("diamond denied")
	}
}

func TestRules(t *testing.T) {
	e, err := New(Defaults())
	if err != nil {
		t.Fatal(err)
	}
	r := e.Rules()
	if r["admin_required"] != "role:admin" {
		t.Errorf("Rules()[admin_required] = %q", r["admin_required"])
	}
	r["admin_required"] = "@" // a copy: must not affect the enforcer
	if e.Enforce("admin_required", credMember, nil) {
		t.Error("mutating Rules() changed the policy")
	}
}

func TestHasRole(t *testing.T) {
	c := Credentials{Roles: []string{"member", "reader"}}
	if !c.HasRole("member") || !c.HasRole("Reader") || c.HasRole("admin") || (Credentials{}).HasRole("") {
		t.Error("HasRole wrong")
	}
}
