package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// disksUserData runs in kumo-tiny (busybox, no blkid): it lists the
// virtio disks, finds the ephemeral disk by its label and turns the swap
// disk on, all printed on the console with a "user_data: " prefix (a line
// may follow the serial shell's prompt, hence no ^ in the patterns).
const disksUserData = `#!/bin/sh
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vdc ] && break; sleep 1; done
grep -E ' vd[a-z]$' /proc/partitions | while read -r major minor blocks dev; do echo "disk $dev $blocks"; done
echo "label ephemeral0 on $(findfs LABEL=ephemeral0)"
swapon /dev/vdc && grep '^/dev/vdc ' /proc/swaps
echo DISKS-DONE
`

// TestComputeFlavorDisks boots kumo-tiny with a flavor that has a 1 GB
// ephemeral disk and 64 MiB of swap: the guest sees the ephemeral disk as
// vdb labelled ephemeral0 and the swap disk as vdc, usable as swap;
// placement's DISK_GB claim counts both (swap rounded up to a GB); a
// delete leaves no domain, files or allocation.
func TestComputeFlavorDisks(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	cc := compute(t, pc, "2.47") // the server embeds its flavor
	ctx := context.Background()
	imageID := tinyServerImage(t, c, pc)
	disk, eph, swap := 1, 1, 64
	fname := uniq("flavor-disks")
	fl, err := flavors.Create(ctx, cc, flavors.CreateOpts{ID: fname, Name: fname, RAM: 128, VCPUs: 1, Disk: &disk,
		Ephemeral: &eph, Swap: &swap}).Extract()
	if err != nil {
		t.Fatalf("create flavor: %v", err)
	}
	t.Cleanup(func() { _ = flavors.Delete(context.Background(), cc, fl.ID).ExtractErr() })

	name := strings.ToLower(strings.ReplaceAll(uniq("disks"), "_", "-"))
	created, err := servers.Create(ctx, cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: fl.ID,
		Networks: "none", UserData: []byte(disksUserData)}, nil).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	id := created.ID
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			deleteServerWait(t, cc, id)
		}
	})
	s := waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
	if s.Flavor["ephemeral"] != float64(eph) || s.Flavor["swap"] != float64(swap) {
		t.Errorf("server flavor %v, want ephemeral %d swap %d", s.Flavor, eph, swap)
	}

	dir := filepath.Join(c.StateDir, "instances", id)
	for _, f := range []string{"disk", "disk.eph0", "disk.swap", "disk.config"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("instance file: %v", err)
		}
	}
	allocs, _ := placementGet(t, c, pc.Token(), "/allocations/"+id)["allocations"].(map[string]any)
	for _, a := range allocs {
		res, _ := a.(map[string]any)["resources"].(map[string]any)
		if res["DISK_GB"] != float64(disk+eph+1) {
			t.Errorf("DISK_GB claimed %v, want %d (root + ephemeral + swap rounded up)", res["DISK_GB"], disk+eph+1)
		}
	}
	if len(allocs) != 1 {
		t.Errorf("allocations %v, want one provider", allocs)
	}

	var console string
	waitFor(t, 3*time.Minute, "READY and the user data's disk report on the console", func() error {
		out, err := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{}).Extract()
		if err != nil {
			return err
		}
		console = out
		if !strings.Contains(out, "KUMO-TINY READY "+name) || !strings.Contains(out, "user_data: DISKS-DONE") {
			return fmt.Errorf("not yet; console tail: %q", tailLines(out, 5))
		}
		return nil
	})
	for _, want := range []string{
		`(?m)user_data: disk vdb 1048576\r?$`, // 1 GiB in 1 KiB blocks
		`(?m)user_data: disk vdc 65536\r?$`,
		`(?m)user_data: label ephemeral0 on /dev/vdb\r?$`,
		`(?m)user_data: /dev/vdc\s+partition\s+65532\s`, // mkswap keeps one page for its header
	} {
		if !regexp.MustCompile(want).MatchString(console) {
			t.Errorf("console lacks %s:\n%s", want, tailLines(console, 30))
		}
	}
	if regexp.MustCompile(`(?m)user_data: disk vdd `).MatchString(console) {
		t.Errorf("the guest has a fourth virtio disk:\n%s", tailLines(console, 30))
	}

	deleteServerWait(t, cc, id)
	deleted = true
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("instance dir remains: %v", err)
	}
	raw, err := exec.Command("virsh", "-c", "qemu:///system", "list", "--all", "--name").CombinedOutput()
	if err != nil {
		t.Fatalf("virsh: %v\n%s", err, raw)
	}
	if strings.Contains(string(raw), id) {
		t.Errorf("libvirt domain of %s remains", id)
	}
	if a, ok := placementGet(t, c, pc.Token(), "/allocations/"+id)["allocations"].(map[string]any); !ok || len(a) != 0 {
		t.Errorf("placement allocations of the deleted server: %v", a)
	}
}
