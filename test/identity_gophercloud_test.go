package test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/catalog"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/domains"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/endpoints"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/regions"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/services"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// This file drives the identity API only through gophercloud's identity v3
// packages, the way Go clients of kumo do. The cloud is shared, so every
// object gets a unique name and is deleted at the end of its test.

const defaultDomain = "default"

// uniq returns a name no other test (or earlier run) uses.
func uniq(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t-" + prefix + "-" + hex.EncodeToString(b[:])
}

func ptr[T any](v T) *T { return &v }

// adminIdentity is an identity client authenticated as the cloud admin.
func adminIdentity(t *testing.T) (*Cloud, *gophercloud.ServiceClient) {
	t.Helper()
	c := sharedCloud(t)
	return c, c.Identity(t, c.AdminClient(t))
}

// wantStatus fails unless err is gophercloud's error for the given status.
func wantStatus(t *testing.T, err error, status int, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want HTTP %d", what, status)
	}
	if !gophercloud.ResponseCodeIs(err, status) {
		t.Fatalf("%s: %v, want HTTP %d", what, err, status)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// selfLink checks a resource's links.self.
func selfLink(t *testing.T, links map[string]any, want string) {
	t.Helper()
	self, _ := links["self"].(string)
	if self == "" || !strings.HasSuffix(self, want) || !strings.HasPrefix(self, "http") {
		t.Errorf("links.self = %q, want an absolute URL ending in %q", self, want)
	}
}

func createProject(t *testing.T, sc *gophercloud.ServiceClient, opts projects.CreateOpts) *projects.Project {
	t.Helper()
	if opts.Name == "" {
		opts.Name = uniq("project")
	}
	p := must[*projects.Project](t, "create project")(projects.Create(t.Context(), sc, opts).Extract())
	t.Cleanup(func() {
		err := projects.Delete(context.Background(), sc, p.ID).ExtractErr()
		if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete project %s: %v", p.ID, err)
		}
	})
	return p
}

func createUser(t *testing.T, sc *gophercloud.ServiceClient, opts users.CreateOpts) *users.User {
	t.Helper()
	if opts.Name == "" {
		opts.Name = uniq("user")
	}
	u := must[*users.User](t, "create user")(users.Create(t.Context(), sc, opts).Extract())
	t.Cleanup(func() {
		err := users.Delete(context.Background(), sc, u.ID).ExtractErr()
		if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete user %s: %v", u.ID, err)
		}
	})
	return u
}

func createGroup(t *testing.T, sc *gophercloud.ServiceClient, opts groups.CreateOpts) *groups.Group {
	t.Helper()
	if opts.Name == "" {
		opts.Name = uniq("group")
	}
	g := must[*groups.Group](t, "create group")(groups.Create(t.Context(), sc, opts).Extract())
	t.Cleanup(func() {
		err := groups.Delete(context.Background(), sc, g.ID).ExtractErr()
		if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete group %s: %v", g.ID, err)
		}
	})
	return g
}

func createDomain(t *testing.T, sc *gophercloud.ServiceClient, opts domains.CreateOpts) *domains.Domain {
	t.Helper()
	if opts.Name == "" {
		opts.Name = uniq("domain")
	}
	d := must[*domains.Domain](t, "create domain")(domains.Create(t.Context(), sc, opts).Extract())
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = domains.Update(ctx, sc, d.ID, domains.UpdateOpts{Enabled: ptr(false)}).Extract()
		err := domains.Delete(ctx, sc, d.ID).ExtractErr()
		if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete domain %s: %v", d.ID, err)
		}
	})
	return d
}

// roleID finds a role by name.
func roleID(t *testing.T, sc *gophercloud.ServiceClient, name string) string {
	t.Helper()
	page := must[pagination.Page](t, "list roles")(roles.List(sc, roles.ListOpts{Name: name}).AllPages(t.Context()))
	rs := must[[]roles.Role](t, "extract roles")(roles.ExtractRoles(page))
	if len(rs) != 1 || rs[0].Name != name {
		t.Fatalf("roles named %q: %+v", name, rs)
	}
	return rs[0].ID
}

func assign(t *testing.T, sc *gophercloud.ServiceClient, role string, opts roles.AssignOpts) {
	t.Helper()
	if err := roles.Assign(t.Context(), sc, role, opts).ExtractErr(); err != nil {
		t.Fatalf("assign role %s %+v: %v", role, opts, err)
	}
}

// member is a fresh user holding the member role on a fresh project.
type member struct {
	User     *users.User
	Password string
	Project  *projects.Project
}

func newMember(t *testing.T, sc *gophercloud.ServiceClient) member {
	t.Helper()
	m := member{Password: "pw-" + uniq("secret")}
	m.Project = createProject(t, sc, projects.CreateOpts{DomainID: defaultDomain})
	m.User = createUser(t, sc, users.CreateOpts{DomainID: defaultDomain, Password: m.Password})
	assign(t, sc, roleID(t, sc, "member"), roles.AssignOpts{UserID: m.User.ID, ProjectID: m.Project.ID})
	return m
}

// authOpts are the options to log in as m scoped to project.
func (m member) authOpts(c *Cloud, project string) gophercloud.AuthOptions {
	return gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL(), UserID: m.User.ID, Password: m.Password,
		Scope: &gophercloud.AuthScope{ProjectID: project}}
}

// login authenticates with gophercloud's AuthenticatedClient and returns the
// error instead of failing the test.
func login(t *testing.T, opts gophercloud.AuthOptions) (*gophercloud.ProviderClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return openstack.AuthenticatedClient(ctx, opts)
}

