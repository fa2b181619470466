package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"libvirt.org/go/libvirt"

	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/storage/volume/driver"
	"github.com/kumo-cloud/kumo/storage/volume/driver/local"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// TestReconcile leaves volumes in the states a process killed
// mid-operation leaves them (their work messages lost) and checks that a
// manager starting on that host finishes each one with the real driver:
// a plain create is retried, an image create (whose token is lost) fails
// to error, a delete and an extend are finished, quota included; later, a
// create whose message was lost is retried once stale.
func TestReconcile(t *testing.T) {
	ctx := t.Context()
	gdb := testutil.DB(t)
	b := testutil.Bus(t)
	log := slog.New(slog.DiscardHandler)
	q := quota.New(gdb, quota.Defaults{store.ResourceVolumes: 10, store.ResourceGigabytes: 100, store.ResourceSnapshots: 10})
	st := store.New(gdb)
	host := "node-" + uuid.NewString()[:8]
	drv, err := local.New(ctx, local.Config{Dir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	pool := drv.PoolName()
	t.Cleanup(func() { drv.Close(); undefinePool(pool) })

	project := uuid.NewString()
	def, err := st.GetTypeByName(ctx, store.DefaultTypeName)
	if err != nil {
		t.Fatal(err)
	}
	add := func(status string, size int, mod func(*store.Volume)) store.Volume {
		t.Helper()
		v := store.Volume{ID: uuid.NewString(), ProjectID: project, Size: size, Status: status, VolumeTypeID: def.ID,
			AvailabilityZone: "nova", Host: host}
		if mod != nil {
			mod(&v)
		}
		err := st.Tx(ctx, func(tx *store.Store) error {
			if err := tx.CreateVolume(ctx, &v); err != nil {
				return err
			}
			return tx.ConsumeQuota(ctx, q, project, map[string]int64{store.ResourceVolumes: 1, store.ResourceGigabytes: int64(size)})
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	creating := add(store.StatusCreating, 1, nil)
	image := "img"
	fromImage := add(store.StatusCreating, 1, func(v *store.Volume) { v.ImageID = &image })
	deleting := add(store.StatusDeleting, 1, nil)
	if err := drv.Create(ctx, driver.Volume{ID: deleting.ID, SizeGiB: 1}); err != nil {
		t.Fatal(err)
	}
	extending := add(store.StatusExtending, 1, func(v *store.Volume) { v.NewSize = 2 })
	if err := drv.Create(ctx, driver.Volume{ID: extending.ID, SizeGiB: 1}); err != nil {
		t.Fatal(err)
	}
	// The extend's growth was charged when it was asked for.
	if err := st.Tx(ctx, func(tx *store.Store) error {
		return tx.ConsumeQuota(ctx, q, project, map[string]int64{store.ResourceGigabytes: 1})
	}); err != nil {
		t.Fatal(err)
	}

	m := New(Config{Host: host, ReconcileEvery: 200 * time.Millisecond, StaleAfter: time.Second},
		Deps{Store: st, Bus: b, Quota: q, Driver: drv, Log: log})
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })

	status := func(id string) (store.Volume, error) { return st.GetVolume(ctx, id) }
	host0, _ := os.Hostname()
	testutil.WaitFor(t, time.Minute, func() error {
		if v, err := status(creating.ID); err != nil || v.Status != store.StatusAvailable {
			return fmt.Errorf("creating volume: %s %v", v.Status, err)
		}
		if v, _ := status(fromImage.ID); v.Status != store.StatusError || v.Error == "" {
			return fmt.Errorf("image create without its message: %s %q", v.Status, v.Error)
		}
		if _, err := status(deleting.ID); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("deleting volume still there: %v", err)
		}
		if v, _ := status(extending.ID); v.Status != store.StatusAvailable || v.Size != 2 || v.NewSize != 0 {
			return fmt.Errorf("extending volume: %+v", v)
		}
		return nil
	})
	if _, err := drv.Connect(ctx, creating.ID, rpc.Connector{Host: host0}); err != nil {
		t.Fatalf("the retried create has no data: %v", err)
	}
	if _, err := drv.Connect(ctx, deleting.ID, rpc.Connector{Host: host0}); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("deleted volume's data: %v", err)
	}
	usage, err := q.Usage(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	// Three volumes remain (1 + 1 + 2 GiB); the deleted one gave its 1 GiB back.
	if usage[store.ResourceVolumes].InUse != 3 || usage[store.ResourceGigabytes].InUse != 4 {
		t.Fatalf("usage %+v", usage)
	}

	// A create whose message was lost while the manager runs is retried
	// once it is stale.
	lost := add(store.StatusCreating, 1, nil)
	if err := gdb.Exec("UPDATE volumes SET updated_at = now() - interval '1 hour' WHERE id = ?", lost.ID).Error; err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, func() error {
		v, err := status(lost.ID)
		if err != nil || v.Status != store.StatusAvailable {
			return fmt.Errorf("lost create: %s %v", v.Status, err)
		}
		return nil
	})
	// A fresh one (its message may be on its way) is left alone.
	fresh := add(store.StatusCreating, 1, nil)
	time.Sleep(500 * time.Millisecond)
	if v, _ := status(fresh.ID); v.Status != store.StatusCreating {
		t.Fatalf("a fresh create was touched: %s", v.Status)
	}
}

// undefinePool removes a test's libvirt pool.
func undefinePool(name string) {
	lc, err := libvirt.NewConnect(local.DefaultURI)
	if err != nil {
		return
	}
	defer lc.Close()
	p, err := lc.LookupStoragePoolByName(name)
	if err != nil {
		return
	}
	defer p.Free()
	if active, _ := p.IsActive(); active {
		_ = p.Destroy()
	}
	_ = p.Undefine()
}
