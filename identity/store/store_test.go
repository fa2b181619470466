package store_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// fixture is a store on a fresh database with one domain, so tests start
// from what every identity deployment has.
type fixture struct {
	t   *testing.T
	ctx context.Context
	s   *store.Store
	dom store.Domain
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), s: store.New(testutil.DB(t))}
	f.dom = f.domain("Default")
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) domain(name string) store.Domain {
	f.t.Helper()
	d := store.Domain{Name: name, Enabled: true}
	f.must(f.s.CreateDomain(f.ctx, &d))
	return d
}

func (f *fixture) project(name, parent string) store.Project {
	f.t.Helper()
	p := store.Project{Name: name, DomainID: f.dom.ID, ParentID: parent, Enabled: true}
	f.must(f.s.CreateProject(f.ctx, &p))
	return p
}

func (f *fixture) user(name string) store.User {
	f.t.Helper()
	u := store.User{Name: name, DomainID: f.dom.ID, Enabled: true}
	f.must(f.s.CreateUser(f.ctx, &u))
	return u
}

func (f *fixture) group(name string) store.Group {
	f.t.Helper()
	g := store.Group{Name: name, DomainID: f.dom.ID}
	f.must(f.s.CreateGroup(f.ctx, &g))
	return g
}

func (f *fixture) role(name string) store.Role {
	f.t.Helper()
	r := store.Role{Name: name}
	f.must(f.s.CreateRole(f.ctx, &r))
	return r
}

func (f *fixture) grant(typ, actor, target, role string, inherited bool) {
	f.t.Helper()
	f.must(f.s.Grant(f.ctx, store.Assignment{Type: typ, ActorID: actor, TargetID: target, RoleID: role, Inherited: inherited}))
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func equal[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestNewID(t *testing.T) {
	a, b := store.NewID(), store.NewID()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) || a == b {
		t.Fatalf("NewID() = %q, %q", a, b)
	}
}

func ptr[T any](v T) *T { return &v }

func TestDomainCRUD(t *testing.T) {
	f := newFixture(t)
	d := store.Domain{Name: "acme", Description: "ACME", Enabled: true, Extra: map[string]any{"k": "v"}}
	f.must(f.s.CreateDomain(f.ctx, &d))
	got, err := f.s.GetDomain(f.ctx, d.ID)
	f.must(err)
	equal(t, got, d)
	got, err = f.s.GetDomainByName(f.ctx, "acme")
	f.must(err)
	equal(t, got, d)

	d.Enabled, d.Description, d.Extra = false, "", nil
	f.must(f.s.UpdateDomain(f.ctx, &d))
	got, err = f.s.GetDomain(f.ctx, d.ID)
	f.must(err)
	equal(t, got, d)

	list, err := f.s.ListDomains(f.ctx, store.DomainFilter{Enabled: ptr(false)})
	f.must(err)
	equal(t, list, []store.Domain{d})
	list, err = f.s.ListDomains(f.ctx, store.DomainFilter{})
	f.must(err)
	equal(t, list, []store.Domain{f.dom, d}) // by name: "Default" < "acme"

	f.must(f.s.DeleteDomain(f.ctx, d.ID))
	_, err = f.s.GetDomain(f.ctx, d.ID)
	wantErr(t, err, store.ErrNotFound)
}

func TestProjectCRUD(t *testing.T) {
	f := newFixture(t)
	parent := f.project("parent", "")
	p := store.Project{Name: "child", Description: "c", DomainID: f.dom.ID, ParentID: parent.ID, Enabled: true, Tags: []string{"a", "b,c", `q"uote`}}
	f.must(f.s.CreateProject(f.ctx, &p))
	got, err := f.s.GetProject(f.ctx, p.ID)
	f.must(err)
	equal(t, got, p)
	got, err = f.s.GetProjectByName(f.ctx, f.dom.ID, "child")
	f.must(err)
	equal(t, got, p)
	gotParent, err := f.s.GetProject(f.ctx, parent.ID)
	f.must(err)
	equal(t, gotParent.Tags, []string{}) // never null in JSON

	p.Tags, p.ParentID, p.Enabled = []string{"z"}, "", false
	f.must(f.s.UpdateProject(f.ctx, &p))
	got, err = f.s.GetProject(f.ctx, p.ID)
	f.must(err)
	equal(t, got, p)

	cases := []struct {
		name   string
		filter store.ProjectFilter
		want   []string
	}{
		{"all", store.ProjectFilter{}, []string{"child", "parent"}},
		{"name", store.ProjectFilter{Name: "parent"}, []string{"parent"}},
		{"enabled", store.ProjectFilter{Enabled: ptr(false)}, []string{"child"}},
		{"domain", store.ProjectFilter{DomainID: f.dom.ID}, []string{"child", "parent"}},
		{"other domain", store.ProjectFilter{DomainID: "nope"}, nil},
		{"ids", store.ProjectFilter{IDs: []string{p.ID}}, []string{"child"}},
		{"empty ids", store.ProjectFilter{IDs: []string{}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list, err := f.s.ListProjects(f.ctx, c.filter)
			f.must(err)
			var names []string
			for _, p := range list {
				names = append(names, p.Name)
			}
			equal(t, names, c.want)
		})
	}

	f.must(f.s.DeleteProject(f.ctx, p.ID))
	wantErr(t, f.s.DeleteProject(f.ctx, p.ID), store.ErrNotFound)
}

func TestProjectParentFilterAndChildren(t *testing.T) {
	f := newFixture(t)
	parent := f.project("parent", "")
	child := f.project("child", parent.ID)
	list, err := f.s.ListProjects(f.ctx, store.ProjectFilter{ParentID: parent.ID})
	f.must(err)
	equal(t, list, []store.Project{child})
	// Keystone refuses to delete a project that has children.
	wantErr(t, f.s.DeleteProject(f.ctx, parent.ID), store.ErrConflict)
	f.must(f.s.DeleteProject(f.ctx, child.ID))
	f.must(f.s.DeleteProject(f.ctx, parent.ID))
}

func TestUserCRUD(t *testing.T) {
	f := newFixture(t)
	p := f.project("p", "")
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	u := store.User{Name: "alice", DomainID: f.dom.ID, DefaultProjectID: p.ID, PasswordHash: "$argon2id$x",
		Enabled: true, Extra: map[string]any{"email": "a@example.com"}, PasswordExpiresAt: &exp}
	f.must(f.s.CreateUser(f.ctx, &u))
	if u.CreatedAt.IsZero() || time.Since(u.CreatedAt) > time.Minute {
		t.Fatalf("CreatedAt = %v", u.CreatedAt)
	}
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err)
	equal(t, got, u)
	got, err = f.s.GetUserByName(f.ctx, f.dom.ID, "alice")
	f.must(err)
	equal(t, got, u)

	u.Name, u.PasswordExpiresAt, u.Extra, u.Enabled, u.DefaultProjectID = "alice2", nil, nil, false, ""
	f.must(f.s.UpdateUser(f.ctx, &u))
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err)
	equal(t, got, u)

	bob := f.user("bob")
	list, err := f.s.ListUsers(f.ctx, store.UserFilter{DomainID: f.dom.ID})
	f.must(err)
	equal(t, list, []store.User{u, bob})
	list, err = f.s.ListUsers(f.ctx, store.UserFilter{Enabled: ptr(true)})
	f.must(err)
	equal(t, list, []store.User{bob})
	list, err = f.s.ListUsers(f.ctx, store.UserFilter{Name: "alice2"})
	f.must(err)
	equal(t, list, []store.User{u})

	f.must(f.s.DeleteUser(f.ctx, u.ID))
	_, err = f.s.GetUser(f.ctx, u.ID)
	wantErr(t, err, store.ErrNotFound)
}

