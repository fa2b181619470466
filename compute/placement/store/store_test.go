package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

type fixture struct {
	t   *testing.T
	ctx context.Context
	s   *store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return &fixture{t: t, ctx: t.Context(), s: store.New(testutil.DB(t))}
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// host makes a provider with the given inventories.
func (f *fixture) host(name string, invs map[string]store.Inventory) store.Provider {
	f.t.Helper()
	p, err := f.s.EnsureProvider(f.ctx, name, invs)
	f.must(err)
	return p
}

func (f *fixture) usages(p store.Provider) map[string]int64 {
	f.t.Helper()
	u, err := f.s.Usages(f.ctx, p.UUID)
	f.must(err)
	return u
}

func (f *fixture) generation(p store.Provider) int64 {
	f.t.Helper()
	got, err := f.s.GetProvider(f.ctx, p.UUID)
	f.must(err)
	return got.Generation
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func equal[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// compute is a typical compute host's inventory.
func compute(vcpus, memMB, diskGB int64) map[string]store.Inventory {
	return map[string]store.Inventory{
		store.VCPU:     {Total: vcpus},
		store.MemoryMB: {Total: memMB},
		store.DiskGB:   {Total: diskGB},
	}
}

const (
	project = "p1"
	user    = "u1"
)

func TestProviderCRUD(t *testing.T) {
	f := newFixture(t)
	p := store.Provider{Name: "host1"}
	f.must(f.s.CreateProvider(f.ctx, &p))
	got, err := f.s.GetProvider(f.ctx, p.UUID)
	f.must(err)
	if got.UUID != p.UUID || got.Name != "host1" || got.Generation != 0 {
		t.Fatalf("GetProvider = %+v", got)
	}
	got, err = f.s.GetProviderByName(f.ctx, "host1")
	f.must(err)
	equal(t, got.UUID, p.UUID)

	wantErr(t, f.s.CreateProvider(f.ctx, &store.Provider{Name: "host1"}), store.ErrConflict)
	wantErr(t, f.s.CreateProvider(f.ctx, &store.Provider{Name: ""}), store.ErrInvalid)
	wantErr(t, f.s.CreateProvider(f.ctx, &store.Provider{UUID: "nope", Name: "x"}), store.ErrInvalid)
	_, err = f.s.GetProvider(f.ctx, store.NewUUID())
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetProvider(f.ctx, "not-a-uuid")
	wantErr(t, err, store.ErrNotFound)

	f.must(f.s.SetInventories(f.ctx, p.UUID, compute(4, 4096, 40)))
	invs, err := f.s.Inventories(f.ctx, p.UUID)
	f.must(err)
	equal(t, invs[store.VCPU], store.Inventory{ProviderUUID: p.UUID, ResourceClass: store.VCPU, Total: 4,
		MinUnit: 1, MaxUnit: store.MaxUnit, StepSize: 1, AllocationRatio: 1})
	if g := f.generation(p); g != 1 {
		t.Fatalf("generation after inventory = %d, want 1", g)
	}
	// Setting the same inventories again changes nothing.
	f.must(f.s.SetInventories(f.ctx, p.UUID, compute(4, 4096, 40)))
	if g := f.generation(p); g != 1 {
		t.Fatalf("generation after no-op inventory = %d, want 1", g)
	}
	for name, inv := range map[string]store.Inventory{
		"zero total":        {Total: 0},
		"reserved > total":  {Total: 4, Reserved: 5},
		"min over max":      {Total: 4, MinUnit: 3, MaxUnit: 2},
		"negative ratio":    {Total: 4, AllocationRatio: -1},
		"negative reserved": {Total: 4, Reserved: -1},
	} {
		t.Run(name, func(t *testing.T) {
			wantErr(t, f.s.SetInventories(f.ctx, p.UUID, map[string]store.Inventory{store.VCPU: inv}), store.ErrInvalid)
		})
	}
	wantErr(t, f.s.SetInventories(f.ctx, p.UUID, map[string]store.Inventory{"GPU": {Total: 1}}), store.ErrInvalid)
	f.must(f.s.SetInventories(f.ctx, p.UUID, map[string]store.Inventory{"CUSTOM_GPU": {Total: 1}}))

	f.must(f.s.SetTraits(f.ctx, p.UUID, []string{"HW_CPU_X86_AVX2", "COMPUTE_STATUS_DISABLED", "HW_CPU_X86_AVX2"}))
	traits, err := f.s.Traits(f.ctx, p.UUID)
	f.must(err)
	equal(t, traits, []string{"COMPUTE_STATUS_DISABLED", "HW_CPU_X86_AVX2"})
	wantErr(t, f.s.SetTraits(f.ctx, p.UUID, []string{"bad trait"}), store.ErrInvalid)
	agg := store.NewUUID()
	f.must(f.s.SetAggregates(f.ctx, p.UUID, []string{agg}))
	aggs, err := f.s.Aggregates(f.ctx, p.UUID)
	f.must(err)
	equal(t, aggs, []string{agg})

	// A provider with allocations cannot be deleted; without, it can.
	c := store.NewUUID()
	f.must(f.s.Claim(f.ctx, c, project, user, p.UUID, map[string]int64{"CUSTOM_GPU": 1}))
	wantErr(t, f.s.DeleteProvider(f.ctx, p.UUID), store.ErrConflict)
	f.must(f.s.Release(f.ctx, c))
	f.must(f.s.DeleteProvider(f.ctx, p.UUID))
	_, err = f.s.GetProvider(f.ctx, p.UUID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.s.DeleteProvider(f.ctx, p.UUID), store.ErrNotFound)
}

func TestEnsureProvider(t *testing.T) {
	f := newFixture(t)
	p := f.host("host1", compute(8, 8192, 80))
	c := store.NewUUID()
	f.must(f.s.Claim(f.ctx, c, project, user, p.UUID, map[string]int64{store.VCPU: 2, store.MemoryMB: 1024}))

	// The agent restarts with more memory and no disk: same provider, its
	// allocations kept, inventories replaced.
	again := f.host("host1", map[string]store.Inventory{store.VCPU: {Total: 8}, store.MemoryMB: {Total: 16384, Reserved: 512}})
	equal(t, again.UUID, p.UUID)
	if again.Generation <= p.Generation {
		t.Fatalf("generation %d did not grow from %d", again.Generation, p.Generation)
	}
	equal(t, f.usages(p), map[string]int64{store.VCPU: 2, store.MemoryMB: 1024})
	invs, err := f.s.Inventories(f.ctx, p.UUID)
	f.must(err)
	if len(invs) != 2 || invs[store.MemoryMB].Reserved != 512 {
		t.Fatalf("inventories = %+v", invs)
	}
	// Dropping a class in use is refused, and changes nothing.
	_, err = f.s.EnsureProvider(f.ctx, "host1", map[string]store.Inventory{store.VCPU: {Total: 8}})
	wantErr(t, err, store.ErrConflict)
	invs, err = f.s.Inventories(f.ctx, p.UUID)
	f.must(err)
	if len(invs) != 2 {
		t.Fatalf("inventories after refused change = %+v", invs)
	}
	// Two agents racing to create the same provider end with one.
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Go(func() {
			p, err := f.s.EnsureProvider(f.ctx, "host2", compute(1, 1, 1))
			if err != nil {
				t.Error(err)
			}
			ids[i] = p.UUID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing EnsureProvider made different providers: %v", ids)
		}
	}
}

func TestClaimCapacity(t *testing.T) {
	tests := []struct {
		name    string
		inv     store.Inventory
		before  int64 // VCPU held by another consumer
		request int64
		// wantErr is nil when the claim fits.
		wantErr *store.CapacityError
	}{
		{name: "fits", inv: store.Inventory{Total: 8}, request: 8},
		{name: "one too many", inv: store.Inventory{Total: 8}, before: 4, request: 5,
			wantErr: &store.CapacityError{ResourceClass: store.VCPU, Requested: 5, Used: 4, Capacity: 8, Total: 8, AllocationRatio: 1}},
		{name: "reserved is not allocatable", inv: store.Inventory{Total: 8, Reserved: 2}, before: 4, request: 3,
			wantErr: &store.CapacityError{ResourceClass: store.VCPU, Requested: 3, Used: 4, Capacity: 6, Total: 8, Reserved: 2, AllocationRatio: 1}},
		{name: "reserved, exactly full", inv: store.Inventory{Total: 8, Reserved: 2}, before: 4, request: 2},
		{name: "overcommit ratio", inv: store.Inventory{Total: 8, Reserved: 2, AllocationRatio: 4}, before: 20, request: 4},
		{name: "overcommit ratio exceeded", inv: store.Inventory{Total: 8, Reserved: 2, AllocationRatio: 4}, before: 20, request: 5,
			wantErr: &store.CapacityError{ResourceClass: store.VCPU, Requested: 5, Used: 20, Capacity: 24, Total: 8, Reserved: 2, AllocationRatio: 4}},
		{name: "fractional ratio rounds down", inv: store.Inventory{Total: 3, AllocationRatio: 1.5}, request: 5,
			wantErr: &store.CapacityError{ResourceClass: store.VCPU, Requested: 5, Capacity: 4, Total: 3, AllocationRatio: 1.5}},
		{name: "undercommit ratio", inv: store.Inventory{Total: 10, AllocationRatio: 0.5}, request: 5},
		{name: "max_unit", inv: store.Inventory{Total: 16, MaxUnit: 4}, request: 5,
			wantErr: &store.CapacityError{ResourceClass: store.VCPU, Requested: 5, Capacity: 16, Total: 16, AllocationRatio: 1, Reason: "above max_unit 4"}},
		{name: "min_unit", inv: store.Inventory{Total: 16, MinUnit: 2}, request: 1,
			wantErr: &store.CapacityError{ResourceClass: store.VCPU, Requested: 1, Capacity: 16, Total: 16, AllocationRatio: 1, Reason: "below min_unit 2"}},
		{name: "step_size", inv: store.Inventory{Total: 16, StepSize: 2}, request: 3,
			wantErr: &store.CapacityError{ResourceClass: store.VCPU, Requested: 3, Capacity: 16, Total: 16, AllocationRatio: 1, Reason: "not a multiple of step_size 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := f.host("host", map[string]store.Inventory{store.VCPU: tt.inv, store.MemoryMB: {Total: 1024}})
			if tt.before > 0 {
				f.must(f.s.Claim(f.ctx, store.NewUUID(), "other", user, p.UUID, map[string]int64{store.VCPU: tt.before}))
			}
			gen := f.generation(p)
			err := f.s.Claim(f.ctx, store.NewUUID(), project, user, p.UUID, map[string]int64{store.VCPU: tt.request, store.MemoryMB: 512})
			if tt.wantErr == nil {
				f.must(err)
				equal(t, f.usages(p), map[string]int64{store.VCPU: tt.before + tt.request, store.MemoryMB: 512})
				if g := f.generation(p); g != gen+1 {
					t.Fatalf("generation = %d, want %d", g, gen+1)
				}
				return
			}
			var ce *store.CapacityError
			if !errors.As(err, &ce) || !errors.Is(err, store.ErrCapacity) {
				t.Fatalf("Claim = %v, want a *CapacityError", err)
			}
			want := *tt.wantErr
			want.ProviderID, want.ProviderName = p.UUID, "host"
			equal(t, *ce, want)
			// Nothing changed: not the memory, not the generation.
			equal(t, f.usages(p), map[string]int64{store.VCPU: tt.before, store.MemoryMB: 0})
			if g := f.generation(p); g != gen {
				t.Fatalf("generation after failed claim = %d, want %d", g, gen)
			}
		})
	}
}

func TestCapacityErrorMessage(t *testing.T) {
	e := &store.CapacityError{ProviderID: "u", ProviderName: "host1", ResourceClass: "VCPU", Requested: 5, Used: 20, Capacity: 24, Total: 8, Reserved: 2, AllocationRatio: 4}
	want := "placement: not enough VCPU on provider host1 (u): requested 5, used 20 of capacity 24 (total 8, reserved 2, allocation_ratio 4)"
	if e.Error() != want {
		t.Fatalf("Error() = %q\nwant      %q", e.Error(), want)
	}
}

func TestClaimErrors(t *testing.T) {
	f := newFixture(t)
	p := f.host("host", compute(4, 4096, 40))
	c := store.NewUUID()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unknown provider", f.s.Claim(f.ctx, c, project, user, store.NewUUID(), map[string]int64{store.VCPU: 1}), store.ErrNotFound},
		{"bad consumer", f.s.Claim(f.ctx, "x", project, user, p.UUID, map[string]int64{store.VCPU: 1}), store.ErrInvalid},
		{"nothing", f.s.Claim(f.ctx, c, project, user, p.UUID, nil), store.ErrInvalid},
		{"zero amount", f.s.Claim(f.ctx, c, project, user, p.UUID, map[string]int64{store.VCPU: 0}), store.ErrInvalid},
		{"bad class", f.s.Claim(f.ctx, c, project, user, p.UUID, map[string]int64{"vcpu": 1}), store.ErrInvalid},
		{"no project", f.s.Claim(f.ctx, c, "", user, p.UUID, map[string]int64{store.VCPU: 1}), store.ErrInvalid},
		{"class without inventory", f.s.Claim(f.ctx, c, project, user, p.UUID, map[string]int64{"CUSTOM_GPU": 1}), store.ErrCapacity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.err, tt.want) })
	}
	_, _, err := f.s.ConsumerAllocations(f.ctx, c)
	wantErr(t, err, store.ErrNotFound)
}

