package test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
)

// TestAdminAuthenticatesWithGeneratedCredentials checks the bootstrap's
// clouds.yaml: the admin can get a project-scoped token with a catalog.
func TestAdminAuthenticatesWithGeneratedCredentials(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	id := c.Identity(t, pc)
	res := tokens.Get(context.Background(), id, pc.Token())
	cat, err := res.ExtractServiceCatalog()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, e := range cat.Entries {
		types[e.Type] = true
	}
	for _, want := range []string{"identity", "compute", "network", "image", "block-storage", "volumev3", "placement"} {
		if !types[want] {
			t.Errorf("catalog lacks %s: %v", want, types)
		}
	}
	project, err := res.ExtractProject()
	if err != nil || project == nil || project.Name != "admin" {
		t.Fatalf("token project = %+v, %v", project, err)
	}
}

// TestUserDescriptionAndEmailPersist checks the optional user attributes
// Keystone keeps beside a user.
func TestUserDescriptionAndEmailPersist(t *testing.T) {
	ctx := context.Background()
	c := sharedCloud(t)
	id := c.Identity(t, c.AdminClient(t))
	u, err := users.Create(ctx, id, users.CreateOpts{Name: "described-user", DomainID: "default", Description: "a user with words",
		Extra: map[string]any{"email": "user@example.org"}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Delete(ctx, id, u.ID) })
	got, err := users.Get(ctx, id, u.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "a user with words" || got.Extra["email"] != "user@example.org" {
		t.Fatalf("user = %+v", got)
	}
}
