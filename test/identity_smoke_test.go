package test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
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
