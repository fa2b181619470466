package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
)

// TestComputeVolumeAttachFault is the fault acceptance: kumod
// (compute agent and volume service with it) is killed with SIGKILL in
// the middle of an attach, at once after the API answered and once when
// the volume is attaching; after the restart the volume is either in-use
// and really in the domain, or available and really not, never left
// attaching or reserved.
func TestComputeVolumeAttachFault(t *testing.T) {
	var cc *gophercloud.ServiceClient
	var id string
	c := startPrivateCloud(t, func() {
		if id != "" {
			deleteServerWait(t, cc, id)
		}
	})
	pc := c.AdminClient(t)
	cc = compute(t, pc, "2.79")
	ctx := context.Background()
	imageID := tinyServerImage(t, c.Cloud, pc)
	flavorID := testFlavor(t, cc, 96, 1, 1)
	s, err := servers.Create(ctx, cc, servers.CreateOpts{Name: tinyName("volfault"), ImageRef: imageID, FlavorRef: flavorID, Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	id = s.ID
	waitStatus(t, cc, id, "ACTIVE", 4*time.Minute)
	bc := blockStorage(t, pc, "")
	vol := createVolume(t, bc, volumes.CreateOpts{Size: 1}).ID

	for _, stage := range []string{"answered", "attaching"} {
		t.Run(stage, func(t *testing.T) {
			if _, err := volumeattach.Create(ctx, cc, id, volumeattach.CreateOpts{VolumeID: vol}).Extract(); err != nil {
				t.Fatalf("attach: %v", err)
			}
			seen := ""
			if stage == "attaching" {
				deadline := time.Now().Add(time.Minute)
				for time.Now().Before(deadline) {
					v, err := volumes.Get(ctx, bc, vol).Extract()
					if err == nil {
						seen = v.Status
						if seen == "attaching" || seen == "in-use" {
							break
						}
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			killed := time.Now()
			c.restart(true)
			t.Logf("kill -9 %s (volume seen %q); kumod ready after %s", stage, seen, time.Since(killed).Round(100*time.Millisecond))
			var final *volumes.Volume
			waitFor(t, 5*time.Minute, "volume "+vol+" settled", func() error {
				v, err := volumes.Get(ctx, bc, vol).Extract()
				if err != nil {
					return err
				}
				if v.Status != "in-use" && v.Status != "available" {
					return fmt.Errorf("status %s", v.Status)
				}
				final = v
				return nil
			})
			t.Logf("after the restart: volume %s, %s after the kill", final.Status, time.Since(killed).Round(100*time.Millisecond))
			waitStatus(t, cc, id, "ACTIVE", 2*time.Minute)
			x := domainXML(t, id, false)
			list, err := volumeattach.List(cc, id).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			atts, err := volumeattach.ExtractVolumeAttachments(list)
			if err != nil {
				t.Fatal(err)
			}
			plugged := strings.Contains(x, "<serial>"+vol+"</serial>")
			switch final.Status {
			case "in-use":
				if !plugged || len(atts) != 1 || len(final.Attachments) != 1 || final.Attachments[0].ServerID != id {
					t.Fatalf("in-use but plugged %t, compute attachments %+v, volume attachments %+v", plugged, atts, final.Attachments)
				}
				// Settle back to detached for the next round.
				if err := volumeattach.Delete(ctx, cc, id, vol).ExtractErr(); err != nil {
					t.Fatalf("detach: %v", err)
				}
				waitVolume(t, bc, vol, "available", 2*time.Minute)
			case "available":
				if plugged || len(atts) != 0 || len(final.Attachments) != 0 {
					t.Fatalf("available but plugged %t, compute attachments %+v, volume attachments %+v", plugged, atts, final.Attachments)
				}
			}
			if x := domainXML(t, id, true); strings.Contains(x, vol) {
				t.Errorf("the persistent definition keeps the detached volume")
			}
		})
	}
}
