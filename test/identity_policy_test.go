package test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
)

// TestPolicyFileOverridesDefaults starts a kumod with an oslo.policy YAML
// file that lets members list users, and checks that a member can, while
// other admin-only operations stay forbidden.
func TestPolicyFileOverridesDefaults(t *testing.T) {
	ctx := context.Background()
	state := stateDir(t)
	policyFile := filepath.Join(state, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(`"identity:list_users": "role:member or rule:identity:admin_required"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := startKumodArgs(t, kumodBinary(t), state, "--policy-file", policyFile)
	k.waitReady(t, 60*time.Second)
	c := &Cloud{URL: k.url, StateDir: state, CloudsYAML: filepath.Join(state, "clouds.yaml")}
	c.AdminPassword = readAdminPassword(t, c.CloudsYAML)
	admin := c.Identity(t, c.AdminClient(t))

	p, err := projects.Create(ctx, admin, projects.CreateOpts{Name: "policy-p", DomainID: "default"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.Create(ctx, admin, users.CreateOpts{Name: "policy-u", DomainID: "default", Password: "policy-pass"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := roles.List(admin, roles.ListOpts{Name: "member"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	member, _ := roles.ExtractRoles(pages)
	if err := roles.Assign(ctx, admin, member[0].ID, roles.AssignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	mc := c.Identity(t, c.Client(t, gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL(), UserID: u.ID, Password: "policy-pass",
		Scope: &gophercloud.AuthScope{ProjectID: p.ID}}))

	if _, err := users.List(mc, nil).AllPages(ctx); err != nil {
		t.Fatalf("member could not list users under the override: %v", err)
	}
	_, err = projects.List(mc, nil).AllPages(ctx)
	if !gophercloud.ResponseCodeIs(err, 403) {
		t.Fatalf("member listing projects: want 403, got %v", err)
	}
}