func TestDefaultProjectDeletedIsCleared(t *testing.T) {
	f := newFixture(t)
	p := f.project("p", "")
	u := store.User{Name: "u", DomainID: f.dom.ID, DefaultProjectID: p.ID}
	f.must(f.s.CreateUser(f.ctx, &u))
	f.must(f.s.DeleteProject(f.ctx, p.ID))
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err)
	equal(t, got.DefaultProjectID, "")
}

func TestGroupCRUDAndMembership(t *testing.T) {
	f := newFixture(t)
	g := store.Group{Name: "devs", Description: "d", DomainID: f.dom.ID}
	f.must(f.s.CreateGroup(f.ctx, &g))
	got, err := f.s.GetGroup(f.ctx, g.ID)
	f.must(err)
	equal(t, got, g)
	g.Description = "developers"
	f.must(f.s.UpdateGroup(f.ctx, &g))
	got, err = f.s.GetGroup(f.ctx, g.ID)
	f.must(err)
	equal(t, got, g)
	ops := f.group("ops")
	list, err := f.s.ListGroups(f.ctx, store.GroupFilter{DomainID: f.dom.ID})
	f.must(err)
	equal(t, list, []store.Group{g, ops})
	list, err = f.s.ListGroups(f.ctx, store.GroupFilter{Name: "ops"})
	f.must(err)
	equal(t, list, []store.Group{ops})

	alice, bob := f.user("alice"), f.user("bob")
	f.must(f.s.AddUserToGroup(f.ctx, g.ID, bob.ID))
	f.must(f.s.AddUserToGroup(f.ctx, g.ID, alice.ID))
	f.must(f.s.AddUserToGroup(f.ctx, g.ID, alice.ID)) // idempotent
	f.must(f.s.AddUserToGroup(f.ctx, ops.ID, alice.ID))
	members, err := f.s.ListGroupUsers(f.ctx, g.ID)
	f.must(err)
	equal(t, members, []store.User{alice, bob})
	groups, err := f.s.ListUserGroups(f.ctx, alice.ID)
	f.must(err)
	equal(t, groups, []store.Group{g, ops})
	in, err := f.s.IsUserInGroup(f.ctx, ops.ID, bob.ID)
	f.must(err)
	if in {
		t.Fatal("bob reported in ops")
	}
	f.must(f.s.RemoveUserFromGroup(f.ctx, g.ID, bob.ID))
	wantErr(t, f.s.RemoveUserFromGroup(f.ctx, g.ID, bob.ID), store.ErrNotFound)
	wantErr(t, f.s.AddUserToGroup(f.ctx, g.ID, "nope"), store.ErrNotFound)
	wantErr(t, f.s.AddUserToGroup(f.ctx, "nope", bob.ID), store.ErrNotFound)

	f.must(f.s.DeleteGroup(f.ctx, g.ID))
	in, err = f.s.IsUserInGroup(f.ctx, g.ID, alice.ID)
	f.must(err)
	if in {
		t.Fatal("membership survived group delete")
	}
}

