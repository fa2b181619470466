package test

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// TestOpenstackComputeServerCLI runs scripts/openstack-compute-server.sh:
// the real openstack CLI boots kumo-tiny on m1.tiny, reads its console log,
// stops, starts and deletes it. The script names the image kumo-tiny, so
// the test publishes one under that name unless the cloud has it.
func TestOpenstackComputeServerCLI(t *testing.T) {
	publicTinyImage(t)
	runOpenstackScriptFor(t, "openstack-compute-server.sh", 12*time.Minute)
}

// publicTinyImage makes sure the shared cloud has a public kumo-tiny image
// by that name, as the openstack CLI scripts expect.
func publicTinyImage(t *testing.T) {
	t.Helper()
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	ic := imageClient(t, pc)
	pages, err := images.List(ic, images.ListOpts{Name: "kumo-tiny", Visibility: images.ImageVisibilityPublic}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if found, _ := images.ExtractImages(pages); len(found) == 0 {
		img := createImage(t, ic, images.CreateOpts{Name: "kumo-tiny", ContainerFormat: "bare", DiskFormat: "qcow2",
			Visibility: ptr(images.ImageVisibilityPublic)})
		if err := uploadFile(t, ic, img.ID, kumoTinyImage(t)); err != nil {
			t.Fatalf("upload kumo-tiny: %v", err)
		}
	}
}
