package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/compute/scheduler"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// hostsFrom turns placement's view into scheduler hosts, as the compute
// conductor does (here every host is up and in zone nova).
func hostsFrom(t *testing.T, ps *store.Store) []scheduler.Host {
	t.Helper()
	cands, err := ps.Candidates(t.Context(), store.ProviderFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var hosts []scheduler.Host
	for _, c := range cands {
		free := map[string]int64{}
		for rc, r := range c.Resources {
			free[rc] = r.Capacity() - r.Used
		}
		hosts = append(hosts, scheduler.Host{Name: c.Provider.Name, ProviderID: c.Provider.UUID, AvailabilityZone: "nova",
			Enabled: true, Alive: true, Free: free})
	}
	return hosts
}

// TestScheduleRacesThroughPlacement: 50 builds schedule at once from the
// same stale view of 4 hosts with room for 16; claims through placement
// decide. Exactly 16 are placed, the others get NoValidHost naming the
// lost claims, and no host is overcommitted.
func TestScheduleRacesThroughPlacement(t *testing.T) {
	const (
		builds = 50
		fit    = 16 // 4 hosts x 4 servers of 2 VCPU / 2048 MB
	)
	ctx := t.Context()
	ps := store.New(testutil.DB(t))
	for i := range 4 {
		_, err := ps.EnsureProvider(ctx, fmt.Sprintf("compute%d", i), map[string]store.Inventory{
			store.VCPU: {Total: 4, AllocationRatio: 2}, store.MemoryMB: {Total: 8704, Reserved: 512}, store.DiskGB: {Total: 1000},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	stale := hostsFrom(t, ps)
	req := scheduler.Request{Resources: map[string]int64{store.VCPU: 2, store.MemoryMB: 2048, store.DiskGB: 10}}

	for _, spread := range []bool{true, false} {
		t.Run(fmt.Sprintf("spread=%v", spread), func(t *testing.T) {
			s := scheduler.New(spread)
			start := make(chan struct{})
			chosen := make([]string, builds)
			errs := make([]error, builds)
			servers := make([]string, builds)
			var wg sync.WaitGroup
			for i := range builds {
				servers[i] = store.NewUUID()
				wg.Go(func() {
					<-start
					h, err := s.Schedule(ctx, stale, req, func(h scheduler.Host) error {
						return ps.Claim(ctx, servers[i], "proj", "user", h.ProviderID, req.Resources)
					})
					chosen[i], errs[i] = h.Name, err
				})
			}
			close(start)
			wg.Wait()

			placed := map[string]int{}
			for i, err := range errs {
				var nvh *scheduler.NoValidHost
				switch {
				case err == nil:
					placed[chosen[i]]++
				case errors.As(err, &nvh):
					if len(nvh.ClaimErrors) != 4 || !errors.Is(nvh.ClaimErrors[0].Err, store.ErrCapacity) ||
						!strings.Contains(err.Error(), "4 lost the claim") {
						t.Fatalf("NoValidHost = %v", err)
					}
				default:
					t.Fatalf("unexpected error: %v", err)
				}
			}
			total := 0
			for name, n := range placed {
				if n > 4 {
					t.Errorf("%s got %d servers, room for 4", name, n)
				}
				total += n
			}
			if total != fit {
				t.Fatalf("%d builds placed (%v), want %d", total, placed, fit)
			}
			for _, h := range hostsFrom(t, ps) {
				for rc, free := range h.Free {
					if free < 0 {
						t.Fatalf("%s overcommitted on %s: free %d", h.Name, rc, free)
					}
				}
				if h.Free[store.VCPU] != 0 || h.Free[store.MemoryMB] != 0 {
					t.Fatalf("%s not full: %v", h.Name, h.Free)
				}
			}
			// Release everything for the next round.
			for _, id := range servers {
				if err := ps.Release(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestScheduleUsesFreshState: with placement's current view, a full host
// is filtered out before any claim is tried.
func TestScheduleUsesFreshState(t *testing.T) {
	ctx := context.Background()
	ps := store.New(testutil.DB(t))
	full, err := ps.EnsureProvider(ctx, "full", map[string]store.Inventory{store.VCPU: {Total: 2}, store.MemoryMB: {Total: 2048}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.EnsureProvider(ctx, "empty", map[string]store.Inventory{store.VCPU: {Total: 1}, store.MemoryMB: {Total: 1024}}); err != nil {
		t.Fatal(err)
	}
	if err := ps.Claim(ctx, store.NewUUID(), "p", "u", full.UUID, map[string]int64{store.VCPU: 2}); err != nil {
		t.Fatal(err)
	}
	req := scheduler.Request{Resources: map[string]int64{store.VCPU: 1, store.MemoryMB: 512}}
	var tried []string
	h, err := scheduler.New(true).Schedule(ctx, hostsFrom(t, ps), req, func(h scheduler.Host) error {
		tried = append(tried, h.Name)
		return ps.Claim(ctx, store.NewUUID(), "p", "u", h.ProviderID, req.Resources)
	})
	if err != nil || h.Name != "empty" || len(tried) != 1 {
		t.Fatalf("Schedule = %s, %v after %v", h.Name, err, tried)
	}
}
