package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/config"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// Events of the fake hypervisor: none (the agent falls back on its
// periodic sync, as it does when libvirt cannot deliver events).
func (f *fakeDriver) Events(context.Context) (<-chan hypervisor.DomainEvent, error) {
	return nil, errors.New("the fake hypervisor has no events")
}

func TestPlanPowerSync(t *testing.T) {
	busy := store.TaskPoweringOff
	tests := []struct {
		name    string
		vm      string
		task    *string
		db      hypervisor.PowerState
		dom     hypervisor.PowerState
		act     bool
		wantVM  string
		off     bool
		wantPow hypervisor.PowerState
	}{
		{"active and running", store.VMActive, nil, hypervisor.Running, hypervisor.Running, false, "", false, hypervisor.Running},
		{"active, destroyed behind our back", store.VMActive, nil, hypervisor.Running, hypervisor.Shutdown, true, store.VMStopped, true, hypervisor.Shutdown},
		{"active, crashed", store.VMActive, nil, hypervisor.Running, hypervisor.Crashed, true, store.VMStopped, true, hypervisor.Crashed},
		{"active, suspended", store.VMActive, nil, hypervisor.Running, hypervisor.Suspended, true, store.VMStopped, true, hypervisor.Suspended},
		{"active, paused: only recorded", store.VMActive, nil, hypervisor.Running, hypervisor.Paused, true, "", false, hypervisor.Paused},
		{"task in progress", store.VMActive, &busy, hypervisor.Running, hypervisor.Shutdown, false, "", false, 0},
		{"stopped but running: powered off", store.VMStopped, nil, hypervisor.Shutdown, hypervisor.Running, true, "", true, hypervisor.Shutdown},
		{"stopped and off", store.VMStopped, nil, hypervisor.Shutdown, hypervisor.Shutdown, false, "", false, hypervisor.Shutdown},
		{"stopped, stale power state", store.VMStopped, nil, hypervisor.Running, hypervisor.Shutdown, true, "", false, hypervisor.Shutdown},
		{"paused, shut off", store.VMPaused, nil, hypervisor.Paused, hypervisor.Shutdown, true, store.VMStopped, true, hypervisor.Shutdown},
		{"building: only recorded", store.VMBuilding, nil, hypervisor.NoState, hypervisor.Shutdown, true, "", false, hypervisor.Shutdown},
		{"error: never stopped", store.VMError, nil, hypervisor.Running, hypervisor.Shutdown, true, "", false, hypervisor.Shutdown},
		{"suspended and saved", store.VMSuspended, nil, hypervisor.Suspended, hypervisor.Suspended, false, "", false, hypervisor.Suspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, act := planPowerSync(tt.vm, tt.task, int(tt.db), tt.dom)
			if act != tt.act || p.VMState != tt.wantVM || p.PowerOff != tt.off || (act && p.Power != tt.wantPow) {
				t.Fatalf("plan = %+v, %v; want act %v vm %q off %v power %s", p, act, tt.act, tt.wantVM, tt.off, tt.wantPow)
			}
		})
	}
}

func TestInventories(t *testing.T) {
	st := hypervisor.HostStats{VCPUs: 2, MemoryMB: 4000, DiskGB: 50}
	def := inventories(st, config.DefaultAllocation())
	if def["VCPU"].AllocationRatio != 16 || def["MEMORY_MB"].Reserved != 512 || def["MEMORY_MB"].AllocationRatio != 1.5 || def["DISK_GB"].AllocationRatio != 1 {
		t.Errorf("defaults: %+v", def)
	}
	if small := inventories(hypervisor.HostStats{VCPUs: 1, MemoryMB: 1000, DiskGB: 1}, config.Allocation{ReservedMemoryMB: -1}); small["MEMORY_MB"].Reserved != 250 || small["VCPU"].AllocationRatio != 16 {
		t.Errorf("a quarter of a small host's memory, and zero ratios default: %+v", small)
	}
	got := inventories(st, config.Allocation{CPURatio: 5, RAMRatio: 1, DiskRatio: 2, ReservedCPUs: 1, ReservedMemoryMB: 100, ReservedDiskMB: 1025})
	if v := got["VCPU"]; v.Total != 2 || v.Reserved != 1 || v.AllocationRatio != 5 {
		t.Errorf("VCPU %+v", v)
	}
	if m := got["MEMORY_MB"]; m.Total != 4000 || m.Reserved != 100 || m.AllocationRatio != 1 {
		t.Errorf("MEMORY_MB %+v", m)
	}
	if d := got["DISK_GB"]; d.Total != 50 || d.Reserved != 2 || d.AllocationRatio != 2 {
		t.Errorf("DISK_GB %+v (reserved MB round up to GB)", d)
	}
	if capped := inventories(st, config.Allocation{ReservedCPUs: 8}); capped["VCPU"].Reserved != 2 {
		t.Errorf("reserve larger than the host: %+v", capped["VCPU"])
	}
}