func TestRoleCRUD(t *testing.T) {
	f := newFixture(t)
	r := store.Role{Name: "admin", Description: "all"}
	f.must(f.s.CreateRole(f.ctx, &r))
	dr := store.Role{Name: "admin", DomainID: f.dom.ID} // same name, domain-specific: allowed
	f.must(f.s.CreateRole(f.ctx, &dr))
	got, err := f.s.GetRole(f.ctx, dr.ID)
	f.must(err)
	equal(t, got, dr)
	got, err = f.s.GetRoleByName(f.ctx, "admin")
	f.must(err)
	equal(t, got, r)
	r.Description = "everything"
	f.must(f.s.UpdateRole(f.ctx, &r))
	got, err = f.s.GetRole(f.ctx, r.ID)
	f.must(err)
	equal(t, got, r)
	reader := f.role("reader")

	cases := []struct {
		name   string
		filter store.RoleFilter
		want   []store.Role
	}{
		{"any", store.RoleFilter{}, []store.Role{dr, r, reader}},
		{"global", store.RoleFilter{GlobalOnly: true}, []store.Role{r, reader}},
		{"domain", store.RoleFilter{DomainID: f.dom.ID}, []store.Role{dr}},
		{"name", store.RoleFilter{Name: "reader"}, []store.Role{reader}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list, err := f.s.ListRoles(f.ctx, c.filter)
			f.must(err)
			if c.name == "any" { // dr and r share a name; order is by ID
				if dr.ID > r.ID {
					c.want = []store.Role{r, dr, reader}
				}
			}
			equal(t, list, c.want)
		})
	}

	f.must(f.s.CreateImpliedRole(f.ctx, r.ID, reader.ID))
	wantErr(t, f.s.CreateImpliedRole(f.ctx, r.ID, reader.ID), store.ErrConflict)
	wantErr(t, f.s.CreateImpliedRole(f.ctx, r.ID, "nope"), store.ErrNotFound)
	wantErr(t, f.s.CreateImpliedRole(f.ctx, r.ID, r.ID), store.ErrInvalid)
	imp, err := f.s.ListImpliedRoles(f.ctx)
	f.must(err)
	equal(t, imp, []store.ImpliedRole{{PriorRoleID: r.ID, ImpliedRoleID: reader.ID}})
	f.must(f.s.DeleteImpliedRole(f.ctx, r.ID, reader.ID))
	wantErr(t, f.s.DeleteImpliedRole(f.ctx, r.ID, reader.ID), store.ErrNotFound)

	f.must(f.s.CreateImpliedRole(f.ctx, r.ID, reader.ID))
	f.must(f.s.DeleteRole(f.ctx, reader.ID))
	imp, err = f.s.ListImpliedRoles(f.ctx)
	f.must(err)
	equal(t, len(imp), 0)
}

func TestCatalogCRUD(t *testing.T) {
	f := newFixture(t)
	parent := store.Region{ID: "RegionOne", Description: "one"}
	f.must(f.s.CreateRegion(f.ctx, &parent))
	child := store.Region{ID: "RegionOne-a", ParentRegionID: parent.ID}
	f.must(f.s.CreateRegion(f.ctx, &child))
	got, err := f.s.GetRegion(f.ctx, child.ID)
	f.must(err)
	equal(t, got, child)
	child.Description = "a"
	f.must(f.s.UpdateRegion(f.ctx, &child))
	regions, err := f.s.ListRegions(f.ctx)
	f.must(err)
	equal(t, regions, []store.Region{parent, child})

	sv := store.Service{Type: "compute", Name: "nova", Enabled: true}
	f.must(f.s.CreateService(f.ctx, &sv))
	gotSv, err := f.s.GetService(f.ctx, sv.ID)
	f.must(err)
	equal(t, gotSv, sv)
	sv.Description = "Compute"
	f.must(f.s.UpdateService(f.ctx, &sv))
	id := store.Service{Type: "identity", Name: "keystone", Enabled: true}
	f.must(f.s.CreateService(f.ctx, &id))
	svs, err := f.s.ListServices(f.ctx, store.ServiceFilter{})
	f.must(err)
	equal(t, svs, []store.Service{id, sv})
	svs, err = f.s.ListServices(f.ctx, store.ServiceFilter{Type: "compute"})
	f.must(err)
	equal(t, svs, []store.Service{sv})

	e := store.Endpoint{ServiceID: sv.ID, Interface: "public", RegionID: child.ID, URL: "http://x:8774/v2.1", Enabled: true}
	f.must(f.s.CreateEndpoint(f.ctx, &e))
	gotE, err := f.s.GetEndpoint(f.ctx, e.ID)
	f.must(err)
	equal(t, gotE, e)
	e.Interface = "internal"
	f.must(f.s.UpdateEndpoint(f.ctx, &e))
	e2 := store.Endpoint{ServiceID: id.ID, Interface: "public", URL: "http://x:5000/v3", Enabled: true}
	f.must(f.s.CreateEndpoint(f.ctx, &e2))
	eps, err := f.s.ListEndpoints(f.ctx, store.EndpointFilter{Interface: "internal"})
	f.must(err)
	equal(t, eps, []store.Endpoint{e})
	eps, err = f.s.ListEndpoints(f.ctx, store.EndpointFilter{ServiceID: id.ID})
	f.must(err)
	equal(t, eps, []store.Endpoint{e2})
	eps, err = f.s.ListEndpoints(f.ctx, store.EndpointFilter{RegionID: child.ID})
	f.must(err)
	equal(t, eps, []store.Endpoint{e})

	bad := store.Endpoint{ServiceID: sv.ID, Interface: "private", URL: "u"}
	wantErr(t, f.s.CreateEndpoint(f.ctx, &bad), store.ErrInvalid)
	bad = store.Endpoint{ServiceID: "nope", Interface: "public", URL: "u"}
	wantErr(t, f.s.CreateEndpoint(f.ctx, &bad), store.ErrNotFound)
	bad = store.Endpoint{ServiceID: sv.ID, Interface: "public", RegionID: "nope", URL: "u"}
	wantErr(t, f.s.CreateEndpoint(f.ctx, &bad), store.ErrNotFound)

	// A region an endpoint names cannot go (nor can its parent, which would
	// take it along).
	wantErr(t, f.s.DeleteRegion(f.ctx, parent.ID), store.ErrConflict)
	// Deleting a service deletes its endpoints.
	f.must(f.s.DeleteService(f.ctx, sv.ID))
	_, err = f.s.GetEndpoint(f.ctx, e.ID)
	wantErr(t, err, store.ErrNotFound)
	// Deleting a region deletes its children.
	f.must(f.s.DeleteRegion(f.ctx, parent.ID))
	_, err = f.s.GetRegion(f.ctx, child.ID)
	wantErr(t, err, store.ErrNotFound)
	f.must(f.s.DeleteEndpoint(f.ctx, e2.ID))
	wantErr(t, f.s.DeleteEndpoint(f.ctx, e2.ID), store.ErrNotFound)
}

