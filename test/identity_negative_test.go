package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"

	"github.com/kumo-cloud/kumo/internal/testutil"
)

// This file checks what the identity API refuses, with raw HTTP so that
// status codes and Keystone-shaped error bodies are seen exactly as sent.

// revocationBound is how soon a revocation must take effect everywhere.
const revocationBound = 2 * time.Second

// rawReply is a raw HTTP answer.
type rawReply struct {
	status int
	header http.Header
	body   []byte
}

func (r rawReply) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// rawCall sends one request to the identity API; body may be nil, []byte, a
// string or a value to marshal.
func rawCall(t *testing.T, method, url, token string, body any, headers map[string]string) rawReply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return rawReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// wantKeystoneError checks that r is an error of the given status with exactly
// Keystone's body {"error": {"code": N, "title": "...", "message": "..."}}
// and returns its message.
func wantKeystoneError(t *testing.T, r rawReply, status int, what string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got %s, want %d", what, r, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &outer); err != nil || len(outer) != 1 || outer["error"] == nil {
		t.Fatalf("%s: body %s is not {\"error\": {...}} (%v)", what, r.body, err)
	}
	var e map[string]any
	if err := json.Unmarshal(outer["error"], &e); err != nil {
		t.Fatalf("%s: error %s: %v", what, outer["error"], err)
	}
	code, _ := e["code"].(float64)
	title, _ := e["title"].(string)
	msg, _ := e["message"].(string)
	if len(e) != 3 || int(code) != status || title != http.StatusText(status) || msg == "" {
		t.Fatalf("%s: error body %s, want code %d, title %q and a message", what, r.body, status, http.StatusText(status))
	}
	if r.header.Get("X-Openstack-Request-Id") == "" {
		t.Errorf("%s: no X-Openstack-Request-Id", what)
	}
	return msg
}

// passwordAuthBody is a POST /v3/auth/tokens body; scope is nil or a map.
func passwordAuthBody(user map[string]any, scope any) map[string]any {
	auth := map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": user}}}
	if scope != nil {
		auth["scope"] = scope
	}
	return map[string]any{"auth": auth}
}

func projectScopeBody(id string) map[string]any {
	return map[string]any{"project": map[string]any{"id": id}}
}

// issueRaw logs in and returns the X-Subject-Token, failing unless it is 201.
func issueRaw(t *testing.T, authURL string, body any) string {
	t.Helper()
	r := rawCall(t, http.MethodPost, authURL+"/auth/tokens?nocatalog", "", body, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("issueRaw a token: %s", r)
	}
	tok := r.header.Get("X-Subject-Token")
	if tok == "" {
		t.Fatal("no X-Subject-Token")
	}
	return tok
}

// memberToken logs m in scoped to project.
func memberToken(t *testing.T, c *Cloud, m member, project string) string {
	t.Helper()
	return issueRaw(t, c.AuthURL(), passwordAuthBody(map[string]any{"id": m.User.ID, "password": m.Password}, projectScopeBody(project)))
}

// waitUnauthorized waits up to the revocation bound for tok to be refused.
func waitUnauthorized(t *testing.T, c *Cloud, tok, path string) {
	t.Helper()
	start := time.Now()
	testutil.WaitFor(t, revocationBound, func() error {
		if r := rawCall(t, http.MethodGet, c.AuthURL()+path, tok, nil, nil); r.status != http.StatusUnauthorized {
			return fmt.Errorf("GET %s: %s", path, r)
		}
		return nil
	})
	r := rawCall(t, http.MethodGet, c.AuthURL()+path, tok, nil, nil)
	wantKeystoneError(t, r, http.StatusUnauthorized, "revoked token on "+path)
	t.Logf("refused after %s", time.Since(start).Round(time.Millisecond))
}