func TestGophercloudTokens(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	m := newMember(t, admin)
	userPC := c.Client(t, m.authOpts(c, m.Project.ID))
	userSC := c.Identity(t, userPC)

	t.Run("get returns the token's user, project, roles and catalog", func(t *testing.T) {
		res := tokens.Get(ctx, admin, userPC.Token())
		tok := must[*tokens.Token](t, "extract token")(res.ExtractToken())
		if tok.ID != userPC.Token() {
			t.Errorf("token id = %q, want the subject token", tok.ID)
		}
		if !tok.ExpiresAt.After(time.Now()) {
			t.Errorf("expires_at %s is not in the future", tok.ExpiresAt)
		}
		user := must[*tokens.User](t, "extract user")(res.ExtractUser())
		if user.ID != m.User.ID || user.Name != m.User.Name || user.Domain.ID != defaultDomain || user.Domain.Name != "Default" {
			t.Errorf("user = %+v", user)
		}
		project := must[*tokens.Project](t, "extract project")(res.ExtractProject())
		if project.ID != m.Project.ID || project.Name != m.Project.Name || project.Domain.ID != defaultDomain {
			t.Errorf("project = %+v", project)
		}
		var names []string
		for _, r := range must[[]tokens.Role](t, "extract roles")(res.ExtractRoles()) {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"member", "reader"}) {
			t.Errorf("roles = %v, want member and its implied reader", names)
		}
		cat := must[*tokens.ServiceCatalog](t, "extract catalog")(res.ExtractServiceCatalog())
		if len(cat.Entries) == 0 {
			t.Error("token has an empty catalog")
		}
	})

	t.Run("a user validates their own token but not another's", func(t *testing.T) {
		if ok, err := tokens.Validate(ctx, userSC, userPC.Token()); err != nil || !ok {
			t.Fatalf("validate own token = %v, %v", ok, err)
		}
		admTok := admin.ProviderClient.Token()
		_, err := tokens.Validate(ctx, userSC, admTok)
		wantStatus(t, err, http.StatusForbidden, "member validating the admin's token")
	})

	t.Run("revoke makes validate false and get 404", func(t *testing.T) {
		res := tokens.Create(ctx, admin, &tokens.AuthOptions{UserID: m.User.ID, Password: m.Password,
			Scope: tokens.Scope{ProjectID: m.Project.ID}})
		extra := must[string](t, "issue token")(res.ExtractTokenID())
		if ok, err := tokens.Validate(ctx, admin, extra); err != nil || !ok {
			t.Fatalf("fresh token: validate = %v, %v", ok, err)
		}
		if err := tokens.Revoke(ctx, admin, extra).Err; err != nil {
			t.Fatal(err)
		}
		if ok, err := tokens.Validate(ctx, admin, extra); err != nil || ok {
			t.Fatalf("revoked token: validate = %v, %v", ok, err)
		}
		wantStatus(t, tokens.Get(ctx, admin, extra).Err, http.StatusNotFound, "get a revoked token")
		// Other tokens of the same user are unaffected.
		if ok, err := tokens.Validate(ctx, admin, userPC.Token()); err != nil || !ok {
			t.Fatalf("sibling token: validate = %v, %v", ok, err)
		}
	})

	t.Run("a user revokes their own token", func(t *testing.T) {
		pc := c.Client(t, m.authOpts(c, m.Project.ID))
		sc := c.Identity(t, pc)
		if err := tokens.Revoke(ctx, sc, pc.Token()).Err; err != nil {
			t.Fatal(err)
		}
		_, err := projects.Get(ctx, sc, m.Project.ID).Extract()
		wantStatus(t, err, http.StatusUnauthorized, "use a token after revoking it")
	})

	t.Run("rescoping with a token keeps the user", func(t *testing.T) {
		res := tokens.Create(ctx, admin, &tokens.AuthOptions{TokenID: userPC.Token(), Scope: tokens.Scope{ProjectID: m.Project.ID}})
		user := must[*tokens.User](t, "extract user")(res.ExtractUser())
		if user.ID != m.User.ID {
			t.Errorf("rescoped token user = %+v", user)
		}
	})
}