func TestAppCredentialCRUD(t *testing.T) {
	f := newFixture(t)
	u, p, r := f.user("alice"), f.project("p", ""), f.role("member")
	exp := time.Now().Add(time.Hour).UTC().Round(time.Microsecond)
	c := store.AppCredential{Name: "ci", Description: "d", UserID: u.ID, ProjectID: p.ID, SecretHash: "h",
		ExpiresAt: &exp, RoleIDs: []string{r.ID}}
	f.must(f.s.CreateAppCredential(f.ctx, &c))
	if c.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	got, err := f.s.GetAppCredential(f.ctx, c.ID)
	f.must(err)
	equal(t, got, c)
	got, err = f.s.GetAppCredentialByName(f.ctx, u.ID, "ci")
	f.must(err)
	equal(t, got, c)
	c2 := store.AppCredential{Name: "a", UserID: u.ID, ProjectID: p.ID, SecretHash: "h", Unrestricted: true}
	f.must(f.s.CreateAppCredential(f.ctx, &c2))
	list, err := f.s.ListAppCredentials(f.ctx, u.ID, "")
	f.must(err)
	equal(t, list, []store.AppCredential{c2, c})
	list, err = f.s.ListAppCredentials(f.ctx, "", "ci")
	f.must(err)
	equal(t, list, []store.AppCredential{c})
	f.must(f.s.DeleteAppCredential(f.ctx, c.ID))
	wantErr(t, f.s.DeleteAppCredential(f.ctx, c.ID), store.ErrNotFound)
}

// TestNotFound checks that every getter, updater and deleter reports a
// missing row as ErrNotFound.
func TestNotFound(t *testing.T) {
	f := newFixture(t)
	const id = "0123456789abcdef0123456789abcdef"
	cases := []struct {
		name string
		call func() error
	}{
		{"get domain", func() error { _, err := f.s.GetDomain(f.ctx, id); return err }},
		{"get domain by name", func() error { _, err := f.s.GetDomainByName(f.ctx, "x"); return err }},
		{"update domain", func() error { return f.s.UpdateDomain(f.ctx, &store.Domain{ID: id, Name: "x"}) }},
		{"delete domain", func() error { return f.s.DeleteDomain(f.ctx, id) }},
		{"get project", func() error { _, err := f.s.GetProject(f.ctx, id); return err }},
		{"get project by name", func() error { _, err := f.s.GetProjectByName(f.ctx, f.dom.ID, "x"); return err }},
		{"update project", func() error {
			return f.s.UpdateProject(f.ctx, &store.Project{ID: id, Name: "x", DomainID: f.dom.ID})
		}},
		{"delete project", func() error { return f.s.DeleteProject(f.ctx, id) }},
		{"get user", func() error { _, err := f.s.GetUser(f.ctx, id); return err }},
		{"get user by name", func() error { _, err := f.s.GetUserByName(f.ctx, f.dom.ID, "x"); return err }},
		{"update user", func() error { return f.s.UpdateUser(f.ctx, &store.User{ID: id, Name: "x", DomainID: f.dom.ID}) }},
		{"delete user", func() error { return f.s.DeleteUser(f.ctx, id) }},
		{"login failure", func() error { return f.s.RecordLoginFailure(f.ctx, id, 3, time.Minute) }},
		{"reset login failures", func() error { return f.s.ResetLoginFailures(f.ctx, id) }},
		{"get group", func() error { _, err := f.s.GetGroup(f.ctx, id); return err }},
		{"update group", func() error { return f.s.UpdateGroup(f.ctx, &store.Group{ID: id, Name: "x", DomainID: f.dom.ID}) }},
		{"delete group", func() error { return f.s.DeleteGroup(f.ctx, id) }},
		{"get role", func() error { _, err := f.s.GetRole(f.ctx, id); return err }},
		{"get role by name", func() error { _, err := f.s.GetRoleByName(f.ctx, "x"); return err }},
		{"update role", func() error { return f.s.UpdateRole(f.ctx, &store.Role{ID: id, Name: "x"}) }},
		{"delete role", func() error { return f.s.DeleteRole(f.ctx, id) }},
		{"get region", func() error { _, err := f.s.GetRegion(f.ctx, id); return err }},
		{"update region", func() error { return f.s.UpdateRegion(f.ctx, &store.Region{ID: id}) }},
		{"delete region", func() error { return f.s.DeleteRegion(f.ctx, id) }},
		{"get service", func() error { _, err := f.s.GetService(f.ctx, id); return err }},
		{"update service", func() error { return f.s.UpdateService(f.ctx, &store.Service{ID: id, Type: "x"}) }},
		{"delete service", func() error { return f.s.DeleteService(f.ctx, id) }},
		{"get endpoint", func() error { _, err := f.s.GetEndpoint(f.ctx, id); return err }},
		{"update endpoint", func() error {
			return f.s.UpdateEndpoint(f.ctx, &store.Endpoint{ID: id, Interface: "public"})
		}},
		{"delete endpoint", func() error { return f.s.DeleteEndpoint(f.ctx, id) }},
		{"get app cred", func() error { _, err := f.s.GetAppCredential(f.ctx, id); return err }},
		{"get app cred by name", func() error { _, err := f.s.GetAppCredentialByName(f.ctx, id, "x"); return err }},
		{"delete app cred", func() error { return f.s.DeleteAppCredential(f.ctx, id) }},
		{"revoke", func() error {
			return f.s.Revoke(f.ctx, store.Assignment{Type: store.UserProject, ActorID: id, TargetID: id, RoleID: id})
		}},
		// References to what does not exist.
		{"project in unknown domain", func() error {
			return f.s.CreateProject(f.ctx, &store.Project{Name: "x", DomainID: id})
		}},
		{"project under unknown parent", func() error {
			return f.s.CreateProject(f.ctx, &store.Project{Name: "x", DomainID: f.dom.ID, ParentID: id})
		}},
		{"user in unknown domain", func() error { return f.s.CreateUser(f.ctx, &store.User{Name: "x", DomainID: id}) }},
		{"user with unknown default project", func() error {
			return f.s.CreateUser(f.ctx, &store.User{Name: "x", DomainID: f.dom.ID, DefaultProjectID: id})
		}},
		{"group in unknown domain", func() error { return f.s.CreateGroup(f.ctx, &store.Group{Name: "x", DomainID: id}) }},
		{"role in unknown domain", func() error { return f.s.CreateRole(f.ctx, &store.Role{Name: "x", DomainID: id}) }},
		{"region under unknown parent", func() error {
			return f.s.CreateRegion(f.ctx, &store.Region{ParentRegionID: id})
		}},
		{"grant to unknown user", func() error {
			r := f.role("r1")
			return f.s.Grant(f.ctx, store.Assignment{Type: store.UserDomain, ActorID: id, TargetID: f.dom.ID, RoleID: r.ID})
		}},
		{"grant of unknown role", func() error {
			u := f.user("u1")
			return f.s.Grant(f.ctx, store.Assignment{Type: store.UserSystem, ActorID: u.ID, RoleID: id})
		}},
		{"grant on unknown project", func() error {
			u, r := f.user("u2"), f.role("r2")
			return f.s.Grant(f.ctx, store.Assignment{Type: store.UserProject, ActorID: u.ID, TargetID: id, RoleID: r.ID})
		}},
		{"app cred of unknown project", func() error {
			u := f.user("u3")
			return f.s.CreateAppCredential(f.ctx, &store.AppCredential{Name: "x", UserID: u.ID, ProjectID: id})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			wantErr(t, err, store.ErrNotFound)
			if errors.Is(err, store.ErrConflict) {
				t.Fatalf("err = %v is also a conflict", err)
			}
			t.Log(err)
		})
	}
}

