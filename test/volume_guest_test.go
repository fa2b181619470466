package test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
)

// diskWatcher is kumo-tiny user data that reports, on the console, every
// virtio disk with a serial (a volume) as it appears: its device, serial,
// size in sectors and the text found 512 MiB into it. With mode "write" it
// first writes KUMO-PATTERN:<token> there on any attached volume that has
// none; with mode "root" it does so on its boot disk (a boot volume).
const diskWatcher = `#!/bin/sh
MODE=%s
TOKEN=%s
prev=""
while :; do
	cur=""
	for d in /sys/block/vd*; do
		[ -e "$d/serial" ] || continue
		n=${d##*/}
		s=$(cat "$d/serial")
		[ -n "$s" ] || continue
		sz=$(cat "$d/size")
		key="$n:$s:$sz"
		cur="$cur $key"
		case " $prev " in *" $key "*) continue ;; esac
		data=$(dd if=/dev/$n bs=1M skip=512 count=1 2>/dev/null | head -c 64 | tr -cd 'A-Za-z0-9:-')
		mine=""
		case "$MODE:$n" in write:vda) ;; write:*) mine=1 ;; root:vda) mine=1 ;; esac
		if [ -z "$data" ] && [ -n "$mine" ]; then
			printf 'KUMO-PATTERN:%%s' "$TOKEN" | dd of=/dev/$n bs=1M seek=512 conv=notrunc,fsync 2>/dev/null
			sync
			echo "WROTE $n $s"
			data=$(dd if=/dev/$n bs=1M skip=512 count=1 2>/dev/null | head -c 64 | tr -cd 'A-Za-z0-9:-')
		fi
		echo "DISK $n $s $sz ${data:-none}"
	done
	prev="$cur"
	sleep 1
done
`

// consoleDisk waits until the server's console reports disk serial with
// the given size (sectors, 0: any) and returns the text it found on it.
func consoleDisk(t testing.TB, cc *gophercloud.ServiceClient, serverID, volumeID string, sectors int64) string {
	t.Helper()
	serial := volumeID[:20]
	size := `\d+`
	if sectors > 0 {
		size = fmt.Sprint(sectors)
	}
	re := regexp.MustCompile(`user_data: DISK (vd[a-z]+) ` + regexp.QuoteMeta(serial) + ` ` + size + ` (\S+)`)
	var found string
	waitFor(t, 3*time.Minute, "disk "+serial+" on the console of "+serverID, func() error {
		out, err := servers.ShowConsoleOutput(context.Background(), cc, serverID, servers.ShowConsoleOutputOpts{}).Extract()
		if err != nil {
			return err
		}
		m := re.FindAllStringSubmatch(out, -1)
		if len(m) == 0 {
			return fmt.Errorf("not yet; console tail: %q", tailLines(out, 4))
		}
		found = m[len(m)-1][2]
		return nil
	})
	return found
}

// attachVolume attaches a volume and waits until it is in-use.
func attachVolume(t testing.TB, cc, vc *gophercloud.ServiceClient, serverID, volumeID string) {
	t.Helper()
	if _, err := volumeattach.Create(context.Background(), cc, serverID, volumeattach.CreateOpts{VolumeID: volumeID}).Extract(); err != nil {
		t.Fatalf("attach %s to %s: %v", volumeID, serverID, err)
	}
	waitVolume(t, vc, volumeID, "in-use", 2*time.Minute)
}

// detachVolume detaches a volume and waits until it is available.
func detachVolume(t testing.TB, cc, vc *gophercloud.ServiceClient, serverID, volumeID string) {
	t.Helper()
	if err := volumeattach.Delete(context.Background(), cc, serverID, volumeID).ExtractErr(); err != nil {
		t.Fatalf("detach %s from %s: %v", volumeID, serverID, err)
	}
	waitVolume(t, vc, volumeID, "available", 2*time.Minute)
}

// bootWatcher boots kumo-tiny with the disk watcher in mode and waits for
// its READY marker; the server is deleted when the test ends.
func bootWatcher(t *testing.T, cc *gophercloud.ServiceClient, opts servers.CreateOpts, mode, token string) string {
	t.Helper()
	opts.Name = strings.ToLower(strings.ReplaceAll(uniq("vol-"+mode), "_", "-"))
	opts.Networks = "none"
	opts.UserData = []byte(fmt.Sprintf(diskWatcher, mode, token))
	s, err := servers.Create(context.Background(), cc, opts, nil).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	t.Cleanup(func() { deleteServers(t, cc, s.ID) })
	waitStatus(t, cc, s.ID, "ACTIVE", 4*time.Minute)
	waitBoots(t, cc, s.ID, opts.Name, 1)
	return s.ID
}