func TestClaimReplacesOnSameProvider(t *testing.T) {
	f := newFixture(t)
	p := f.host("host", compute(4, 4096, 40))
	q := f.host("other", compute(4, 4096, 40))
	c := store.NewUUID()
	req := map[string]int64{store.VCPU: 4, store.MemoryMB: 2048}
	f.must(f.s.Claim(f.ctx, c, project, user, p.UUID, req))
	// A retried claim is a no-op: it does not count twice, and still fits.
	f.must(f.s.Claim(f.ctx, c, project, user, p.UUID, req))
	equal(t, f.usages(p), map[string]int64{store.VCPU: 4, store.MemoryMB: 2048, store.DiskGB: 0})
	// A smaller claim replaces the larger one.
	f.must(f.s.Claim(f.ctx, c, project, user, p.UUID, map[string]int64{store.VCPU: 1}))
	equal(t, f.usages(p), map[string]int64{store.VCPU: 1, store.MemoryMB: 0, store.DiskGB: 0})
	// A claim on another provider adds to it.
	f.must(f.s.Claim(f.ctx, c, project, user, q.UUID, map[string]int64{store.DiskGB: 10}))
	cons, allocs, err := f.s.ConsumerAllocations(f.ctx, c)
	f.must(err)
	if cons.ProjectID != project || cons.UserID != user || cons.Generation != 4 || len(allocs) != 2 {
		t.Fatalf("consumer = %+v, allocations = %+v", cons, allocs)
	}

	f.must(f.s.ReleaseProvider(f.ctx, c, p.UUID))
	equal(t, f.usages(p)[store.VCPU], int64(0))
	equal(t, f.usages(q)[store.DiskGB], int64(10))
	f.must(f.s.ReleaseProvider(f.ctx, c, q.UUID))
	_, _, err = f.s.ConsumerAllocations(f.ctx, c)
	wantErr(t, err, store.ErrNotFound) // gone with its last allocation
	f.must(f.s.Release(f.ctx, c))      // idempotent
}