func TestGophercloudDomains(t *testing.T) {
	_, sc := adminIdentity(t)
	ctx := t.Context()
	tests := []struct {
		name    string
		opts    domains.CreateOpts
		enabled bool
	}{
		{"enabled by default", domains.CreateOpts{Description: "a test domain"}, true},
		{"created disabled", domains.CreateOpts{Enabled: ptr(false)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := createDomain(t, sc, tt.opts)
			if d.ID == "" || !strings.HasPrefix(d.Name, "t-domain-") || d.Description != tt.opts.Description || d.Enabled != tt.enabled {
				t.Fatalf("created %+v", d)
			}
			selfLink(t, d.Links, "/identity/v3/domains/"+d.ID)

			got := must[*domains.Domain](t, "get domain")(domains.Get(ctx, sc, d.ID).Extract())
			if got.ID != d.ID || got.Name != d.Name || got.Enabled != tt.enabled || got.Description != d.Description {
				t.Errorf("get = %+v, want %+v", got, d)
			}

			page := must[pagination.Page](t, "list domains")(domains.List(sc, domains.ListOpts{Name: d.Name}).AllPages(ctx))
			list := must[[]domains.Domain](t, "extract domains")(domains.ExtractDomains(page))
			if len(list) != 1 || list[0].ID != d.ID {
				t.Errorf("list by name = %+v", list)
			}

			desc := "updated"
			up := must[*domains.Domain](t, "update domain")(domains.Update(ctx, sc, d.ID, domains.UpdateOpts{Description: &desc, Enabled: ptr(!tt.enabled)}).Extract())
			if up.Description != desc || up.Enabled == tt.enabled || up.Name != d.Name {
				t.Errorf("updated = %+v", up)
			}
		})
	}

	t.Run("an enabled domain cannot be deleted", func(t *testing.T) {
		d := createDomain(t, sc, domains.CreateOpts{})
		wantStatus(t, domains.Delete(ctx, sc, d.ID).ExtractErr(), http.StatusForbidden, "delete an enabled domain")
		must[*domains.Domain](t, "disable")(domains.Update(ctx, sc, d.ID, domains.UpdateOpts{Enabled: ptr(false)}).Extract())
		if err := domains.Delete(ctx, sc, d.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err := domains.Get(ctx, sc, d.ID).Extract()
		wantStatus(t, err, http.StatusNotFound, "get a deleted domain")
	})

	t.Run("duplicate name conflicts", func(t *testing.T) {
		d := createDomain(t, sc, domains.CreateOpts{})
		_, err := domains.Create(ctx, sc, domains.CreateOpts{Name: d.Name}).Extract()
		wantStatus(t, err, http.StatusConflict, "create a domain with a taken name")
	})
}

func TestGophercloudProjects(t *testing.T) {
	_, sc := adminIdentity(t)
	ctx := t.Context()
	dom := createDomain(t, sc, domains.CreateOpts{})
	parent := createProject(t, sc, projects.CreateOpts{DomainID: dom.ID, Description: "parent", Tags: []string{"a", "b"}})
	child := createProject(t, sc, projects.CreateOpts{ParentID: parent.ID})
	disabled := createProject(t, sc, projects.CreateOpts{DomainID: defaultDomain, Enabled: ptr(false)})

	tests := []struct {
		name                          string
		p                             *projects.Project
		domain, parentID, description string
		enabled                       bool
		tags                          []string
	}{
		{"top level", parent, dom.ID, dom.ID, "parent", true, []string{"a", "b"}},
		{"child inherits the parent's domain", child, dom.ID, parent.ID, "", true, nil},
		{"created disabled", disabled, defaultDomain, defaultDomain, "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []*projects.Project{tt.p, must[*projects.Project](t, "get")(projects.Get(ctx, sc, tt.p.ID).Extract())} {
				if p.ID != tt.p.ID || !strings.HasPrefix(p.Name, "t-project-") || p.DomainID != tt.domain ||
					p.ParentID != tt.parentID || p.Enabled != tt.enabled || p.Description != tt.description || p.IsDomain {
					t.Errorf("project = %+v", p)
				}
				if len(tt.tags) > 0 && !slices.Equal(p.Tags, tt.tags) {
					t.Errorf("tags = %v, want %v", p.Tags, tt.tags)
				}
			}
		})
	}

	t.Run("list filters", func(t *testing.T) {
		cases := []struct {
			name string
			opts projects.ListOpts
			want []string
		}{
			{"by domain", projects.ListOpts{DomainID: dom.ID}, []string{parent.ID, child.ID}},
			{"by parent", projects.ListOpts{ParentID: parent.ID}, []string{child.ID}},
			{"by name", projects.ListOpts{Name: child.Name}, []string{child.ID}},
			{"disabled in default", projects.ListOpts{DomainID: defaultDomain, Enabled: ptr(false), Name: disabled.Name}, []string{disabled.ID}},
		}
		for _, cs := range cases {
			t.Run(cs.name, func(t *testing.T) {
				page := must[pagination.Page](t, "list")(projects.List(sc, cs.opts).AllPages(ctx))
				var got []string
				for _, p := range must[[]projects.Project](t, "extract")(projects.ExtractProjects(page)) {
					got = append(got, p.ID)
				}
				slices.Sort(got)
				want := slices.Sorted(slices.Values(cs.want))
				if !slices.Equal(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
			})
		}
	})

	t.Run("update", func(t *testing.T) {
		desc, tags := "renamed", []string{"x"}
		name := uniq("project")
		up := must[*projects.Project](t, "update")(projects.Update(ctx, sc, child.ID, projects.UpdateOpts{Name: name, Description: &desc, Tags: &tags, Enabled: ptr(false)}).Extract())
		if up.Name != name || up.Description != desc || !slices.Equal(up.Tags, tags) || up.Enabled || up.ParentID != parent.ID || up.DomainID != dom.ID {
			t.Errorf("updated = %+v", up)
		}
		_, err := projects.Update(ctx, sc, child.ID, projects.UpdateOpts{DomainID: defaultDomain}).Extract()
		wantStatus(t, err, http.StatusBadRequest, "move a project to another domain")
	})

	t.Run("delete", func(t *testing.T) {
		p := createProject(t, sc, projects.CreateOpts{})
		if err := projects.Delete(ctx, sc, p.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err := projects.Get(ctx, sc, p.ID).Extract()
		wantStatus(t, err, http.StatusNotFound, "get a deleted project")
	})

	t.Run("bad requests", func(t *testing.T) {
		_, err := projects.Create(ctx, sc, projects.CreateOpts{Name: uniq("project"), DomainID: "no-such-domain"}).Extract()
		wantStatus(t, err, http.StatusBadRequest, "create in a missing domain")
		_, err = projects.Create(ctx, sc, projects.CreateOpts{Name: uniq("project"), ParentID: "no-such-project"}).Extract()
		wantStatus(t, err, http.StatusNotFound, "create under a missing parent")
		_, err = projects.Create(ctx, sc, projects.CreateOpts{Name: parent.Name, DomainID: dom.ID}).Extract()
		wantStatus(t, err, http.StatusConflict, "create with a taken name")
	})
}

func TestGophercloudUsersAndGroups(t *testing.T) {
	_, sc := adminIdentity(t)
	ctx := t.Context()
	dom := createDomain(t, sc, domains.CreateOpts{})
	project := createProject(t, sc, projects.CreateOpts{DomainID: dom.ID})

	tests := []struct {
		name    string
		opts    users.CreateOpts
		domain  string
		enabled bool
	}{
		{"default domain", users.CreateOpts{DomainID: defaultDomain, Password: "secret-1"}, defaultDomain, true},
		{"own domain with default project", users.CreateOpts{DomainID: dom.ID, DefaultProjectID: project.ID}, dom.ID, true},
		{"disabled", users.CreateOpts{DomainID: defaultDomain, Enabled: ptr(false)}, defaultDomain, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := createUser(t, sc, tt.opts)
			for _, got := range []*users.User{u, must[*users.User](t, "get")(users.Get(ctx, sc, u.ID).Extract())} {
				if got.ID != u.ID || !strings.HasPrefix(got.Name, "t-user-") || got.DomainID != tt.domain ||
					got.Enabled != tt.enabled || got.DefaultProjectID != tt.opts.DefaultProjectID {
					t.Errorf("user = %+v", got)
				}
				if _, leaked := got.Extra["password"]; leaked {
					t.Errorf("user shows its password: %+v", got.Extra)
				}
				selfLink(t, got.Links, "/identity/v3/users/"+u.ID)
			}
			page := must[pagination.Page](t, "list")(users.List(sc, users.ListOpts{Name: u.Name, DomainID: tt.domain}).AllPages(ctx))
			list := must[[]users.User](t, "extract")(users.ExtractUsers(page))
			if len(list) != 1 || list[0].ID != u.ID {
				t.Errorf("list by name = %+v", list)
			}
			name := uniq("user")
			up := must[*users.User](t, "update")(users.Update(ctx, sc, u.ID, users.UpdateOpts{Name: name, Enabled: ptr(!tt.enabled)}).Extract())
			if up.Name != name || up.Enabled == tt.enabled || up.DomainID != tt.domain {
				t.Errorf("updated = %+v", up)
			}
		})
	}

	t.Run("groups and membership", func(t *testing.T) {
		g := createGroup(t, sc, groups.CreateOpts{DomainID: dom.ID, Description: "testers"})
		got := must[*groups.Group](t, "get group")(groups.Get(ctx, sc, g.ID).Extract())
		if got.ID != g.ID || got.Name != g.Name || got.DomainID != dom.ID || got.Description != "testers" {
			t.Errorf("group = %+v", got)
		}
		selfLink(t, got.Links, "/identity/v3/groups/"+g.ID)
		page := must[pagination.Page](t, "list groups")(groups.List(sc, groups.ListOpts{DomainID: dom.ID}).AllPages(ctx))
		gs := must[[]groups.Group](t, "extract groups")(groups.ExtractGroups(page))
		if len(gs) != 1 || gs[0].ID != g.ID {
			t.Errorf("groups in domain = %+v", gs)
		}
		desc := "renamed"
		up := must[*groups.Group](t, "update group")(groups.Update(ctx, sc, g.ID, groups.UpdateOpts{Description: &desc}).Extract())
		if up.Description != desc || up.Name != g.Name {
			t.Errorf("updated group = %+v", up)
		}

		u := createUser(t, sc, users.CreateOpts{DomainID: dom.ID})
		isMember := func() bool {
			t.Helper()
			return must[bool](t, "is member")(users.IsMemberOfGroup(ctx, sc, g.ID, u.ID).Extract())
		}
		if isMember() {
			t.Fatal("member before being added")
		}
		if err := users.AddToGroup(ctx, sc, g.ID, u.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if !isMember() {
			t.Fatal("not a member after being added")
		}
		page = must[pagination.Page](t, "list user groups")(users.ListGroups(sc, u.ID).AllPages(ctx))
		ugs := must[[]groups.Group](t, "extract")(groups.ExtractGroups(page))
		if len(ugs) != 1 || ugs[0].ID != g.ID || ugs[0].Name != g.Name {
			t.Errorf("user's groups = %+v", ugs)
		}
		page = must[pagination.Page](t, "list group users")(users.ListInGroup(sc, g.ID, nil).AllPages(ctx))
		gus := must[[]users.User](t, "extract")(users.ExtractUsers(page))
		if len(gus) != 1 || gus[0].ID != u.ID {
			t.Errorf("group's users = %+v", gus)
		}
		if err := users.RemoveFromGroup(ctx, sc, g.ID, u.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if isMember() {
			t.Fatal("still a member after removal")
		}
		err := users.AddToGroup(ctx, sc, g.ID, "no-such-user").ExtractErr()
		wantStatus(t, err, http.StatusNotFound, "add a missing user to a group")
	})

	t.Run("delete", func(t *testing.T) {
		u := createUser(t, sc, users.CreateOpts{})
		if err := users.Delete(ctx, sc, u.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err := users.Get(ctx, sc, u.ID).Extract()
		wantStatus(t, err, http.StatusNotFound, "get a deleted user")
	})
}

func TestGophercloudRoleAssignments(t *testing.T) {
	_, sc := adminIdentity(t)
	ctx := t.Context()

	role := must[*roles.Role](t, "create role")(roles.Create(ctx, sc, roles.CreateOpts{Name: uniq("role"), Description: "test role"}).Extract())
	t.Cleanup(func() { _ = roles.Delete(context.Background(), sc, role.ID).ExtractErr() })
	got := must[*roles.Role](t, "get role")(roles.Get(ctx, sc, role.ID).Extract())
	if got.ID != role.ID || got.Name != role.Name || got.Description != "test role" || got.DomainID != "" {
		t.Fatalf("role = %+v", got)
	}
	selfLink(t, got.Links, "/identity/v3/roles/"+role.ID)
	if id := roleID(t, sc, role.Name); id != role.ID {
		t.Fatalf("role by name = %s", id)
	}

	dom := createDomain(t, sc, domains.CreateOpts{})
	project := createProject(t, sc, projects.CreateOpts{DomainID: dom.ID})
	user := createUser(t, sc, users.CreateOpts{DomainID: dom.ID})
	group := createGroup(t, sc, groups.CreateOpts{DomainID: dom.ID})
	if err := users.AddToGroup(ctx, sc, group.ID, user.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}

	grants := []struct {
		name string
		opts roles.AssignOpts
	}{
		{"user on project", roles.AssignOpts{UserID: user.ID, ProjectID: project.ID}},
		{"user on domain", roles.AssignOpts{UserID: user.ID, DomainID: dom.ID}},
		{"group on project", roles.AssignOpts{GroupID: group.ID, ProjectID: project.ID}},
		{"group on domain", roles.AssignOpts{GroupID: group.ID, DomainID: dom.ID}},
	}
	for _, g := range grants {
		assign(t, sc, role.ID, g.opts)
		if err := roles.Validate(ctx, sc, role.ID, roles.ValidateOpts(g.opts)).ExtractErr(); err != nil {
			t.Fatalf("%s: check grant: %v", g.name, err)
		}
	}

	type key struct{ user, group, project, domain string }
	list := func(t *testing.T, opts roles.ListAssignmentsOpts) []key {
		t.Helper()
		opts.RoleID = role.ID
		page := must[pagination.Page](t, "list assignments")(roles.ListAssignments(sc, opts).AllPages(ctx))
		var out []key
		for _, a := range must[[]roles.RoleAssignment](t, "extract")(roles.ExtractRoleAssignments(page)) {
			if a.Role.ID != role.ID {
				t.Errorf("assignment of role %s, filtered on %s", a.Role.ID, role.ID)
			}
			out = append(out, key{a.User.ID, a.Group.ID, a.Scope.Project.ID, a.Scope.Domain.ID})
		}
		slices.SortFunc(out, func(a, b key) int {
			return strings.Compare(a.user+a.group+a.project+a.domain, b.user+b.group+b.project+b.domain)
		})
		return out
	}
	sorted := func(ks ...key) []key {
		slices.SortFunc(ks, func(a, b key) int {
			return strings.Compare(a.user+a.group+a.project+a.domain, b.user+b.group+b.project+b.domain)
		})
		return ks
	}
	filters := []struct {
		name string
		opts roles.ListAssignmentsOpts
		want []key
	}{
		{"role only", roles.ListAssignmentsOpts{}, sorted(
			key{user: user.ID, project: project.ID}, key{user: user.ID, domain: dom.ID},
			key{group: group.ID, project: project.ID}, key{group: group.ID, domain: dom.ID})},
		{"user", roles.ListAssignmentsOpts{UserID: user.ID}, sorted(
			key{user: user.ID, project: project.ID}, key{user: user.ID, domain: dom.ID})},
		{"group", roles.ListAssignmentsOpts{GroupID: group.ID}, sorted(
			key{group: group.ID, project: project.ID}, key{group: group.ID, domain: dom.ID})},
		{"project", roles.ListAssignmentsOpts{ScopeProjectID: project.ID}, sorted(
			key{user: user.ID, project: project.ID}, key{group: group.ID, project: project.ID})},
		{"domain", roles.ListAssignmentsOpts{ScopeDomainID: dom.ID}, sorted(
			key{user: user.ID, domain: dom.ID}, key{group: group.ID, domain: dom.ID})},
		{"user on project", roles.ListAssignmentsOpts{UserID: user.ID, ScopeProjectID: project.ID}, sorted(
			key{user: user.ID, project: project.ID})},
		// Effective assignments name the user for what the group gives.
		{"effective for user on project", roles.ListAssignmentsOpts{UserID: user.ID, ScopeProjectID: project.ID, Effective: ptr(true)}, sorted(
			key{user: user.ID, project: project.ID}, key{user: user.ID, project: project.ID})},
	}
	for _, f := range filters {
		t.Run("list "+f.name, func(t *testing.T) {
			if got := list(t, f.opts); !slices.Equal(got, f.want) {
				t.Errorf("got %+v\nwant %+v", got, f.want)
			}
		})
	}

	t.Run("include names", func(t *testing.T) {
		page := must[pagination.Page](t, "list")(roles.ListAssignments(sc, roles.ListAssignmentsOpts{
			UserID: user.ID, ScopeProjectID: project.ID, RoleID: role.ID, IncludeNames: ptr(true)}).AllPages(ctx))
		as := must[[]roles.RoleAssignment](t, "extract")(roles.ExtractRoleAssignments(page))
		if len(as) != 1 {
			t.Fatalf("assignments = %+v", as)
		}
		a := as[0]
		if a.Role.Name != role.Name || a.User.Name != user.Name || a.User.Domain.ID != dom.ID ||
			a.Scope.Project.Name != project.Name || a.Scope.Project.Domain.ID != dom.ID {
			t.Errorf("assignment with names = %+v", a)
		}
	})

	t.Run("grants on a resource", func(t *testing.T) {
		page := must[pagination.Page](t, "list")(roles.ListAssignmentsOnResource(sc, roles.ListAssignmentsOnResourceOpts{
			UserID: user.ID, ProjectID: project.ID}).AllPages(ctx))
		rs := must[[]roles.Role](t, "extract")(roles.ExtractRoles(page))
		if len(rs) != 1 || rs[0].ID != role.ID || rs[0].Name != role.Name {
			t.Errorf("roles of the user on the project = %+v", rs)
		}
	})

	t.Run("user's projects", func(t *testing.T) {
		page := must[pagination.Page](t, "list")(users.ListProjects(sc, user.ID).AllPages(ctx))
		ps := must[[]projects.Project](t, "extract")(projects.ExtractProjects(page))
		if len(ps) != 1 || ps[0].ID != project.ID || ps[0].Name != project.Name || ps[0].DomainID != dom.ID {
			t.Errorf("user's projects = %+v", ps)
		}
	})

	t.Run("unassign", func(t *testing.T) {
		for _, g := range grants {
			if err := roles.Unassign(ctx, sc, role.ID, roles.UnassignOpts(g.opts)).ExtractErr(); err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			err := roles.Validate(ctx, sc, role.ID, roles.ValidateOpts(g.opts)).ExtractErr()
			wantStatus(t, err, http.StatusNotFound, g.name+": check a removed grant")
		}
		if got := list(t, roles.ListAssignmentsOpts{}); len(got) != 0 {
			t.Errorf("assignments left: %+v", got)
		}
	})

	t.Run("update and delete role", func(t *testing.T) {
		r := must[*roles.Role](t, "create")(roles.Create(ctx, sc, roles.CreateOpts{Name: uniq("role")}).Extract())
		name := uniq("role")
		up := must[*roles.Role](t, "update")(roles.Update(ctx, sc, r.ID, roles.UpdateOpts{Name: name}).Extract())
		if up.Name != name || up.ID != r.ID {
			t.Errorf("updated = %+v", up)
		}
		if err := roles.Delete(ctx, sc, r.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err := roles.Get(ctx, sc, r.ID).Extract()
		wantStatus(t, err, http.StatusNotFound, "get a deleted role")
	})
}

func TestGophercloudApplicationCredentials(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	m := newMember(t, admin)
	userPC := c.Client(t, m.authOpts(c, m.Project.ID))
	sc := c.Identity(t, userPC)
	member, reader := roleID(t, admin, "member"), roleID(t, admin, "reader")

	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	tests := []struct {
		name    string
		opts    applicationcredentials.CreateOpts
		roles   []string
		expires bool
	}{
		{"all the creator's roles", applicationcredentials.CreateOpts{Description: "everything"}, []string{member, reader}, false},
		{"reader only, expiring", applicationcredentials.CreateOpts{Roles: []applicationcredentials.Role{{Name: "reader"}}, ExpiresAt: &expires}, []string{reader}, true},
		{"own secret", applicationcredentials.CreateOpts{Secret: "my-own-secret-" + uniq("s"), Roles: []applicationcredentials.Role{{ID: member}}}, []string{member}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Name = uniq("appcred")
			ac := must[*applicationcredentials.ApplicationCredential](t, "create")(applicationcredentials.Create(ctx, sc, m.User.ID, tt.opts).Extract())
			t.Cleanup(func() { _ = applicationcredentials.Delete(context.Background(), sc, m.User.ID, ac.ID).ExtractErr() })
			if ac.Secret == "" || (tt.opts.Secret != "" && ac.Secret != tt.opts.Secret) {
				t.Errorf("secret = %q", ac.Secret)
			}
			check := func(what string, got *applicationcredentials.ApplicationCredential) {
				t.Helper()
				var ids []string
				for _, r := range got.Roles {
					ids = append(ids, r.ID)
				}
				slices.Sort(ids)
				if got.ID != ac.ID || got.Name != tt.opts.Name || got.ProjectID != m.Project.ID || got.Unrestricted ||
					got.Description != tt.opts.Description || !slices.Equal(ids, slices.Sorted(slices.Values(tt.roles))) {
					t.Errorf("%s = %+v", what, got)
				}
				if tt.expires != !got.ExpiresAt.IsZero() || (tt.expires && !got.ExpiresAt.Equal(expires)) {
					t.Errorf("%s expires_at = %v, want %v", what, got.ExpiresAt, expires)
				}
				selfLink(t, got.Links, "/identity/v3/users/"+m.User.ID+"/application_credentials/"+ac.ID)
			}
			check("created", ac)
			got := must[*applicationcredentials.ApplicationCredential](t, "get")(applicationcredentials.Get(ctx, sc, m.User.ID, ac.ID).Extract())
			check("get", got)
			if got.Secret != "" {
				t.Errorf("get shows the secret")
			}
			page := must[pagination.Page](t, "list")(applicationcredentials.List(sc, m.User.ID, applicationcredentials.ListOpts{Name: tt.opts.Name}).AllPages(ctx))
			list := must[[]applicationcredentials.ApplicationCredential](t, "extract")(applicationcredentials.ExtractApplicationCredentials(page))
			if len(list) != 1 {
				t.Fatalf("list by name = %+v", list)
			}
			check("listed", &list[0])

			for _, auth := range []struct {
				name string
				opts gophercloud.AuthOptions
			}{
				{"by id", gophercloud.AuthOptions{ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret}},
				{"by name and user id", gophercloud.AuthOptions{ApplicationCredentialName: ac.Name, ApplicationCredentialSecret: ac.Secret, UserID: m.User.ID}},
				{"by name and user name", gophercloud.AuthOptions{ApplicationCredentialName: ac.Name, ApplicationCredentialSecret: ac.Secret, Username: m.User.Name, DomainName: "Default"}},
			} {
				t.Run("authenticate "+auth.name, func(t *testing.T) {
					auth.opts.IdentityEndpoint = c.AuthURL()
					pc := c.Client(t, auth.opts)
					res := tokens.Get(ctx, admin, pc.Token())
					if p := must[*tokens.Project](t, "project")(res.ExtractProject()); p.ID != m.Project.ID {
						t.Errorf("app cred token scoped to %+v", p)
					}
					if u := must[*tokens.User](t, "user")(res.ExtractUser()); u.ID != m.User.ID {
						t.Errorf("app cred token of %+v", u)
					}
					var ids []string
					for _, r := range must[[]tokens.Role](t, "roles")(res.ExtractRoles()) {
						ids = append(ids, r.ID)
					}
					slices.Sort(ids)
					if !slices.Equal(ids, slices.Sorted(slices.Values(tt.roles))) {
						t.Errorf("app cred token roles = %v, want %v", ids, tt.roles)
					}
					wrong := auth.opts
					wrong.ApplicationCredentialSecret += "x"
					_, err := login(t, wrong)
					wantStatus(t, err, http.StatusUnauthorized, "wrong secret")
				})
			}

			pc := c.Client(t, gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL(), ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret})
			if err := applicationcredentials.Delete(ctx, sc, m.User.ID, ac.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			_, err := applicationcredentials.Get(ctx, sc, m.User.ID, ac.ID).Extract()
			wantStatus(t, err, http.StatusNotFound, "get a deleted app cred")
			_, err = login(t, gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL(), ApplicationCredentialID: ac.ID, ApplicationCredentialSecret: ac.Secret})
			wantStatus(t, err, http.StatusUnauthorized, "authenticate with a deleted app cred")
			if ok, err := tokens.Validate(ctx, admin, pc.Token()); err != nil || ok {
				t.Errorf("token of a deleted app cred: validate = %v, %v", ok, err)
			}
		})
	}

	t.Run("a role the user lacks is refused", func(t *testing.T) {
		_, err := applicationcredentials.Create(ctx, sc, m.User.ID, applicationcredentials.CreateOpts{
			Name: uniq("appcred"), Roles: []applicationcredentials.Role{{Name: "admin"}}}).Extract()
		wantStatus(t, err, http.StatusBadRequest, "delegate admin")
	})

	t.Run("another user's credentials are out of reach", func(t *testing.T) {
		other := newMember(t, admin)
		_, err := applicationcredentials.Create(ctx, sc, other.User.ID, applicationcredentials.CreateOpts{Name: uniq("appcred")}).Extract()
		wantStatus(t, err, http.StatusForbidden, "create for another user")
		err = applicationcredentials.List(sc, other.User.ID, nil).EachPage(ctx, func(context.Context, pagination.Page) (bool, error) { return true, nil })
		// Another user's resources are invisible rather than forbidden.
		wantStatus(t, err, http.StatusNotFound, "list another user's")
	})
}

func TestGophercloudCatalog(t *testing.T) {
	_, sc := adminIdentity(t)
	ctx := t.Context()

	listCatalog := func(t *testing.T) []tokens.CatalogEntry {
		t.Helper()
		page := must[pagination.Page](t, "catalog")(catalog.List(sc).AllPages(ctx))
		return must[[]tokens.CatalogEntry](t, "extract")(catalog.ExtractServiceCatalog(page))
	}
	t.Run("bootstrap catalog", func(t *testing.T) {
		entries := listCatalog(t)
		byType := map[string]tokens.CatalogEntry{}
		for _, e := range entries {
			byType[e.Type] = e
		}
		id, ok := byType["identity"]
		if !ok {
			t.Fatalf("no identity in the catalog: %+v", entries)
		}
		var ifaces []string
		for _, e := range id.Endpoints {
			ifaces = append(ifaces, e.Interface)
			if e.URL != sharedCloud(t).URL+"/identity" || e.Region != "RegionOne" || e.RegionID != "RegionOne" {
				t.Errorf("identity endpoint = %+v", e)
			}
		}
		slices.Sort(ifaces)
		if !slices.Equal(ifaces, []string{"admin", "internal", "public"}) {
			t.Errorf("identity interfaces = %v", ifaces)
		}
	})

	region := must[*regions.Region](t, "create region")(regions.Create(ctx, sc, regions.CreateOpts{ID: uniq("region"), Description: "test region"}).Extract())
	t.Cleanup(func() { _ = regions.Delete(context.Background(), sc, region.ID).ExtractErr() })
	child := must[*regions.Region](t, "create child region")(regions.Create(ctx, sc, regions.CreateOpts{ID: uniq("region"), ParentRegionID: region.ID}).Extract())
	t.Cleanup(func() { _ = regions.Delete(context.Background(), sc, child.ID).ExtractErr() })

	t.Run("regions", func(t *testing.T) {
		got := must[*regions.Region](t, "get")(regions.Get(ctx, sc, child.ID).Extract())
		if got.ID != child.ID || got.ParentRegionID != region.ID {
			t.Errorf("child region = %+v", got)
		}
		selfLink(t, got.Links, "/identity/v3/regions/"+child.ID)
		if region.Description != "test region" || region.ParentRegionID != "" {
			t.Errorf("region = %+v", region)
		}
		page := must[pagination.Page](t, "list")(regions.List(sc, nil).AllPages(ctx))
		var ids []string
		for _, r := range must[[]regions.Region](t, "extract")(regions.ExtractRegions(page)) {
			ids = append(ids, r.ID)
		}
		for _, want := range []string{"RegionOne", region.ID, child.ID} {
			if !slices.Contains(ids, want) {
				t.Errorf("regions %v lack %s", ids, want)
			}
		}
		desc := "described"
		up := must[*regions.Region](t, "update")(regions.Update(ctx, sc, region.ID, regions.UpdateOpts{Description: &desc}).Extract())
		if up.Description != desc || up.ID != region.ID {
			t.Errorf("updated region = %+v", up)
		}
	})

	svcType := uniq("type")
	svc := must[*services.Service](t, "create service")(services.Create(ctx, sc, services.CreateOpts{Type: svcType, Name: uniq("svc"), Description: "test service"}).Extract())
	t.Cleanup(func() { _ = services.Delete(context.Background(), sc, svc.ID).ExtractErr() })

	t.Run("services", func(t *testing.T) {
		got := must[*services.Service](t, "get")(services.Get(ctx, sc, svc.ID).Extract())
		if got.ID != svc.ID || got.Type != svcType || got.Name != svc.Name || got.Description != "test service" || !got.Enabled {
			t.Errorf("service = %+v", got)
		}
		selfLink(t, got.Links, "/identity/v3/services/"+svc.ID)
		page := must[pagination.Page](t, "list")(services.List(sc, services.ListOpts{ServiceType: svcType}).AllPages(ctx))
		list := must[[]services.Service](t, "extract")(services.ExtractServices(page))
		if len(list) != 1 || list[0].ID != svc.ID {
			t.Errorf("services of type %s = %+v", svcType, list)
		}
	})

	ep := must[*endpoints.Endpoint](t, "create endpoint")(endpoints.Create(ctx, sc, endpoints.CreateOpts{
		Availability: gophercloud.AvailabilityPublic, Region: region.ID, URL: "http://example.invalid/v1", ServiceID: svc.ID}).Extract())
	t.Cleanup(func() { _ = endpoints.Delete(context.Background(), sc, ep.ID).ExtractErr() })

	findInCatalog := func(t *testing.T) *tokens.CatalogEntry {
		t.Helper()
		for _, e := range listCatalog(t) {
			if e.ID == svc.ID {
				return &e
			}
		}
		return nil
	}

	t.Run("endpoints", func(t *testing.T) {
		if ep.Availability != gophercloud.AvailabilityPublic || ep.Region != region.ID || ep.RegionID != region.ID ||
			ep.ServiceID != svc.ID || ep.URL != "http://example.invalid/v1" || !ep.Enabled {
			t.Errorf("endpoint = %+v", ep)
		}
		page := must[pagination.Page](t, "list")(endpoints.List(sc, endpoints.ListOpts{ServiceID: svc.ID}).AllPages(ctx))
		list := must[[]endpoints.Endpoint](t, "extract")(endpoints.ExtractEndpoints(page))
		if len(list) != 1 || list[0].ID != ep.ID {
			t.Errorf("endpoints of the service = %+v", list)
		}
		e := findInCatalog(t)
		if e == nil || e.Type != svcType || e.Name != svc.Name || len(e.Endpoints) != 1 ||
			e.Endpoints[0].URL != ep.URL || e.Endpoints[0].Interface != "public" || e.Endpoints[0].RegionID != region.ID {
			t.Fatalf("catalog entry = %+v", e)
		}
		up := must[*endpoints.Endpoint](t, "update")(endpoints.Update(ctx, sc, ep.ID, endpoints.UpdateOpts{
			Availability: gophercloud.AvailabilityInternal, URL: "http://example.invalid/v2"}).Extract())
		if up.URL != "http://example.invalid/v2" || up.Availability != gophercloud.AvailabilityInternal || up.ServiceID != svc.ID {
			t.Errorf("updated endpoint = %+v", up)
		}
		if e := findInCatalog(t); e == nil || len(e.Endpoints) != 1 || e.Endpoints[0].URL != up.URL || e.Endpoints[0].Interface != "internal" {
			t.Errorf("catalog after update = %+v", e)
		}
		_, err := endpoints.Create(ctx, sc, endpoints.CreateOpts{Availability: "sideways", URL: "http://x.invalid", ServiceID: svc.ID}).Extract()
		wantStatus(t, err, http.StatusBadRequest, "create with a bad interface")
		_, err = endpoints.Create(ctx, sc, endpoints.CreateOpts{Availability: gophercloud.AvailabilityPublic, URL: "http://x.invalid", ServiceID: "no-such-service"}).Extract()
		wantStatus(t, err, http.StatusBadRequest, "create for a missing service")
	})

	t.Run("a disabled service leaves the catalog", func(t *testing.T) {
		up := must[*services.Service](t, "disable")(services.Update(ctx, sc, svc.ID, services.UpdateOpts{Enabled: ptr(false)}).Extract())
		if up.Enabled {
			t.Fatalf("service still enabled: %+v", up)
		}
		if e := findInCatalog(t); e != nil {
			t.Errorf("disabled service in the catalog: %+v", e)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := endpoints.Delete(ctx, sc, ep.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if err := services.Delete(ctx, sc, svc.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err := services.Get(ctx, sc, svc.ID).Extract()
		wantStatus(t, err, http.StatusNotFound, "get a deleted service")
		for _, r := range []string{child.ID, region.ID} {
			if err := regions.Delete(ctx, sc, r).ExtractErr(); err != nil {
				t.Fatalf("delete region %s: %v", r, err)
			}
		}
		_, err = regions.Get(ctx, sc, region.ID).Extract()
		wantStatus(t, err, http.StatusNotFound, "get a deleted region")
	})
}

func TestGophercloudChangePassword(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	m := newMember(t, admin)
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	sc := c.Identity(t, pc)
	oldToken := pc.Token()

	err := users.ChangePassword(ctx, sc, m.User.ID, users.ChangePasswordOpts{OriginalPassword: "not-it", Password: "whatever"}).ExtractErr()
	wantStatus(t, err, http.StatusUnauthorized, "change password with a wrong original")
	if ok, err := tokens.Validate(ctx, admin, oldToken); err != nil || !ok {
		t.Fatalf("a failed change revoked the token: %v, %v", ok, err)
	}

	other := newMember(t, admin)
	err = users.ChangePassword(ctx, sc, other.User.ID, users.ChangePasswordOpts{OriginalPassword: other.Password, Password: "hijack"}).ExtractErr()
	wantStatus(t, err, http.StatusForbidden, "change another user's password")

	newPassword := "pw-" + uniq("new")
	if err := users.ChangePassword(ctx, sc, m.User.ID, users.ChangePasswordOpts{OriginalPassword: m.Password, Password: newPassword}).ExtractErr(); err != nil {
		t.Fatal(err)
	}

	if ok, err := tokens.Validate(ctx, admin, oldToken); err != nil || ok {
		t.Errorf("old token after a password change: validate = %v, %v", ok, err)
	}
	_, err = projects.Get(ctx, sc, m.Project.ID).Extract()
	wantStatus(t, err, http.StatusUnauthorized, "use the old token")

	_, err = login(t, m.authOpts(c, m.Project.ID))
	wantStatus(t, err, http.StatusUnauthorized, "log in with the old password")

	m.Password = newPassword
	fresh := c.Identity(t, c.Client(t, m.authOpts(c, m.Project.ID)))
	p := must[*projects.Project](t, "get own project")(projects.Get(ctx, fresh, m.Project.ID).Extract())
	if p.ID != m.Project.ID {
		t.Errorf("project = %+v", p)
	}
}