// TestVolumeGuestData follows data through real guests: a 1 GiB volume
// written by one server is read back by a second after detach and
// attach; a snapshot of it carries the data into a new volume; an
// extended volume shows its new size in the guest; a server booted from a
// volume made from kumo-tiny writes to its root disk, and after the server
// is deleted (delete_on_termination false) the volume is available with
// that data.
func TestVolumeGuestData(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	cc := compute(t, pc, "2.79")
	vc := blockStorage(t, pc, "3.44")
	ctx := context.Background()
	imageID := tinyServerImage(t, c, pc)
	flavorID := testFlavor(t, cc, 128, 1, 1)
	token := strings.ReplaceAll(uniq("tok"), "_", "-")

	vol := createVolume(t, vc, volumes.CreateOpts{Name: uniq("data"), Size: 1})
	writer := bootWatcher(t, cc, servers.CreateOpts{ImageRef: imageID, FlavorRef: flavorID}, "write", token)
	reader := bootWatcher(t, cc, servers.CreateOpts{ImageRef: imageID, FlavorRef: flavorID}, "read", "-")

	start := time.Now()
	attachVolume(t, cc, vc, writer, vol.ID)
	if got := consoleDisk(t, cc, writer, vol.ID, 2097152); got != "KUMO-PATTERN:"+token {
		t.Fatalf("writer's disk holds %q", got)
	}
	t.Logf("FIGURE attach-to-guest-write %s", time.Since(start).Round(time.Millisecond))
	detachVolume(t, cc, vc, writer, vol.ID)
	attachVolume(t, cc, vc, reader, vol.ID)
	if got := consoleDisk(t, cc, reader, vol.ID, 2097152); got != "KUMO-PATTERN:"+token {
		t.Fatalf("the second server reads %q from the volume, want the pattern", got)
	}

	t.Run("snapshot carries the data", func(t *testing.T) {
		detachVolume(t, cc, vc, reader, vol.ID)
		snap, err := snapshots.Create(ctx, vc, snapshots.CreateOpts{VolumeID: vol.ID, Name: uniq("snap")}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = snapshots.Delete(context.Background(), vc, snap.ID).ExtractErr() })
		waitFor(t, 2*time.Minute, "snapshot available", func() error {
			s, err := snapshots.Get(ctx, vc, snap.ID).Extract()
			if err != nil {
				return err
			}
			if s.Status != "available" {
				return fmt.Errorf("status %s", s.Status)
			}
			return nil
		})
		clone := createVolume(t, vc, volumes.CreateOpts{Name: uniq("from-snap"), SnapshotID: snap.ID})
		attachVolume(t, cc, vc, reader, clone.ID)
		if got := consoleDisk(t, cc, reader, clone.ID, 2097152); got != "KUMO-PATTERN:"+token {
			t.Fatalf("volume from the snapshot holds %q", got)
		}

		// Extend the detached clone and see 2 GiB in the guest.
		detachVolume(t, cc, vc, reader, clone.ID)
		if err := volumes.ExtendSize(ctx, vc, clone.ID, volumes.ExtendSizeOpts{NewSize: 2}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v := waitVolume(t, vc, clone.ID, "available", 2*time.Minute); v.Size != 2 {
			t.Fatalf("extended volume has size %d", v.Size)
		}
		attachVolume(t, cc, vc, reader, clone.ID)
		if got := consoleDisk(t, cc, reader, clone.ID, 4194304); got != "KUMO-PATTERN:"+token {
			t.Fatalf("extended volume holds %q", got)
		}
		detachVolume(t, cc, vc, reader, clone.ID)
	})

	t.Run("boot from volume keeps its data", func(t *testing.T) {
		rootToken := strings.ReplaceAll(uniq("root"), "_", "-")
		boot := createVolume(t, vc, volumes.CreateOpts{Name: uniq("boot"), Size: 1, ImageID: imageID})
		if !strings.EqualFold(boot.Bootable, "true") {
			t.Errorf("volume from kumo-tiny has bootable %q", boot.Bootable)
		}
		srv := bootWatcher(t, cc, servers.CreateOpts{FlavorRef: flavorID, BlockDevice: []servers.BlockDevice{{
			SourceType: servers.SourceVolume, DestinationType: servers.DestinationVolume, UUID: boot.ID,
			BootIndex: 0, DeleteOnTermination: false}}}, "root", rootToken)
		if got := consoleDisk(t, cc, srv, boot.ID, 2097152); got != "KUMO-PATTERN:"+rootToken {
			t.Fatalf("boot volume holds %q", got)
		}
		if v := waitVolume(t, vc, boot.ID, "in-use", time.Minute); len(v.Attachments) != 1 || v.Attachments[0].ServerID != srv {
			t.Fatalf("boot volume attachments: %+v", v.Attachments)
		}
		deleteServers(t, cc, srv)
		waitVolume(t, vc, boot.ID, "available", 2*time.Minute)
		attachVolume(t, cc, vc, reader, boot.ID)
		if got := consoleDisk(t, cc, reader, boot.ID, 2097152); got != "KUMO-PATTERN:"+rootToken {
			t.Fatalf("boot volume after its server's delete holds %q", got)
		}
		detachVolume(t, cc, vc, reader, boot.ID)
	})
}