// tinyImage writes a 64 MB qcow2 image into the fixture's image store.
func (f *fixture) tinyImage() string {
	f.t.Helper()
	image := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(f.images, image), "64M").CombinedOutput(); err != nil {
		f.t.Fatalf("qemu-img: %v %s", err, out)
	}
	return image
}

// TestImageCache: disks back onto the host's cached copy, which survives
// the image service deleting its file, and is evicted once no disk uses it.
func TestImageCache(t *testing.T) {
	f := newFixture(t)
	image := f.tinyImage()
	in := f.instance(image)
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(f.a.cfg.InstancesDir, "_base", image)
	backing, err := qcow2Backing(filepath.Join(f.a.instanceDir(in.UUID), "disk"))
	if err != nil || backing != cached {
		t.Fatalf("disk backs onto %q (%v), want %s", backing, err, cached)
	}
	if err := os.Remove(filepath.Join(f.images, image)); err != nil {
		t.Fatal(err)
	}
	f.a.reconcile(f.ctx)
	if _, err := os.Stat(cached); err != nil {
		t.Fatalf("cached image in use was evicted: %v", err)
	}
	if _, err := os.Stat(f.a.baseDir()); err != nil || f.get(in.UUID).VMState != store.VMActive {
		t.Fatalf("_base taken for an instance dir? %v %s", err, f.get(in.UUID).VMState)
	}
	// A second server of the deleted image still builds from the cache.
	in2 := f.instance(image)
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in2.UUID}); err != nil || f.get(in2.UUID).VMState != store.VMActive {
		t.Fatalf("spawn from the cache: %v %+v", err, f.get(in2.UUID).Fault)
	}
	for _, id := range []string{in.UUID, in2.UUID} {
		if err := f.a.delete(f.ctx, work.Delete{InstanceUUID: id}); err != nil {
			t.Fatal(err)
		}
	}
	stale := filepath.Join(f.a.baseDir(), tmpPrefix+image+"-1")
	if err := os.WriteFile(stale, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.a.reconcilePass(f.ctx, true)
	for _, p := range []string{cached, stale} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s not cleaned: %v", p, err)
		}
	}
}

// TestCrashRecovery: the startup pass adopts the running domain of a build
// the agent died in, rebuilds one it left defined but off, clears tasks
// interrupted by the crash from the real domain state, and removes an
// instance directory nothing owns.
func TestCrashRecovery(t *testing.T) {
	f := newFixture(t)
	image := f.tinyImage()
	spec := func(id string) hypervisor.InstanceSpec {
		return hypervisor.InstanceSpec{UUID: id, Name: domainName(id), VCPUs: 1, MemoryMB: 64, VirtType: hypervisor.VirtQEMU, ConsoleLog: "/dev/null"}
	}
	running := f.instance(image) // died after starting the domain
	if err := f.drv.Define(f.ctx, spec(running.UUID)); err != nil {
		t.Fatal(err)
	}
	_ = f.drv.Start(f.ctx, running.UUID)
	defined := f.instance(image) // died between define and start
	if err := f.drv.Define(f.ctx, spec(defined.UUID)); err != nil {
		t.Fatal(err)
	}
	stopping := f.instance(image) // died while powering off
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: stopping.UUID}); err != nil {
		t.Fatal(err)
	}
	_ = f.drv.Destroy(f.ctx, stopping.UUID)
	if err := f.store.UpdateInstance(f.ctx, stopping.UUID, map[string]any{"task_state": store.TaskPoweringOff}); err != nil {
		t.Fatal(err)
	}
	orphan := uuid.NewString() // died before defining a domain for an instance since deleted
	if err := os.MkdirAll(f.a.instanceDir(orphan), 0o755); err != nil {
		t.Fatal(err)
	}

	f.a.reconcilePass(f.ctx, true)

	if got := f.get(running.UUID); got.VMState != store.VMActive || got.TaskState != nil || got.PowerState != int(hypervisor.Running) {
		t.Errorf("running domain not adopted: %s %v %d", got.VMState, got.TaskState, got.PowerState)
	}
	if _, err := os.Stat(f.a.instanceDir(running.UUID)); !os.IsNotExist(err) {
		t.Errorf("adopting rebuilt the disk of a running guest: %v", err)
	}
	if got := f.get(defined.UUID); got.VMState != store.VMActive || f.drv.state[defined.UUID] != hypervisor.Running {
		t.Errorf("defined domain not rebuilt: %s %+v", got.VMState, got.Fault)
	}
	if _, err := os.Stat(filepath.Join(f.a.instanceDir(defined.UUID), "disk")); err != nil {
		t.Errorf("rebuilt instance has no disk: %v", err)
	}
	if got := f.get(stopping.UUID); got.VMState != store.VMStopped || got.TaskState != nil || got.PowerState != int(hypervisor.Shutdown) {
		t.Errorf("interrupted stop: %s %v %d", got.VMState, got.TaskState, got.PowerState)
	}
	if _, err := os.Stat(f.a.instanceDir(orphan)); !os.IsNotExist(err) {
		t.Errorf("orphan instance dir kept: %v", err)
	}
	// A spawn redelivered after the restart builds nothing twice.
	before := f.drv.specs[defined.UUID]
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: defined.UUID}); err != nil {
		t.Fatal(err)
	}
	if f.drv.specs[defined.UUID].Name != before.Name || f.get(defined.UUID).VMState != store.VMActive {
		t.Errorf("redelivered spawn changed the instance")
	}
}

