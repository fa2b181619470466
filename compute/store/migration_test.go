package store_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// TestResizeAccounting walks resizes through confirm, revert and failure
// and checks the instance's flavor, the migration and the quota at each
// step: while unconfirmed the project pays for the larger flavor.
func TestResizeAccounting(t *testing.T) {
	ctx := t.Context()
	db := testutil.DB(t)
	s := store.New(db)
	q := quota.New(db, quota.Defaults{store.QuotaInstances: 10, store.QuotaCores: 4, store.QuotaRAM: 1024})
	host := "h1"
	in := store.Instance{UUID: uuid.NewString(), Name: "r", ProjectID: "p1", UserID: "u", FlavorID: "a", FlavorName: "a",
		VCPUs: 1, MemoryMB: 128, RootGB: 1, VMState: store.VMActive, Host: &host, Metadata: store.Specs{}, FlavorExtraSpecs: store.Specs{}}
	if err := s.Tx(ctx, func(tx *store.Store) error {
		if err := tx.ConsumeQuota(ctx, q, "p1", store.InstanceQuota(in)); err != nil {
			return err
		}
		return tx.CreateInstance(ctx, &in)
	}); err != nil {
		t.Fatal(err)
	}
	flavor := func(id string, vcpus, ram, disk int) store.MigrationFlavor {
		return store.MigrationFlavor{ID: 7, FlavorID: id, Name: id, VCPUs: vcpus, MemoryMB: ram, RootGB: disk, ExtraSpecs: store.Specs{}}
	}
	check := func(what string, cores, ram int64, flavorID string) {
		t.Helper()
		u, err := q.Usage(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetInstance(ctx, in.UUID)
		if err != nil {
			t.Fatal(err)
		}
		if u[store.QuotaCores].InUse != cores || u[store.QuotaRAM].InUse != ram || got.FlavorID != flavorID {
			t.Errorf("%s: cores %d ram %d flavor %s, want %d %d %s", what, u[store.QuotaCores].InUse, u[store.QuotaRAM].InUse,
				got.FlavorID, cores, ram, flavorID)
		}
	}
	start := func(to store.MigrationFlavor) store.Migration {
		t.Helper()
		m := store.Migration{UUID: uuid.NewString(), InstanceUUID: in.UUID, NewFlavor: to, ProjectID: "p1", UserID: "u"}
		if _, err := s.StartResize(ctx, q, &m, &store.InstanceAction{InstanceUUID: in.UUID, Action: "resize", UserID: "u", ProjectID: "p1"}); err != nil {
			t.Fatalf("start resize to %s: %v", to.FlavorID, err)
		}
		return m
	}
	idle := func() {
		t.Helper()
		if err := s.UpdateInstance(ctx, in.UUID, map[string]any{"task_state": nil, "vm_state": store.VMActive}); err != nil {
			t.Fatal(err)
		}
	}

	// Up to b: the growth is charged at once.
	m := start(flavor("b", 2, 192, 2))
	check("resizing to b", 2, 192, "b")
	got, _ := s.GetMigration(ctx, m.UUID)
	if got.Status != store.MigrationPreMigrating || got.OldFlavor.FlavorID != "a" || got.OldFlavor.MemoryMB != 128 ||
		got.OldVMState != store.VMActive || got.SourceCompute != host || got.NewInstanceTypeID == nil {
		t.Errorf("migration: %+v", got)
	}
	if in2, err := s.StartResize(ctx, q, &store.Migration{UUID: uuid.NewString(), InstanceUUID: in.UUID, NewFlavor: flavor("c", 1, 160, 2)},
		&store.InstanceAction{InstanceUUID: in.UUID, Action: "resize", UserID: "u", ProjectID: "p1"}); !errors.Is(err, store.ErrState) || in2.TaskState == nil {
		t.Errorf("a second resize while one runs: %v", err)
	}
	if err := s.EndResize(ctx, q, m, store.MigrationConfirmed, map[string]any{"task_state": nil}); err != nil {
		t.Fatal(err)
	}
	check("confirmed b", 2, 192, "b")
	if open, err := s.OpenMigration(ctx, in.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("open migration after confirm: %+v %v", open, err)
	}

	// Down to c: charged at b's size until settled; a revert restores b.
	m = start(flavor("c", 1, 160, 2))
	check("resizing to c", 2, 192, "c")
	if err := s.EndResize(ctx, q, m, store.MigrationReverted, map[string]any{"task_state": nil}); err != nil {
		t.Fatal(err)
	}
	check("reverted to b", 2, 192, "b")
	// Settling twice changes nothing.
	if err := s.EndResize(ctx, q, m, store.MigrationConfirmed, nil); err != nil {
		t.Fatal(err)
	}
	check("settled twice", 2, 192, "b")
	idle()
	m = start(flavor("c", 1, 160, 2))
	if err := s.EndResize(ctx, q, m, store.MigrationConfirmed, map[string]any{"task_state": nil}); err != nil {
		t.Fatal(err)
	}
	check("confirmed c", 1, 160, "c")

	// A failed resize up gives the growth back.
	idle()
	m = start(flavor("d", 3, 512, 2))
	check("resizing to d", 3, 512, "d")
	if err := s.EndResize(ctx, q, m, store.MigrationError, map[string]any{"task_state": nil}); err != nil {
		t.Fatal(err)
	}
	check("failed d", 1, 160, "c")

	// Over quota: nothing changes.
	var oq *quota.OverQuotaError
	_, err := s.StartResize(ctx, q, &store.Migration{UUID: uuid.NewString(), InstanceUUID: in.UUID, NewFlavor: flavor("e", 1, 2048, 2)},
		&store.InstanceAction{InstanceUUID: in.UUID, Action: "resize", UserID: "u", ProjectID: "p1"})
	if !errors.As(err, &oq) || oq.Resource != store.QuotaRAM {
		t.Errorf("resize over quota: %v", err)
	}
	check("over quota", 1, 160, "c")
	if ms, _ := s.ListMigrations(ctx, store.MigrationFilter{InstanceUUID: in.UUID}); len(ms) != 4 || ms[0].Status != store.MigrationError {
		t.Errorf("migrations: %d, newest %+v", len(ms), ms[0])
	}

	if err := s.MarkActionError(ctx, in.UUID, "resize"); err != nil {
		t.Fatal(err)
	}
	var rows []struct{ Message *string }
	if err := db.Raw(`SELECT message FROM instance_actions WHERE instance_uuid = ? ORDER BY id`, in.UUID).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if n := len(rows); n != 4 || rows[n-1].Message == nil || *rows[n-1].Message != "Error" || rows[0].Message != nil {
		t.Errorf("action messages: %d rows %+v", n, rows)
	}

	if err := s.DeleteInstance(ctx, q, in.UUID); err != nil {
		t.Fatal(err)
	}
	u, _ := q.Usage(ctx, "p1")
	if u[store.QuotaCores].InUse != 0 || u[store.QuotaRAM].InUse != 0 {
		t.Errorf("usage after delete: %+v", u)
	}
}
