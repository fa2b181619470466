package test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/kumo-cloud/kumo/internal/testutil"
)

// TestSeedImagePublishedOnce starts kumod with --seed-image (what make run
// does with kumo-tiny), finds the image public and active, restarts on the
// same state and finds exactly one copy.
func TestSeedImagePublishedOnce(t *testing.T) {
	state := stateDir(t)
	disk := filepath.Join(state, "seed.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", disk, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	bin := kumodBinary(t)
	for round := 1; round <= 2; round++ {
		k := startKumodArgs(t, bin, state, "--seed-image", "seed-tiny="+disk)
		k.waitReady(t, 60*time.Second)
		c := &Cloud{URL: k.url, StateDir: state, CloudsYAML: filepath.Join(state, "clouds.yaml")}
		c.AdminPassword = readAdminPassword(t, c.CloudsYAML)
		client, err := openstack.NewImageV2(c.AdminClient(t), gophercloud.EndpointOpts{})
		if err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 30*time.Second, func() error {
			pages, err := images.List(client, images.ListOpts{Name: "seed-tiny"}).AllPages(context.Background())
			if err != nil {
				return err
			}
			found, _ := images.ExtractImages(pages)
			if len(found) != 1 || found[0].Status != images.ImageStatusActive || found[0].Visibility != images.ImageVisibilityPublic {
				return fmt.Errorf("round %d: seed images %+v", round, found)
			}
			return nil
		})
		k.stop(t)
	}
}
