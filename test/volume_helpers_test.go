package test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
)

// blockStorage is a block storage v3 client for a provider at
// microversion mv ("" for 3.0).
func blockStorage(t testing.TB, pc *gophercloud.ProviderClient, mv string) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewBlockStorageV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Microversion = mv
	return sc
}

// createVolume creates a volume, waits until it is available and deletes
// it (waiting until it is gone) when the test ends.
func createVolume(t testing.TB, bs *gophercloud.ServiceClient, opts volumes.CreateOpts) *volumes.Volume {
	t.Helper()
	if opts.Name == "" {
		opts.Name = uniq("vol")
	}
	v, err := volumes.Create(context.Background(), bs, opts, nil).Extract()
	if err != nil {
		t.Fatalf("create volume %s: %v", opts.Name, err)
	}
	t.Cleanup(func() { deleteVolume(t, bs, v.ID) })
	return waitVolume(t, bs, v.ID, "available", 3*time.Minute)
}

// deleteVolume deletes a volume (with its snapshots) and waits until it is
// gone; one already gone is fine.
func deleteVolume(t testing.TB, bs *gophercloud.ServiceClient, id string) {
	t.Helper()
	err := volumes.Delete(context.Background(), bs, id, volumes.DeleteOpts{Cascade: true}).ExtractErr()
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return
	}
	if err != nil {
		t.Errorf("delete volume %s: %v", id, err)
		return
	}
	waitFor(t, 2*time.Minute, "volume "+id+" gone", func() error {
		v, err := volumes.Get(context.Background(), bs, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("status %s", v.Status)
	})
}

// waitVolume waits until a volume has status want; an error status
// (unless wanted) fails at once.
func waitVolume(t testing.TB, bs *gophercloud.ServiceClient, id, want string, timeout time.Duration) *volumes.Volume {
	t.Helper()
	var v *volumes.Volume
	waitFor(t, timeout, "volume "+id+" "+want, func() error {
		var err error
		if v, err = volumes.Get(context.Background(), bs, id).Extract(); err != nil {
			return err
		}
		if v.Status != want && (v.Status == "error" || v.Status == "error_deleting" || v.Status == "error_extending") {
			t.Fatalf("volume %s went to %s", id, v.Status)
		}
		if v.Status != want {
			return fmt.Errorf("status %s", v.Status)
		}
		return nil
	})
	return v
}

// waitSnapshot waits until a snapshot has status want.
func waitSnapshot(t testing.TB, bs *gophercloud.ServiceClient, id, want string) *snapshots.Snapshot {
	t.Helper()
	var sn *snapshots.Snapshot
	waitFor(t, 2*time.Minute, "snapshot "+id+" "+want, func() error {
		var err error
		if sn, err = snapshots.Get(context.Background(), bs, id).Extract(); err != nil {
			return err
		}
		if sn.Status == "error" && want != "error" {
			t.Fatalf("snapshot %s went to error", id)
		}
		if sn.Status != want {
			return fmt.Errorf("status %s", sn.Status)
		}
		return nil
	})
	return sn
}