// TestClaimRace is the acceptance test: 50 claims that each fit alone, of
// which only n fit together, leave exactly n winners and never overcommit.
func TestClaimRace(t *testing.T) {
	const (
		racers = 50
		rounds = 3
	)
	tests := []struct {
		name string
		inv  map[string]store.Inventory
		req  map[string]int64
		want int
	}{
		// capacity (10-2)*2 = 16 VCPU: five claims of 3.
		{name: "vcpu with reserved and ratio", inv: map[string]store.Inventory{
			store.VCPU: {Total: 10, Reserved: 2, AllocationRatio: 2}, store.MemoryMB: {Total: 1 << 20},
		}, req: map[string]int64{store.VCPU: 3, store.MemoryMB: 512}, want: 5},
		// memory runs out first: 7 claims of 1000 MB in 7500.
		{name: "memory binds", inv: map[string]store.Inventory{
			store.VCPU: {Total: 64}, store.MemoryMB: {Total: 8000, Reserved: 500},
		}, req: map[string]int64{store.VCPU: 1, store.MemoryMB: 1000}, want: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for round := range rounds {
				p := f.host(fmt.Sprintf("host%d", round), tt.inv)
				start := make(chan struct{})
				errs := make([]error, racers)
				var wg sync.WaitGroup
				for i := range racers {
					wg.Go(func() {
						<-start
						errs[i] = f.s.Tx(f.ctx, func(tx *store.Store) error {
							if err := tx.Claim(f.ctx, store.NewUUID(), project, user, p.UUID, tt.req); err != nil {
								return err
							}
							// Keep the winner's transaction, and its lock,
							// open a little so losers queue on it.
							time.Sleep(10 * time.Millisecond)
							return nil
						})
					})
				}
				close(start)
				wg.Wait()
				won := 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case errors.Is(err, store.ErrCapacity):
					default:
						t.Fatalf("unexpected error: %v", err)
					}
				}
				if won != tt.want {
					t.Fatalf("round %d: %d claims won, want %d", round, won, tt.want)
				}
				res, err := f.s.Resources(f.ctx, p.UUID)
				f.must(err)
				for rc, r := range res {
					if r.Used > r.Capacity() {
						t.Fatalf("%s overcommitted: used %d of %d", rc, r.Used, r.Capacity())
					}
					if want := int64(tt.want) * tt.req[rc]; r.Used != want {
						t.Fatalf("%s used = %d, want %d", rc, r.Used, want)
					}
				}
			}
		})
	}
}