// TestConflict checks that each unique constraint is reported as
// ErrConflict.
func TestConflict(t *testing.T) {
	f := newFixture(t)
	other := f.domain("other")
	p, u := f.project("p", ""), f.user("u")
	f.group("g")
	f.role("r")
	f.must(f.s.CreateAppCredential(f.ctx, &store.AppCredential{Name: "c", UserID: u.ID, ProjectID: p.ID, SecretHash: "h"}))
	cases := []struct {
		name string
		call func() error
		ok   bool // the same name where it is allowed
	}{
		{"domain name", func() error { return f.s.CreateDomain(f.ctx, &store.Domain{Name: "other"}) }, false},
		{"domain id", func() error { return f.s.CreateDomain(f.ctx, &store.Domain{ID: other.ID, Name: "x"}) }, false},
		{"rename domain onto another", func() error {
			d := other
			d.Name = f.dom.Name
			return f.s.UpdateDomain(f.ctx, &d)
		}, false},
		{"project name in domain", func() error {
			return f.s.CreateProject(f.ctx, &store.Project{Name: "p", DomainID: f.dom.ID})
		}, false},
		{"project name in other domain", func() error {
			return f.s.CreateProject(f.ctx, &store.Project{Name: "p", DomainID: other.ID})
		}, true},
		{"user name in domain", func() error { return f.s.CreateUser(f.ctx, &store.User{Name: "u", DomainID: f.dom.ID}) }, false},
		{"user name in other domain", func() error { return f.s.CreateUser(f.ctx, &store.User{Name: "u", DomainID: other.ID}) }, true},
		{"group name in domain", func() error { return f.s.CreateGroup(f.ctx, &store.Group{Name: "g", DomainID: f.dom.ID}) }, false},
		{"group name in other domain", func() error { return f.s.CreateGroup(f.ctx, &store.Group{Name: "g", DomainID: other.ID}) }, true},
		{"global role name", func() error { return f.s.CreateRole(f.ctx, &store.Role{Name: "r"}) }, false},
		{"domain role name", func() error { return f.s.CreateRole(f.ctx, &store.Role{Name: "r", DomainID: other.ID}) }, true},
		{"domain role name again", func() error { return f.s.CreateRole(f.ctx, &store.Role{Name: "r", DomainID: other.ID}) }, false},
		{"app cred name of user", func() error {
			return f.s.CreateAppCredential(f.ctx, &store.AppCredential{Name: "c", UserID: u.ID, ProjectID: p.ID, SecretHash: "h"})
		}, false},
		{"region id", func() error {
			r := store.Region{ID: "R"}
			if err := f.s.CreateRegion(f.ctx, &r); err != nil {
				return err
			}
			return f.s.CreateRegion(f.ctx, &r)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if c.ok {
				f.must(err)
				return
			}
			wantErr(t, err, store.ErrConflict)
			t.Log(err)
		})
	}
}