// TestTokenExpiry runs its own kumod with two-second tokens.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	k := startKumodArgs(t, kumodBinary(t), stateDir(t), "--token-ttl", ttl.String())
	k.waitReady(t, 90*time.Second)
	authURL := k.url + "/identity/v3"
	body := passwordAuthBody(map[string]any{"name": "admin", "domain": map[string]any{"name": "Default"}, "password": readAdminPassword(t, filepath.Join(k.state, "clouds.yaml"))},
		map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"name": "Default"}}})

	r := rawCall(t, http.MethodPost, authURL+"/auth/tokens?nocatalog", "", body, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("issue: %s", r)
	}
	tok := r.header.Get("X-Subject-Token")
	var issued struct {
		Token struct {
			IssuedAt  time.Time `json:"issued_at"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	if err := json.Unmarshal(r.body, &issued); err != nil {
		t.Fatal(err)
	}
	if life := issued.Token.ExpiresAt.Sub(issued.Token.IssuedAt); life != ttl {
		t.Fatalf("token lives %s, want %s", life, ttl)
	}
	if r := rawCall(t, http.MethodGet, authURL+"/users", tok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("fresh token: %s", r)
	}
	// A token rescoped from it never outlives it.
	child := issueRaw(t, authURL, map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": tok}}}})

	testutil.WaitFor(t, ttl+5*time.Second, func() error {
		if r := rawCall(t, http.MethodGet, authURL+"/users", tok, nil, nil); r.status != http.StatusUnauthorized {
			return fmt.Errorf("token still accepted: %d", r.status)
		}
		return nil
	})
	if time.Now().Before(issued.Token.ExpiresAt) {
		t.Fatalf("token refused before its expiry %s", issued.Token.ExpiresAt)
	}
	for _, path := range []string{"/users", "/projects", "/auth/catalog", "/auth/projects"} {
		wantKeystoneError(t, rawCall(t, http.MethodGet, authURL+path, tok, nil, nil), http.StatusUnauthorized, "expired token on "+path)
		wantKeystoneError(t, rawCall(t, http.MethodGet, authURL+path, child, nil, nil), http.StatusUnauthorized, "expired rescoped token on "+path)
	}
	// An expired token cannot be exchanged for a new one, and reads as gone.
	wantKeystoneError(t, rawCall(t, http.MethodPost, authURL+"/auth/tokens", "", map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": tok}}}}, nil),
		http.StatusUnauthorized, "rescope an expired token")
	fresh := issueRaw(t, authURL, body)
	wantKeystoneError(t, rawCall(t, http.MethodGet, authURL+"/auth/tokens", fresh, nil, map[string]string{"X-Subject-Token": tok}),
		http.StatusNotFound, "validate an expired token")
}

func TestTamperedToken(t *testing.T) {
	c, admin := adminIdentity(t)
	tok := admin.ProviderClient.Token()
	if r := rawCall(t, http.MethodGet, c.AuthURL()+"/users", tok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("untampered token: %s", r)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct{ name, token string }{
		{"first character", flip(tok, 0)},
		{"middle character", flip(tok, len(tok)/2)},
		{"last character", flip(tok, len(tok)-1)},
		{"truncated", tok[:len(tok)-4]},
		{"extended", tok + "AAAA"},
		{"garbage", "not-a-token"},
		{"keystone uuid token", "0123456789abcdef0123456789abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token == tok {
				t.Fatal("token unchanged")
			}
			for _, path := range []string{"/users", "/projects", "/auth/catalog"} {
				wantKeystoneError(t, rawCall(t, http.MethodGet, c.AuthURL()+path, tt.token, nil, nil), http.StatusUnauthorized, path)
			}
			wantKeystoneError(t, rawCall(t, http.MethodGet, c.AuthURL()+"/auth/tokens", tok, nil, map[string]string{"X-Subject-Token": tt.token}),
				http.StatusNotFound, "validate a tampered subject token")
		})
	}
}

func TestRevokedTokenRefusedEverywhere(t *testing.T) {
	c, admin := adminIdentity(t)
	m := newMember(t, admin)
	tok := memberToken(t, c, m, m.Project.ID)
	admTok := issueRaw(t, c.AuthURL(), passwordAuthBody(map[string]any{"name": "admin", "domain": map[string]any{"id": defaultDomain}, "password": c.AdminPassword}, projectScopeBody(adminProjectID(t, c))))

	type route struct{ method, path string }
	routes := func(u, p string) []route {
		return []route{
			{"GET", "/auth/tokens"}, {"HEAD", "/auth/tokens"},
			{"GET", "/auth/catalog"}, {"GET", "/auth/projects"}, {"GET", "/auth/domains"}, {"GET", "/auth/system"},
			{"GET", "/projects/" + p}, {"GET", "/projects"}, {"POST", "/projects"}, {"PATCH", "/projects/" + p},
			{"GET", "/users/" + u}, {"GET", "/users"}, {"GET", "/users/" + u + "/projects"}, {"GET", "/users/" + u + "/groups"},
			{"GET", "/users/" + u + "/application_credentials"}, {"POST", "/users/" + u + "/application_credentials"},
			{"POST", "/users/" + u + "/password"},
			{"GET", "/domains"}, {"GET", "/domains/" + defaultDomain}, {"GET", "/groups"}, {"GET", "/roles"},
			{"GET", "/role_assignments"}, {"GET", "/regions"}, {"GET", "/services"}, {"GET", "/endpoints"},
			{"DELETE", "/auth/tokens"},
		}
	}
	for name, tc := range map[string]struct{ tok, user, project string }{
		"member": {tok, m.User.ID, m.Project.ID},
		"admin":  {admTok, m.User.ID, m.Project.ID},
	} {
		t.Run(name, func(t *testing.T) {
			if r := rawCall(t, http.MethodGet, c.AuthURL()+"/auth/catalog", tc.tok, nil, nil); r.status != http.StatusOK {
				t.Fatalf("before revocation: %s", r)
			}
			// The token revokes itself.
			r := rawCall(t, http.MethodDelete, c.AuthURL()+"/auth/tokens", tc.tok, nil, map[string]string{"X-Subject-Token": tc.tok})
			if r.status != http.StatusNoContent {
				t.Fatalf("revoke: %s", r)
			}
			waitUnauthorized(t, c, tc.tok, "/auth/catalog")
			for _, rt := range routes(tc.user, tc.project) {
				r := rawCall(t, rt.method, c.AuthURL()+rt.path, tc.tok, "{}", map[string]string{"X-Subject-Token": tc.tok})
				if rt.method == http.MethodHead {
					if r.status != http.StatusUnauthorized {
						t.Errorf("HEAD %s: %d, want 401", rt.path, r.status)
					}
					continue
				}
				if r.status != http.StatusUnauthorized {
					t.Errorf("%s %s: %s, want 401", rt.method, rt.path, r)
					continue
				}
				wantKeystoneError(t, r, http.StatusUnauthorized, rt.method+" "+rt.path)
			}
			wantKeystoneError(t, rawCall(t, http.MethodPost, c.AuthURL()+"/auth/tokens", "", map[string]any{"auth": map[string]any{
				"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": tc.tok}}}}, nil),
				http.StatusUnauthorized, "rescope a revoked token")
		})
	}
}

// adminProjectID finds the bootstrap admin project.
func adminProjectID(t *testing.T, c *Cloud) string {
	t.Helper()
	sc := c.Identity(t, c.AdminClient(t))
	page, err := projects.List(sc, projects.ListOpts{Name: "admin", DomainID: defaultDomain}).AllPages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := projects.ExtractProjects(page)
	if err != nil || len(ps) != 1 {
		t.Fatalf("admin project: %+v, %v", ps, err)
	}
	return ps[0].ID
}

func TestProjectIsolation(t *testing.T) {
	c, admin := adminIdentity(t)
	m := newMember(t, admin)
	b := createProject(t, admin, projects.CreateOpts{DomainID: defaultDomain})
	tok := memberToken(t, c, m, m.Project.ID)
	url := c.AuthURL()

	r := rawCall(t, http.MethodGet, url+"/projects/"+m.Project.ID, tok, nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), m.Project.ID) {
		t.Fatalf("own project: %s", r)
	}
	if r := rawCall(t, http.MethodGet, url+"/users/"+m.User.ID, tok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("own user: %s", r)
	}

	t.Run("the member's own project list", func(t *testing.T) {
		for _, path := range []string{"/auth/projects", "/users/" + m.User.ID + "/projects"} {
			r := rawCall(t, http.MethodGet, url+path, tok, nil, nil)
			var v struct {
				Projects []struct {
					ID string `json:"id"`
				} `json:"projects"`
			}
			if r.status != http.StatusOK || json.Unmarshal(r.body, &v) != nil || len(v.Projects) != 1 || v.Projects[0].ID != m.Project.ID {
				t.Errorf("GET %s: %s, want only project A", path, r)
			}
		}
		wantKeystoneError(t, rawCall(t, http.MethodGet, url+"/users/"+userID(t, admin, "admin")+"/projects", tok, nil, nil),
			http.StatusNotFound, "another user's projects")
	})

	t.Run("another project is not found", func(t *testing.T) {
		other := rawCall(t, http.MethodGet, url+"/projects/"+b.ID, tok, nil, nil)
		wantKeystoneError(t, other, http.StatusNotFound, "GET another project")
		missing := rawCall(t, http.MethodGet, url+"/projects/"+strings.Repeat("0", 32), tok, nil, nil)
		wantKeystoneError(t, missing, http.StatusNotFound, "GET a missing project")
		if !bytes.Equal(other.body, missing.body) {
			t.Errorf("another project and a missing one are told apart:\n%s\n%s", other.body, missing.body)
		}
		wantKeystoneError(t, rawCall(t, http.MethodGet, url+"/users/"+userID(t, admin, "admin"), tok, nil, nil), http.StatusNotFound, "GET another user")
	})

	t.Run("admin operations are forbidden", func(t *testing.T) {
		for _, op := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/users", nil},
			{"GET", "/projects", nil},
			{"POST", "/projects", map[string]any{"project": map[string]any{"name": uniq("project")}}},
			{"POST", "/users", map[string]any{"user": map[string]any{"name": uniq("user")}}},
			{"PATCH", "/projects/" + m.Project.ID, map[string]any{"project": map[string]any{"description": "mine now"}}},
			{"DELETE", "/projects/" + b.ID, nil},
			{"PUT", "/projects/" + m.Project.ID + "/users/" + m.User.ID + "/roles/" + roleID(t, admin, "admin"), nil},
			{"GET", "/role_assignments", nil},
			{"POST", "/domains", map[string]any{"domain": map[string]any{"name": uniq("domain")}}},
		} {
			wantKeystoneError(t, rawCall(t, op.method, url+op.path, tok, op.body, nil), http.StatusForbidden, op.method+" "+op.path)
		}
	})

	t.Run("scoping to a project without a role", func(t *testing.T) {
		r := rawCall(t, http.MethodPost, url+"/auth/tokens", "", passwordAuthBody(map[string]any{"id": m.User.ID, "password": m.Password}, projectScopeBody(b.ID)), nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, "scope to project B")
		if r.header.Get("X-Subject-Token") != "" {
			t.Error("a refused login returned a token")
		}
		r = rawCall(t, http.MethodPost, url+"/auth/tokens", "", map[string]any{"auth": map[string]any{
			"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": tok}},
			"scope":    projectScopeBody(b.ID)}}, nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, "rescope to project B")
		r = rawCall(t, http.MethodPost, url+"/auth/tokens", "", passwordAuthBody(map[string]any{"id": m.User.ID, "password": m.Password},
			map[string]any{"system": map[string]any{"all": true}}), nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, "scope to the system")
	})
}

// userID finds a user of the Default domain by name.
func userID(t *testing.T, sc *gophercloud.ServiceClient, name string) string {
	t.Helper()
	page, err := users.List(sc, users.ListOpts{Name: name, DomainID: defaultDomain}).AllPages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	us, err := users.ExtractUsers(page)
	if err != nil || len(us) != 1 {
		t.Fatalf("user %s: %+v, %v", name, us, err)
	}
	return us[0].ID
}

func TestForgedIdentityHeaders(t *testing.T) {
	c, admin := adminIdentity(t)
	m := newMember(t, admin)
	tok := memberToken(t, c, m, m.Project.ID)
	adminUser := userID(t, admin, "admin")
	adminProject := adminProjectID(t, c)
	forged := map[string]string{
		"X-Roles":                   "admin,member,reader",
		"X-Role":                    "admin",
		"X-User-Id":                 adminUser,
		"X-User-Name":               "admin",
		"X-Project-Id":              adminProject,
		"X-Project-Name":            "admin",
		"X-Tenant-Id":               adminProject,
		"X-Domain-Id":               defaultDomain,
		"X-Identity-Status":         "Confirmed",
		"X-Is-Admin-Project":        "True",
		"X-System-Scope":            "all",
		"X-Service-Roles":           "admin,service",
		"X-Service-Identity-Status": "Confirmed",
	}
	url := c.AuthURL()
	ops := []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/users", nil, http.StatusForbidden},
		{"GET", "/projects", nil, http.StatusForbidden},
		{"POST", "/projects", map[string]any{"project": map[string]any{"name": uniq("project")}}, http.StatusForbidden},
		{"GET", "/projects/" + adminProject, nil, http.StatusNotFound},
		{"GET", "/users/" + adminUser, nil, http.StatusNotFound},
	}
	t.Run("with a member token", func(t *testing.T) {
		for _, op := range ops {
			wantKeystoneError(t, rawCall(t, op.method, url+op.path, tok, op.body, forged), op.want, op.method+" "+op.path)
		}
		// The member's own view is unchanged too.
		if r := rawCall(t, http.MethodGet, url+"/projects/"+m.Project.ID, tok, nil, forged); r.status != http.StatusOK {
			t.Fatalf("own project with forged headers: %s", r)
		}
	})
	t.Run("without a token", func(t *testing.T) {
		for _, op := range ops {
			wantKeystoneError(t, rawCall(t, op.method, url+op.path, "", op.body, forged), http.StatusUnauthorized, op.method+" "+op.path)
		}
	})
	t.Run("no project was created", func(t *testing.T) {
		page, err := projects.List(admin, projects.ListOpts{Name: ops[2].body.(map[string]any)["project"].(map[string]any)["name"].(string)}).AllPages(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if ps, _ := projects.ExtractProjects(page); len(ps) != 0 {
			t.Fatalf("forged request created %+v", ps)
		}
	})
}

func TestFailedLoginIsUniform(t *testing.T) {
	c, admin := adminIdentity(t)
	m := newMember(t, admin)
	disabled := createUser(t, admin, users.CreateOpts{DomainID: defaultDomain, Password: "right-password", Enabled: ptr(false)})
	url := c.AuthURL() + "/auth/tokens"
	byName := func(name, password string) map[string]any {
		return passwordAuthBody(map[string]any{"name": name, "domain": map[string]any{"id": defaultDomain}, "password": password}, nil)
	}
	cases := []struct {
		name string
		body map[string]any
	}{
		{"wrong password by name", byName(m.User.Name, "wrong")},
		{"missing user by name", byName(uniq("nobody"), "wrong")},
		{"wrong password by id", passwordAuthBody(map[string]any{"id": m.User.ID, "password": "wrong"}, nil)},
		{"missing user by id", passwordAuthBody(map[string]any{"id": strings.Repeat("f", 32), "password": "wrong"}, nil)},
		{"missing domain", passwordAuthBody(map[string]any{"name": m.User.Name, "domain": map[string]any{"name": uniq("nodomain")}, "password": m.Password}, nil)},
		{"disabled user with the right password", byName(disabled.Name, "right-password")},
		{"empty password", byName(m.User.Name, "")},
		{"wrong password with a scope", passwordAuthBody(map[string]any{"id": m.User.ID, "password": "wrong"}, projectScopeBody(m.Project.ID))},
	}
	var first rawReply
	for i, tt := range cases {
		r := rawCall(t, http.MethodPost, url, "", tt.body, nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, tt.name)
		if r.header.Get("X-Subject-Token") != "" {
			t.Errorf("%s: a token was returned", tt.name)
		}
		if i == 0 {
			first = r
			continue
		}
		if !bytes.Equal(r.body, first.body) {
			t.Errorf("%s: body %s differs from %q's %s", tt.name, r.body, cases[0].name, first.body)
		}
	}
	// The right password still works: failures did not lock the user out.
	memberToken(t, c, m, m.Project.ID)
}

func TestMalformedAuthRequests(t *testing.T) {
	c := sharedCloud(t)
	url := c.AuthURL() + "/auth/tokens"
	big := `{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "` +
		strings.Repeat("A", 2<<20) + `"}}}}}`
	tests := []struct {
		name string
		body any
		want int
	}{
		{"malformed JSON", `{"auth": {"identity": `, http.StatusBadRequest},
		{"not an object", `["auth"]`, http.StatusBadRequest},
		{"empty body", "", http.StatusBadRequest},
		{"missing methods", `{"auth": {"identity": {"password": {"user": {"id": "x", "password": "y"}}}}}`, http.StatusBadRequest},
		{"empty methods", `{"auth": {"identity": {"methods": [], "password": {"user": {"id": "x", "password": "y"}}}}}`, http.StatusBadRequest},
		{"password method without password", `{"auth": {"identity": {"methods": ["password"]}}}`, http.StatusBadRequest},
		{"token method without token", `{"auth": {"identity": {"methods": ["token"]}}}`, http.StatusBadRequest},
		{"missing project name", passwordAuthBody(map[string]any{"name": "admin", "domain": map[string]any{"id": defaultDomain}, "password": c.AdminPassword},
			map[string]any{"project": map[string]any{"domain": map[string]any{"id": defaultDomain}}}), http.StatusBadRequest},
		{"missing project domain", passwordAuthBody(map[string]any{"name": "admin", "domain": map[string]any{"id": defaultDomain}, "password": c.AdminPassword},
			map[string]any{"project": map[string]any{"name": "admin"}}), http.StatusBadRequest},
		{"oversized body", big, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rawCall(t, http.MethodPost, url, "", tt.body, nil)
			wantKeystoneError(t, r, tt.want, tt.name)
			if r.header.Get("X-Subject-Token") != "" {
				t.Error("a token was returned")
			}
		})
	}
	t.Run("oversized body on an authenticated route", func(t *testing.T) {
		admin := c.AdminClient(t)
		r := rawCall(t, http.MethodPost, c.AuthURL()+"/projects", admin.Token(), `{"project": {"name": "`+strings.Repeat("A", 2<<20)+`"}}`, nil)
		wantKeystoneError(t, r, http.StatusRequestEntityTooLarge, "POST /projects with 2 MiB")
	})
}

func TestRevocationOnChanges(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	url := c.AuthURL()

	t.Run("disabling a user", func(t *testing.T) {
		m := newMember(t, admin)
		tok := memberToken(t, c, m, m.Project.ID)
		if _, err := users.Update(ctx, admin, m.User.ID, users.UpdateOpts{Enabled: ptr(false)}).Extract(); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, c, tok, "/projects/"+m.Project.ID)
		r := rawCall(t, http.MethodPost, url+"/auth/tokens", "", passwordAuthBody(map[string]any{"id": m.User.ID, "password": m.Password}, projectScopeBody(m.Project.ID)), nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, "log in while disabled")
		// Re-enabling lets the user in again, but the old token stays dead.
		if _, err := users.Update(ctx, admin, m.User.ID, users.UpdateOpts{Enabled: ptr(true)}).Extract(); err != nil {
			t.Fatal(err)
		}
		fresh := memberToken(t, c, m, m.Project.ID)
		if r := rawCall(t, http.MethodGet, url+"/projects/"+m.Project.ID, fresh, nil, nil); r.status != http.StatusOK {
			t.Fatalf("fresh token after re-enabling: %s", r)
		}
		wantKeystoneError(t, rawCall(t, http.MethodGet, url+"/projects/"+m.Project.ID, tok, nil, nil), http.StatusUnauthorized, "old token after re-enabling")
	})

	t.Run("disabling a project", func(t *testing.T) {
		m := newMember(t, admin)
		other := createProject(t, admin, projects.CreateOpts{DomainID: defaultDomain})
		assign(t, admin, roleID(t, admin, "member"), roles.AssignOpts{UserID: m.User.ID, ProjectID: other.ID})
		tok := memberToken(t, c, m, m.Project.ID)
		otherTok := memberToken(t, c, m, other.ID)
		if _, err := projects.Update(ctx, admin, m.Project.ID, projects.UpdateOpts{Enabled: ptr(false)}).Extract(); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, c, tok, "/auth/catalog")
		r := rawCall(t, http.MethodPost, url+"/auth/tokens", "", passwordAuthBody(map[string]any{"id": m.User.ID, "password": m.Password}, projectScopeBody(m.Project.ID)), nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, "scope to a disabled project")
		if r := rawCall(t, http.MethodGet, url+"/projects/"+other.ID, otherTok, nil, nil); r.status != http.StatusOK {
			t.Fatalf("token on another project: %s", r)
		}
	})

	t.Run("removing a role assignment", func(t *testing.T) {
		m := newMember(t, admin)
		other := createProject(t, admin, projects.CreateOpts{DomainID: defaultDomain})
		memberRole := roleID(t, admin, "member")
		assign(t, admin, memberRole, roles.AssignOpts{UserID: m.User.ID, ProjectID: other.ID})
		tok := memberToken(t, c, m, m.Project.ID)
		otherTok := memberToken(t, c, m, other.ID)
		if err := roles.Unassign(ctx, admin, memberRole, roles.UnassignOpts{UserID: m.User.ID, ProjectID: m.Project.ID}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, c, tok, "/projects/"+m.Project.ID)
		r := rawCall(t, http.MethodPost, url+"/auth/tokens", "", passwordAuthBody(map[string]any{"id": m.User.ID, "password": m.Password}, projectScopeBody(m.Project.ID)), nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, "scope after losing the role")
		if r := rawCall(t, http.MethodGet, url+"/projects/"+other.ID, otherTok, nil, nil); r.status != http.StatusOK {
			t.Fatalf("token on a project the user keeps: %s", r)
		}
	})

	t.Run("removing a user from a group that gave the role", func(t *testing.T) {
		m := newMember(t, admin)
		g := createGroup(t, admin, groups.CreateOpts{DomainID: defaultDomain})
		project := createProject(t, admin, projects.CreateOpts{DomainID: defaultDomain})
		assign(t, admin, roleID(t, admin, "reader"), roles.AssignOpts{GroupID: g.ID, ProjectID: project.ID})
		if err := users.AddToGroup(ctx, admin, g.ID, m.User.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		tok := memberToken(t, c, m, project.ID)
		if err := users.RemoveFromGroup(ctx, admin, g.ID, m.User.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitUnauthorized(t, c, tok, "/projects/"+project.ID)
		r := rawCall(t, http.MethodPost, url+"/auth/tokens", "", passwordAuthBody(map[string]any{"id": m.User.ID, "password": m.Password}, projectScopeBody(project.ID)), nil)
		wantKeystoneError(t, r, http.StatusUnauthorized, "scope after leaving the group")
	})
}

// TestNoCatalogQuery checks that ?nocatalog, as keystoneauth sends it (no
// value), leaves the catalog out of issued and validated tokens alike.
func TestNoCatalogQuery(t *testing.T) {
	c, admin := adminIdentity(t)
	body := passwordAuthBody(map[string]any{"name": "admin", "domain": map[string]any{"id": defaultDomain}, "password": c.AdminPassword},
		projectScopeBody(adminProjectID(t, c)))
	hasCatalog := func(r rawReply) bool {
		t.Helper()
		var v struct {
			Token map[string]json.RawMessage `json:"token"`
		}
		if err := json.Unmarshal(r.body, &v); err != nil || v.Token == nil {
			t.Fatalf("token body %s: %v", r.body, err)
		}
		_, ok := v.Token["catalog"]
		return ok
	}
	tok := admin.ProviderClient.Token()
	for _, tt := range []struct {
		query   string
		catalog bool
	}{{"", true}, {"?nocatalog", false}, {"?nocatalog=1", false}} {
		t.Run("query "+tt.query, func(t *testing.T) {
			r := rawCall(t, http.MethodPost, c.AuthURL()+"/auth/tokens"+tt.query, "", body, nil)
			if r.status != http.StatusCreated {
				t.Fatalf("issue: %s", r)
			}
			if got := hasCatalog(r); got != tt.catalog {
				t.Errorf("issued token has a catalog: %v, want %v", got, tt.catalog)
			}
			r = rawCall(t, http.MethodGet, c.AuthURL()+"/auth/tokens"+tt.query, tok, nil, map[string]string{"X-Subject-Token": tok})
			if r.status != http.StatusOK {
				t.Fatalf("validate: %s", r)
			}
			if got := hasCatalog(r); got != tt.catalog {
				t.Errorf("validated token has a catalog: %v, want %v", got, tt.catalog)
			}
		})
	}
}