// TestPowerSync: an active instance whose domain went off behind kumo's
// back is stopped; a stopped one whose domain runs is powered off again.
func TestPowerSync(t *testing.T) {
	f := newFixture(t)
	image := f.tinyImage()
	a, b := f.instance(image), f.instance(image)
	for _, in := range []store.Instance{a, b} {
		if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
			t.Fatal(err)
		}
	}
	_ = f.drv.Destroy(f.ctx, a.UUID) // virsh destroy
	if err := f.store.UpdateInstance(f.ctx, b.UUID, map[string]any{"vm_state": store.VMStopped}); err != nil {
		t.Fatal(err)
	}
	f.a.syncPowerStates(f.ctx)
	if got := f.get(a.UUID); got.VMState != store.VMStopped || got.PowerState != int(hypervisor.Shutdown) {
		t.Errorf("destroyed domain: %s/%d", got.VMState, got.PowerState)
	}
	if got := f.get(b.UUID); got.VMState != store.VMStopped || got.PowerState != int(hypervisor.Shutdown) || f.drv.state[b.UUID] != hypervisor.Shutdown {
		t.Errorf("running domain of a stopped instance: %s/%d, domain %s", got.VMState, got.PowerState, f.drv.state[b.UUID])
	}
}

// TestRegisterUpdatesInventories: registering again (a restart with other
// allocation settings) replaces the provider's inventories.
func TestRegisterUpdatesInventories(t *testing.T) {
	f := newFixture(t)
	beats, err := work.Heartbeats(f.ctx, testutil.Bus(t))
	if err != nil {
		t.Fatal(err)
	}
	f.a.beats = beats
	for _, al := range []config.Allocation{config.DefaultAllocation(), {CPURatio: 2.5, RAMRatio: 1, DiskRatio: 1, ReservedCPUs: 7, ReservedMemoryMB: 1024}} {
		f.a.cfg.Allocation = al
		if err := f.a.register(f.ctx); err != nil {
			t.Fatal(err)
		}
		invs, err := f.place.Inventories(f.ctx, f.prov)
		if err != nil {
			t.Fatal(err)
		}
		want := inventories(hypervisor.HostStats{VCPUs: 8, MemoryMB: 16384, DiskGB: 200}, al)
		for rc, w := range want {
			if g := invs[rc]; g.Total != w.Total || g.Reserved != w.Reserved || g.AllocationRatio != w.AllocationRatio {
				t.Errorf("%+v: %s = %+v, want %+v", al, rc, g, w)
			}
		}
	}
}

// TestImageCacheConcurrentFetch: spawns racing for an image fetch it once,
// by copy when the image service's file is on another file system, and
// all see the whole file.
func TestImageCacheConcurrentFetch(t *testing.T) {
	for _, tc := range []struct{ name, images string }{{"link", ""}, {"copy", "/dev/shm"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.images != "" {
				dir, err := os.MkdirTemp(tc.images, "kumo-images-")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(dir) })
				f.images, f.a.d.Images = dir, LocalImages{Dir: dir}
			}
			image := f.tinyImage()
			src, err := os.Stat(filepath.Join(f.images, image))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- f.a.withBaseImage(f.ctx, image, func(path, format string) error {
						st, err := os.Stat(path)
						if err == nil && (st.Size() != src.Size() || format != "qcow2") {
							err = fmt.Errorf("cached %s: %d bytes, %s", path, st.Size(), format)
						}
						return err
					})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			entries, _ := os.ReadDir(f.a.baseDir())
			if len(entries) != 1 || entries[0].Name() != image {
				t.Fatalf("_base holds %v", entries)
			}
			cached, _ := os.Stat(filepath.Join(f.a.baseDir(), image))
			if linked := os.SameFile(src, cached); linked != (tc.images == "") {
				t.Errorf("hard linked = %v", linked)
			}
		})
	}
}