func TestAssignments(t *testing.T) {
	f := newFixture(t)
	u, g, p, r := f.user("u"), f.group("g"), f.project("p", ""), f.role("r")
	a := store.Assignment{Type: store.UserProject, ActorID: u.ID, TargetID: p.ID, RoleID: r.ID}
	f.must(f.s.Grant(f.ctx, a))
	f.must(f.s.Grant(f.ctx, a)) // idempotent
	inh := store.Assignment{Type: store.GroupDomain, ActorID: g.ID, TargetID: f.dom.ID, RoleID: r.ID, Inherited: true}
	f.must(f.s.Grant(f.ctx, inh))
	sys := store.Assignment{Type: store.UserSystem, ActorID: u.ID, RoleID: r.ID}
	f.must(f.s.Grant(f.ctx, sys))
	sys.TargetID = store.SystemTarget

	cases := []struct {
		name   string
		filter store.AssignmentFilter
		want   []store.Assignment
	}{
		{"all", store.AssignmentFilter{}, []store.Assignment{inh, a, sys}},
		{"actor", store.AssignmentFilter{ActorIDs: []string{u.ID}}, []store.Assignment{a, sys}},
		{"no actors", store.AssignmentFilter{ActorIDs: []string{}}, []store.Assignment{}},
		{"target", store.AssignmentFilter{TargetID: f.dom.ID}, []store.Assignment{inh}},
		{"system", store.AssignmentFilter{TargetID: "system"}, []store.Assignment{sys}},
		{"type", store.AssignmentFilter{Type: store.UserProject}, []store.Assignment{a}},
		{"types", store.AssignmentFilter{Types: []string{store.UserSystem, store.GroupDomain}}, []store.Assignment{inh, sys}},
		{"role", store.AssignmentFilter{RoleID: "nope"}, []store.Assignment{}},
		{"inherited", store.AssignmentFilter{Inherited: ptr(true)}, []store.Assignment{inh}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.s.ListAssignments(f.ctx, c.filter)
			f.must(err)
			equal(t, got, c.want)
		})
	}

	for _, bad := range []store.Assignment{
		{Type: "UserThing", ActorID: u.ID, TargetID: p.ID, RoleID: r.ID},
		{Type: store.UserProject, ActorID: u.ID, RoleID: r.ID},
		{Type: store.UserSystem, ActorID: u.ID, TargetID: p.ID, RoleID: r.ID},
	} {
		wantErr(t, f.s.Grant(f.ctx, bad), store.ErrInvalid)
	}

	f.must(f.s.Revoke(f.ctx, sys))
	wantErr(t, f.s.Revoke(f.ctx, sys), store.ErrNotFound)
	// Inheritance is part of the assignment's identity.
	direct := inh
	direct.Inherited = false
	wantErr(t, f.s.Revoke(f.ctx, direct), store.ErrNotFound)
	f.must(f.s.Revoke(f.ctx, inh))
}

func TestCascades(t *testing.T) {
	type world struct {
		u, other store.User
		g        store.Group
		p        store.Project
		r        store.Role
		cred     store.AppCredential
	}
	build := func(f *fixture) world {
		w := world{u: f.user("u"), other: f.user("other"), g: f.group("g"), p: f.project("p", ""), r: f.role("r")}
		f.must(f.s.AddUserToGroup(f.ctx, w.g.ID, w.u.ID))
		f.must(f.s.AddUserToGroup(f.ctx, w.g.ID, w.other.ID))
		f.grant(store.UserProject, w.u.ID, w.p.ID, w.r.ID, false)
		f.grant(store.UserDomain, w.u.ID, f.dom.ID, w.r.ID, false)
		f.grant(store.UserProject, w.other.ID, w.p.ID, w.r.ID, false)
		f.grant(store.GroupProject, w.g.ID, w.p.ID, w.r.ID, false)
		w.cred = store.AppCredential{Name: "c", UserID: w.u.ID, ProjectID: w.p.ID, SecretHash: "h"}
		f.must(f.s.CreateAppCredential(f.ctx, &w.cred))
		return w
	}
	count := func(f *fixture, actor string) int {
		f.t.Helper()
		as, err := f.s.ListAssignments(f.ctx, store.AssignmentFilter{ActorIDs: []string{actor}})
		f.must(err)
		return len(as)
	}

	t.Run("delete user", func(t *testing.T) {
		f := newFixture(t)
		w := build(f)
		f.must(f.s.DeleteUser(f.ctx, w.u.ID))
		members, err := f.s.ListGroupUsers(f.ctx, w.g.ID)
		f.must(err)
		equal(t, members, []store.User{w.other})
		equal(t, count(f, w.u.ID), 0)
		equal(t, count(f, w.other.ID), 1)
		equal(t, count(f, w.g.ID), 1)
		_, err = f.s.GetAppCredential(f.ctx, w.cred.ID)
		wantErr(t, err, store.ErrNotFound)
	})
	t.Run("delete project", func(t *testing.T) {
		f := newFixture(t)
		w := build(f)
		f.must(f.s.DeleteProject(f.ctx, w.p.ID))
		as, err := f.s.ListAssignments(f.ctx, store.AssignmentFilter{})
		f.must(err)
		equal(t, as, []store.Assignment{{Type: store.UserDomain, ActorID: w.u.ID, TargetID: f.dom.ID, RoleID: w.r.ID}})
		_, err = f.s.GetAppCredential(f.ctx, w.cred.ID)
		wantErr(t, err, store.ErrNotFound)
	})
	t.Run("delete group", func(t *testing.T) {
		f := newFixture(t)
		w := build(f)
		f.must(f.s.DeleteGroup(f.ctx, w.g.ID))
		equal(t, count(f, w.g.ID), 0)
		equal(t, count(f, w.u.ID), 2)
		groups, err := f.s.ListUserGroups(f.ctx, w.u.ID)
		f.must(err)
		equal(t, groups, []store.Group{})
	})
	t.Run("delete role", func(t *testing.T) {
		f := newFixture(t)
		w := build(f)
		f.must(f.s.DeleteRole(f.ctx, w.r.ID))
		as, err := f.s.ListAssignments(f.ctx, store.AssignmentFilter{})
		f.must(err)
		equal(t, len(as), 0)
	})
	t.Run("delete domain", func(t *testing.T) {
		f := newFixture(t)
		w := build(f)
		child := f.project("child", w.p.ID)
		dr := store.Role{Name: "dr", DomainID: f.dom.ID}
		f.must(f.s.CreateRole(f.ctx, &dr))
		f.must(f.s.DeleteDomain(f.ctx, f.dom.ID))
		for _, get := range []func() error{
			func() error { _, err := f.s.GetUser(f.ctx, w.u.ID); return err },
			func() error { _, err := f.s.GetGroup(f.ctx, w.g.ID); return err },
			func() error { _, err := f.s.GetProject(f.ctx, child.ID); return err },
			func() error { _, err := f.s.GetRole(f.ctx, dr.ID); return err },
		} {
			wantErr(t, get(), store.ErrNotFound)
		}
		if _, err := f.s.GetRole(f.ctx, w.r.ID); err != nil {
			t.Fatalf("global role deleted with domain: %v", err)
		}
		as, err := f.s.ListAssignments(f.ctx, store.AssignmentFilter{})
		f.must(err)
		equal(t, len(as), 0)
	})
}