func TestRelease(t *testing.T) {
	f := newFixture(t)
	p := f.host("host", compute(4, 4096, 40))
	a, b := store.NewUUID(), store.NewUUID()
	f.must(f.s.Claim(f.ctx, a, project, user, p.UUID, map[string]int64{store.VCPU: 3}))
	wantErr(t, f.s.Claim(f.ctx, b, project, user, p.UUID, map[string]int64{store.VCPU: 2}), store.ErrCapacity)
	gen := f.generation(p)
	f.must(f.s.Release(f.ctx, a))
	if g := f.generation(p); g != gen+1 {
		t.Fatalf("generation after release = %d, want %d", g, gen+1)
	}
	f.must(f.s.Claim(f.ctx, b, project, user, p.UUID, map[string]int64{store.VCPU: 2}))
	equal(t, f.usages(p)[store.VCPU], int64(2))
	f.must(f.s.Release(f.ctx, a))
	f.must(f.s.Release(f.ctx, store.NewUUID()))
	wantErr(t, f.s.Release(f.ctx, "nope"), store.ErrInvalid)
}

func TestMove(t *testing.T) {
	small := map[string]int64{store.VCPU: 2, store.MemoryMB: 1024}
	big := map[string]int64{store.VCPU: 4, store.MemoryMB: 2048}

	t.Run("to another host, confirmed", func(t *testing.T) {
		f := newFixture(t)
		src, dst := f.host("src", compute(8, 8192, 80)), f.host("dst", compute(8, 8192, 80))
		server, mig := store.NewUUID(), store.NewUUID()
		f.must(f.s.Claim(f.ctx, server, project, user, src.UUID, small))
		f.must(f.s.Move(f.ctx, server, mig, dst.UUID, big))
		// Retrying is harmless.
		f.must(f.s.Move(f.ctx, server, mig, dst.UUID, big))
		equal(t, f.usages(src)[store.VCPU], int64(2))
		equal(t, f.usages(dst)[store.VCPU], int64(4))
		_, allocs, err := f.s.ConsumerAllocations(f.ctx, mig)
		f.must(err)
		if len(allocs) != 2 || allocs[0].ProviderUUID != src.UUID {
			t.Fatalf("migration allocations = %+v", allocs)
		}
		migC, _, err := f.s.ConsumerAllocations(f.ctx, mig)
		f.must(err)
		equal(t, migC.ProjectID, project)

		f.must(f.s.ConfirmMove(f.ctx, mig))
		equal(t, f.usages(src)[store.VCPU], int64(0))
		equal(t, f.usages(dst)[store.VCPU], int64(4))
	})
	t.Run("in place needs room for both, reverted", func(t *testing.T) {
		f := newFixture(t)
		h := f.host("h", compute(6, 8192, 80))
		server, mig := store.NewUUID(), store.NewUUID()
		f.must(f.s.Claim(f.ctx, server, project, user, h.UUID, small))
		f.must(f.s.Move(f.ctx, server, mig, h.UUID, big))
		equal(t, f.usages(h)[store.VCPU], int64(6))
		f.must(f.s.RevertMove(f.ctx, server, mig))
		equal(t, f.usages(h), map[string]int64{store.VCPU: 2, store.MemoryMB: 1024, store.DiskGB: 0})
		_, allocs, err := f.s.ConsumerAllocations(f.ctx, server)
		f.must(err)
		if len(allocs) != 2 || allocs[0].Used+allocs[1].Used != 1026 {
			t.Fatalf("server allocations after revert = %+v", allocs)
		}
		_, _, err = f.s.ConsumerAllocations(f.ctx, mig)
		wantErr(t, err, store.ErrNotFound)
		f.must(f.s.RevertMove(f.ctx, server, mig)) // idempotent
		equal(t, f.usages(h)[store.VCPU], int64(2))
	})
	t.Run("no room changes nothing", func(t *testing.T) {
		f := newFixture(t)
		h := f.host("h", compute(5, 8192, 80))
		server, mig := store.NewUUID(), store.NewUUID()
		f.must(f.s.Claim(f.ctx, server, project, user, h.UUID, small))
		wantErr(t, f.s.Move(f.ctx, server, mig, h.UUID, big), store.ErrCapacity)
		equal(t, f.usages(h)[store.VCPU], int64(2))
		_, _, err := f.s.ConsumerAllocations(f.ctx, mig)
		wantErr(t, err, store.ErrNotFound)
		wantErr(t, f.s.Move(f.ctx, store.NewUUID(), mig, h.UUID, big), store.ErrNotFound)
		wantErr(t, f.s.Move(f.ctx, server, server, h.UUID, big), store.ErrInvalid)
	})
}

