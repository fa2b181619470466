package store_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// TestInstances covers creation, project scoping, filters, marker
// pagination, updates with faults, and deletion releasing quota.
func TestInstances(t *testing.T) {
	ctx := t.Context()
	db := testutil.DB(t)
	s := store.New(db)
	q := quota.New(db, quota.Defaults{store.QuotaInstances: 10, store.QuotaCores: 20, store.QuotaRAM: 51200})
	mk := func(name, project, vm string) store.Instance {
		t.Helper()
		in := store.Instance{UUID: uuid.NewString(), Name: name, ProjectID: project, UserID: "u", FlavorID: "1",
			VCPUs: 2, MemoryMB: 256, VMState: vm, Metadata: store.Specs{"k": "v"}, FlavorExtraSpecs: store.Specs{}}
		err := s.Tx(ctx, func(tx *store.Store) error {
			if err := tx.ConsumeQuota(ctx, q, project, store.InstanceQuota(in)); err != nil {
				return err
			}
			return tx.CreateInstance(ctx, &in)
		})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	a := mk("web-1", "p1", store.VMActive)
	b := mk("web-2", "p1", store.VMBuilding)
	c := mk("db-1", "p1", store.VMActive)
	mk("other", "p2", store.VMActive)

	got, err := s.GetInstance(ctx, a.UUID)
	if err != nil || got.Name != "web-1" || got.Metadata["k"] != "v" || got.Fault != nil {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.GetInstance(ctx, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get bad uuid: %v", err)
	}
	names := func(f store.InstanceFilter) []string {
		t.Helper()
		ins, err := s.ListInstances(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, in := range ins {
			out = append(out, in.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.InstanceFilter
		want []string
	}{
		{"project newest first", store.InstanceFilter{Project: "p1"}, []string{"db-1", "web-2", "web-1"}},
		{"all projects", store.InstanceFilter{AllProjects: true, Limit: 2}, []string{"other", "db-1"}},
		{"name regex", store.InstanceFilter{Project: "p1", NameRegex: "^web"}, []string{"web-2", "web-1"}},
		{"vm state", store.InstanceFilter{Project: "p1", VMStates: []string{store.VMBuilding}}, []string{"web-2"}},
		{"marker", store.InstanceFilter{Project: "p1", Marker: c.UUID}, []string{"web-2", "web-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(tc.f); !equalStrings(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := s.ListInstances(ctx, store.InstanceFilter{Project: "p1", Marker: uuid.NewString()}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown marker: %v", err)
	}

	if err := s.UpdateInstance(ctx, b.UUID, map[string]any{"vm_state": store.VMError, "fault": store.Fault{Code: 500, Message: "boom"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetInstance(ctx, b.UUID); got.VMState != store.VMError || got.Fault == nil || got.Fault.Message != "boom" {
		t.Fatalf("after update: %+v", got)
	}

	if err := s.DeleteInstance(ctx, q, b.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInstance(ctx, q, b.UUID); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.GetInstance(ctx, b.UUID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted instance: %v", err)
	}
	if err := s.UpdateInstance(ctx, b.UUID, map[string]any{"vm_state": store.VMActive}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update deleted: %v", err)
	}
	u, err := q.Usage(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if u[store.QuotaInstances].InUse != 2 || u[store.QuotaCores].InUse != 4 || u[store.QuotaRAM].InUse != 512 {
		t.Errorf("usage after delete: %+v", u)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