func TestEffectiveRoleIDs(t *testing.T) {
	f := newFixture(t)
	u := f.user("u")
	g := f.group("g")
	f.must(f.s.AddUserToGroup(f.ctx, g.ID, u.ID))
	outsider := f.group("outsider")
	top := f.project("top", "")
	mid := f.project("mid", top.ID)
	leaf := f.project("leaf", mid.ID)
	other := f.project("other", "")

	roles := map[string]store.Role{}
	for _, n := range []string{"direct", "viagroup", "admin", "member", "reader", "cycle1", "cycle2",
		"dominh", "topinh", "domdirect", "sys", "unrelated", "midinh"} {
		roles[n] = f.role(n)
	}
	id := func(n string) string { return roles[n].ID }
	f.grant(store.UserProject, u.ID, leaf.ID, id("direct"), false)
	f.grant(store.GroupProject, g.ID, leaf.ID, id("viagroup"), false)
	f.grant(store.GroupProject, outsider.ID, leaf.ID, id("unrelated"), false)
	f.grant(store.UserProject, u.ID, other.ID, id("unrelated"), false)
	// admin implies member implies reader: transitive.
	f.grant(store.UserProject, u.ID, mid.ID, id("admin"), false)
	f.must(f.s.CreateImpliedRole(f.ctx, id("admin"), id("member")))
	f.must(f.s.CreateImpliedRole(f.ctx, id("member"), id("reader")))
	// A cycle must terminate.
	f.must(f.s.CreateImpliedRole(f.ctx, id("cycle1"), id("cycle2")))
	f.must(f.s.CreateImpliedRole(f.ctx, id("cycle2"), id("cycle1")))
	f.grant(store.GroupProject, g.ID, top.ID, id("cycle1"), false)
	// Inherited from the domain and from ancestors, not on their own target.
	f.grant(store.GroupDomain, g.ID, f.dom.ID, id("dominh"), true)
	f.grant(store.UserProject, u.ID, top.ID, id("topinh"), true)
	f.grant(store.UserProject, u.ID, mid.ID, id("midinh"), true)
	f.grant(store.UserDomain, u.ID, f.dom.ID, id("domdirect"), false)
	f.grant(store.GroupSystem, g.ID, "", id("sys"), false)

	names := func(ids []string) map[string]bool {
		out := map[string]bool{}
		for n, r := range roles {
			for _, i := range ids {
				if r.ID == i {
					out[n] = true
				}
			}
		}
		return out
	}
	set := func(ns ...string) map[string]bool {
		out := map[string]bool{}
		for _, n := range ns {
			out[n] = true
		}
		return out
	}
	cases := []struct {
		name, kind, target string
		want               map[string]bool
	}{
		{"leaf", "project", leaf.ID, set("direct", "viagroup", "dominh", "topinh", "midinh")},
		{"mid", "project", mid.ID, set("admin", "member", "reader", "dominh", "topinh")},
		{"top", "project", top.ID, set("cycle1", "cycle2", "dominh")},
		{"other", "project", other.ID, set("unrelated", "dominh")},
		{"domain", "domain", f.dom.ID, set("domdirect")},
		{"system", "system", "", set("sys")},
		{"unknown project", "project", "nope", set()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.s.EffectiveRoleIDs(f.ctx, u.ID, c.kind, c.target)
			f.must(err)
			if len(got) != len(c.want) {
				t.Errorf("duplicates or extras in %v", got)
			}
			equal(t, names(got), c.want)
		})
	}
	t.Run("outsider user", func(t *testing.T) {
		v := f.user("v")
		got, err := f.s.EffectiveRoleIDs(f.ctx, v.ID, "project", leaf.ID)
		f.must(err)
		equal(t, got, []string{})
	})
	_, err := f.s.EffectiveRoleIDs(f.ctx, u.ID, "galaxy", "")
	wantErr(t, err, store.ErrInvalid)
}

