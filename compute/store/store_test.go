package store_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func flavorIDs(fs []store.Flavor) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.FlavorID)
	}
	return out
}

// TestFlavors covers creation conflicts, visibility through access lists,
// filters, sorting and marker pagination, and extra specs.
func TestFlavors(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	mk := func(id, name string, ram, disk int, public bool) {
		t.Helper()
		if err := s.CreateFlavor(ctx, &store.Flavor{FlavorID: id, Name: name, MemoryMB: ram, VCPUs: 1, RootGB: disk, RxTxFactor: 1, IsPublic: public}); err != nil {
			t.Fatal(err)
		}
	}
	mk("a", "small", 512, 1, true)
	mk("b", "big", 4096, 40, true)
	mk("c", "secret", 1024, 10, false)
	mk("d", "other-secret", 2048, 20, false)
	if err := s.CreateFlavor(ctx, &store.Flavor{FlavorID: "a", Name: "x", MemoryMB: 1, VCPUs: 1, RxTxFactor: 1}); !errors.Is(err, store.ErrFlavorIDExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	if err := s.CreateFlavor(ctx, &store.Flavor{FlavorID: "z", Name: "small", MemoryMB: 1, VCPUs: 1, RxTxFactor: 1}); !errors.Is(err, store.ErrFlavorNameExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if err := s.AddFlavorProject(ctx, "c", "p1"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFlavorProject(ctx, "c", "p1"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate access: %v", err)
	}
	yes, no := true, false
	for _, tc := range []struct {
		name string
		f    store.FlavorFilter
		want []string
	}{
		{"public and shared", store.FlavorFilter{IsPublic: &yes, Project: "p1"}, []string{"a", "b", "c"}},
		{"public for stranger", store.FlavorFilter{IsPublic: &yes, Project: "p2"}, []string{"a", "b"}},
		{"private only", store.FlavorFilter{IsPublic: &no}, []string{"c", "d"}},
		{"all", store.FlavorFilter{}, []string{"a", "b", "c", "d"}},
		{"minRam", store.FlavorFilter{MinRAM: 1024}, []string{"b", "c", "d"}},
		{"minDisk", store.FlavorFilter{MinDisk: 20}, []string{"b", "d"}},
		{"sort by ram desc", store.FlavorFilter{SortKey: "memory_mb", SortDir: "desc"}, []string{"b", "d", "c", "a"}},
		{"page 1", store.FlavorFilter{Limit: 2}, []string{"a", "b"}},
		{"page 2", store.FlavorFilter{Limit: 2, Marker: "b"}, []string{"c", "d"}},
		{"marker by ram", store.FlavorFilter{SortKey: "memory_mb", Marker: "c"}, []string{"d", "b"}},
	} {
		got, err := s.ListFlavors(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(flavorIDs(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, flavorIDs(got), tc.want)
		}
	}
	if _, err := s.ListFlavors(ctx, store.FlavorFilter{SortKey: "bogus"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad sort key: %v", err)
	}
	if _, err := s.ListFlavors(ctx, store.FlavorFilter{Marker: "nope"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("bad marker: %v", err)
	}
	if _, err := s.GetFlavor(ctx, "d", store.Visibility{Project: "p1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("private flavor seen by stranger: %v", err)
	}
	if _, err := s.GetFlavor(ctx, "c", store.Visibility{Project: "p1"}); err != nil {
		t.Errorf("shared flavor: %v", err)
	}

	if err := s.MergeExtraSpecs(ctx, "a", store.Specs{"hw:cpu_policy": "dedicated", "k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeExtraSpecs(ctx, "a", store.Specs{"k": "w"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteExtraSpec(ctx, "a", "hw:cpu_policy"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteExtraSpec(ctx, "a", "hw:cpu_policy"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	f, err := s.GetFlavor(ctx, "a", store.Visibility{Admin: true})
	if err != nil || len(f.ExtraSpecs) != 1 || f.ExtraSpecs["k"] != "w" {
		t.Fatalf("extra specs: %v %v", f.ExtraSpecs, err)
	}

	if err := s.RemoveFlavorProject(ctx, "c", "p1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveFlavorProject(ctx, "c", "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if err := s.DeleteFlavor(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFlavor(ctx, "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestEnsureFlavors checks that default flavors are created once and that
// existing rows (even ones an operator changed) are left alone.
func TestEnsureFlavors(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	defaults := []store.Flavor{{FlavorID: "1", Name: "m1.tiny", MemoryMB: 512, VCPUs: 1, RootGB: 1, RxTxFactor: 1, IsPublic: true}}
	for range 2 {
		if err := s.EnsureFlavors(ctx, defaults); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListFlavors(ctx, store.FlavorFilter{})
	if err != nil || len(all) != 1 {
		t.Fatalf("flavors: %v %v", flavorIDs(all), err)
	}
}

func TestKeyPairs(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	for _, n := range []string{"b", "a", "c"} {
		if err := s.CreateKeyPair(ctx, &store.KeyPair{UserID: "u1", ProjectID: "p", Name: n, Type: "ssh", PublicKey: "k", Fingerprint: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKeyPair(ctx, &store.KeyPair{UserID: "u1", ProjectID: "p", Name: "a", Type: "ssh", PublicKey: "k", Fingerprint: "f"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.CreateKeyPair(ctx, &store.KeyPair{UserID: "u2", ProjectID: "p", Name: "a", Type: "ssh", PublicKey: "k", Fingerprint: "f"}); err != nil {
		t.Fatalf("same name, other user: %v", err)
	}
	page, err := s.ListKeyPairs(ctx, "u1", "a", 1)
	if err != nil || len(page) != 1 || page[0].Name != "b" {
		t.Fatalf("page after a: %+v %v", page, err)
	}
	if _, err := s.ListKeyPairs(ctx, "u1", "zz", 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad marker: %v", err)
	}
	if _, err := s.GetKeyPair(ctx, "u2", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other user's key: %v", err)
	}
	if err := s.DeleteKeyPair(ctx, "u1", "b"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountKeyPairs(ctx, "u1"); err != nil || n != 2 {
		t.Fatalf("count: %d %v", n, err)
	}
}