func TestCandidates(t *testing.T) {
	f := newFixture(t)
	a := f.host("a", compute(4, 4096, 40))
	b := f.host("b", compute(16, 32768, 400))
	c := f.host("c", map[string]store.Inventory{store.VCPU: {Total: 8, MaxUnit: 2}, store.MemoryMB: {Total: 65536}})
	agg := store.NewUUID()
	f.must(f.s.SetAggregates(f.ctx, a.UUID, []string{agg}))
	f.must(f.s.SetAggregates(f.ctx, b.UUID, []string{agg}))
	f.must(f.s.SetTraits(f.ctx, b.UUID, []string{"HW_CPU_X86_AVX2"}))
	f.must(f.s.Claim(f.ctx, store.NewUUID(), project, user, a.UUID, map[string]int64{store.MemoryMB: 3584}))

	names := func(filter store.ProviderFilter) []string {
		t.Helper()
		ps, err := f.s.ListProviders(f.ctx, filter)
		f.must(err)
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	tests := []struct {
		name   string
		filter store.ProviderFilter
		want   []string
	}{
		{"all", store.ProviderFilter{}, []string{"a", "b", "c"}},
		{"name", store.ProviderFilter{Name: "b"}, []string{"b"}},
		{"uuid", store.ProviderFilter{UUID: c.UUID}, []string{"c"}},
		{"member_of", store.ProviderFilter{MemberOf: [][]string{{agg, store.NewUUID()}}}, []string{"a", "b"}},
		{"member_of nothing", store.ProviderFilter{MemberOf: [][]string{{store.NewUUID()}}}, []string{}},
		{"required trait", store.ProviderFilter{Required: []string{"HW_CPU_X86_AVX2"}}, []string{"b"}},
		{"forbidden trait", store.ProviderFilter{Forbidden: []string{"HW_CPU_X86_AVX2"}}, []string{"a", "c"}},
		{"memory left", store.ProviderFilter{Resources: map[string]int64{store.MemoryMB: 1024}}, []string{"b", "c"}},
		{"max_unit", store.ProviderFilter{Resources: map[string]int64{store.VCPU: 4}}, []string{"a", "b"}},
		{"disk", store.ProviderFilter{Resources: map[string]int64{store.DiskGB: 1}}, []string{"a", "b"}},
		{"limit", store.ProviderFilter{Limit: 2}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { equal(t, names(tt.filter), tt.want) })
	}
	cs, err := f.s.Candidates(f.ctx, store.ProviderFilter{Resources: map[string]int64{store.VCPU: 1}, Required: []string{"HW_CPU_X86_AVX2"}})
	f.must(err)
	if len(cs) != 1 || cs[0].Resources[store.VCPU].Capacity() != 16 || !reflect.DeepEqual(cs[0].Traits, []string{"HW_CPU_X86_AVX2"}) {
		t.Fatalf("Candidates = %+v", cs)
	}
	_, err = f.s.Candidates(f.ctx, store.ProviderFilter{Resources: map[string]int64{"nope": 1}})
	wantErr(t, err, store.ErrInvalid)
}

func TestProjectUsages(t *testing.T) {
	f := newFixture(t)
	p := f.host("host", compute(16, 32768, 400))
	f.must(f.s.Claim(f.ctx, store.NewUUID(), "p1", "u1", p.UUID, map[string]int64{store.VCPU: 2, store.MemoryMB: 512}))
	f.must(f.s.Claim(f.ctx, store.NewUUID(), "p1", "u2", p.UUID, map[string]int64{store.VCPU: 1}))
	f.must(f.s.Claim(f.ctx, store.NewUUID(), "p2", "u1", p.UUID, map[string]int64{store.VCPU: 8}))
	u, n, err := f.s.ProjectUsages(f.ctx, "p1", "")
	f.must(err)
	equal(t, u, map[string]int64{store.VCPU: 3, store.MemoryMB: 512})
	equal(t, n, int64(2))
	u, n, err = f.s.ProjectUsages(f.ctx, "p1", "u2")
	f.must(err)
	equal(t, u, map[string]int64{store.VCPU: 1})
	equal(t, n, int64(1))
	allocs, err := f.s.ProviderAllocations(f.ctx, p.UUID)
	f.must(err)
	equal(t, len(allocs), 3)
}