func TestProjectsAndDomainsForUser(t *testing.T) {
	f := newFixture(t)
	u, g, r := f.user("u"), f.group("g"), f.role("r")
	f.must(f.s.AddUserToGroup(f.ctx, g.ID, u.ID))
	a := f.project("a", "")
	b := f.project("b", "")
	bchild := f.project("b-child", b.ID)
	bgrand := f.project("b-grandchild", bchild.ID)
	f.project("c", "")
	other := f.domain("other")
	od := store.Project{Name: "od", DomainID: other.ID, Enabled: true}
	f.must(f.s.CreateProject(f.ctx, &od))
	third := f.domain("third")

	f.grant(store.GroupProject, g.ID, a.ID, r.ID, false)
	f.grant(store.UserProject, u.ID, b.ID, r.ID, true) // b's subtree only
	f.grant(store.GroupDomain, g.ID, other.ID, r.ID, true)
	f.grant(store.UserDomain, u.ID, third.ID, r.ID, false)

	got, err := f.s.ProjectsForUser(f.ctx, u.ID)
	f.must(err)
	equal(t, got, []store.Project{a, bchild, bgrand, od})
	doms, err := f.s.DomainsForUser(f.ctx, u.ID)
	f.must(err)
	equal(t, doms, []store.Domain{third})

	nobody := f.user("nobody")
	got, err = f.s.ProjectsForUser(f.ctx, nobody.ID)
	f.must(err)
	equal(t, got, []store.Project{})
}

func TestTx(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("boom")
	err := f.s.Tx(f.ctx, func(tx *store.Store) error {
		if err := tx.CreateProject(f.ctx, &store.Project{Name: "rolled back", DomainID: f.dom.ID}); err != nil {
			return err
		}
		if _, err := tx.GetProjectByName(f.ctx, f.dom.ID, "rolled back"); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, err, boom)
	_, err = f.s.GetProjectByName(f.ctx, f.dom.ID, "rolled back")
	wantErr(t, err, store.ErrNotFound)

	// A store error inside rolls back too, and comes out unchanged.
	err = f.s.Tx(f.ctx, func(tx *store.Store) error {
		if err := tx.CreateUser(f.ctx, &store.User{Name: "first", DomainID: f.dom.ID}); err != nil {
			return err
		}
		return tx.CreateUser(f.ctx, &store.User{Name: "first", DomainID: f.dom.ID})
	})
	wantErr(t, err, store.ErrConflict)
	users, err := f.s.ListUsers(f.ctx, store.UserFilter{})
	f.must(err)
	equal(t, len(users), 0)

	f.must(f.s.Tx(f.ctx, func(tx *store.Store) error {
		return tx.CreateProject(f.ctx, &store.Project{Name: "kept", DomainID: f.dom.ID})
	}))
	_, err = f.s.GetProjectByName(f.ctx, f.dom.ID, "kept")
	f.must(err)
}

func TestLoginFailures(t *testing.T) {
	f := newFixture(t)
	u := f.user("u")
	get := func() store.User {
		t.Helper()
		got, err := f.s.GetUser(f.ctx, u.ID)
		f.must(err)
		return got
	}
	f.must(f.s.RecordLoginFailure(f.ctx, u.ID, 3, time.Hour))
	f.must(f.s.RecordLoginFailure(f.ctx, u.ID, 3, time.Hour))
	if got := get(); got.FailedLogins != 2 || got.LockedUntil != nil {
		t.Fatalf("after 2 failures: failed=%d locked=%v", got.FailedLogins, got.LockedUntil)
	}
	before := time.Now()
	f.must(f.s.RecordLoginFailure(f.ctx, u.ID, 3, time.Hour))
	got := get()
	if got.LockedUntil == nil || got.LockedUntil.Before(before.Add(59*time.Minute)) || got.LockedUntil.After(time.Now().Add(time.Hour)) {
		t.Fatalf("after 3 failures: locked until %v, want about an hour from now", got.LockedUntil)
	}
	if got.FailedLogins != 0 {
		t.Fatalf("count not restarted on lock: %d", got.FailedLogins)
	}
	f.must(f.s.ResetLoginFailures(f.ctx, u.ID))
	if got := get(); got.FailedLogins != 0 || got.LockedUntil != nil {
		t.Fatalf("after reset: failed=%d locked=%v", got.FailedLogins, got.LockedUntil)
	}
	// lockAfter 0 only counts.
	for range 5 {
		f.must(f.s.RecordLoginFailure(f.ctx, u.ID, 0, time.Hour))
	}
	if got := get(); got.FailedLogins != 5 || got.LockedUntil != nil {
		t.Fatalf("without lockout: failed=%d locked=%v", got.FailedLogins, got.LockedUntil)
	}
}

func TestRevocations(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC().Round(time.Microsecond)
	old := store.RevocationRecord{Kind: "token", AuditID: "a1", IssuedBefore: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	edge := store.RevocationRecord{Kind: "user", UserID: "u", IssuedBefore: now, ExpiresAt: now}
	live := store.RevocationRecord{Kind: "project", ProjectID: "p", DomainID: "d", AppCredID: "c", RoleID: "r",
		IssuedBefore: now, ExpiresAt: now.Add(time.Hour)}
	for _, r := range []*store.RevocationRecord{&old, &edge, &live} {
		f.must(f.s.AddRevocation(f.ctx, r))
		if r.ID == 0 {
			t.Fatal("ID not set")
		}
	}
	list, err := f.s.ListRevocations(f.ctx, now.Add(-90*time.Minute))
	f.must(err)
	equal(t, list, []store.RevocationRecord{old, edge, live})
	list, err = f.s.ListRevocations(f.ctx, now)
	f.must(err)
	equal(t, list, []store.RevocationRecord{live})

	n, err := f.s.PruneRevocations(f.ctx, now)
	f.must(err)
	equal(t, n, 2)
	list, err = f.s.ListRevocations(f.ctx, time.Time{})
	f.must(err)
	equal(t, list, []store.RevocationRecord{live})
	n, err = f.s.PruneRevocations(f.ctx, now)
	f.must(err)
	equal(t, n, 0)
}
