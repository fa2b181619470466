package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	pstore "github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// fakeDriver is a hypervisor at the true edge: domains in a map.
type fakeDriver struct {
	hypervisor.Driver
	mu    sync.Mutex
	specs map[string]hypervisor.InstanceSpec
	state map[string]hypervisor.PowerState
	fd    *fakeDisks
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{specs: map[string]hypervisor.InstanceSpec{}, state: map[string]hypervisor.PowerState{}}
}

func (f *fakeDriver) Define(_ context.Context, spec hypervisor.InstanceSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs[spec.UUID] = spec
	if _, ok := f.state[spec.UUID]; !ok {
		f.state[spec.UUID] = hypervisor.Shutdown
	}
	return nil
}

func (f *fakeDriver) set(id string, st hypervisor.PowerState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.specs[id]; !ok {
		return hypervisor.ErrNotFound
	}
	f.state[id] = st
	return nil
}

func (f *fakeDriver) Start(_ context.Context, id string) error { return f.set(id, hypervisor.Running) }
func (f *fakeDriver) Destroy(_ context.Context, id string) error {
	if err := f.set(id, hypervisor.Shutdown); err != hypervisor.ErrNotFound {
		return err
	}
	return nil
}
func (f *fakeDriver) Shutdown(_ context.Context, id string, _ time.Duration) error {
	return f.set(id, hypervisor.Shutdown)
}
func (f *fakeDriver) Undefine(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.specs, id)
	delete(f.state, id)
	return nil
}
func (f *fakeDriver) State(_ context.Context, id string) (hypervisor.PowerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.state[id]
	if !ok {
		return 0, hypervisor.ErrNotFound
	}
	return st, nil
}
func (f *fakeDriver) List(context.Context) ([]hypervisor.DomainInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []hypervisor.DomainInfo
	for id, spec := range f.specs {
		out = append(out, hypervisor.DomainInfo{UUID: id, Name: spec.Name, State: f.state[id], Managed: true})
	}
	return out, nil
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	a      *Agent
	drv    *fakeDriver
	store  *store.Store
	place  *pstore.Store
	quota  *quota.Engine
	prov   string
	images string
}

func newFixture(t *testing.T) *fixture {
	db := testutil.DB(t)
	f := &fixture{t: t, ctx: t.Context(), drv: newFakeDriver(), store: store.New(db), place: pstore.New(db),
		quota:  quota.New(db, quota.Defaults{store.QuotaInstances: 10, store.QuotaCores: 20, store.QuotaRAM: 51200}),
		images: t.TempDir()}
	p, err := f.place.EnsureProvider(f.ctx, "h1", map[string]pstore.Inventory{
		"VCPU": {Total: 4, AllocationRatio: 1}, "MEMORY_MB": {Total: 4096, AllocationRatio: 1}, "DISK_GB": {Total: 100, AllocationRatio: 1}})
	if err != nil {
		t.Fatal(err)
	}
	f.prov = p.UUID
	f.a = New(Config{Host: "h1", InstancesDir: t.TempDir(), VirtType: hypervisor.VirtQEMU},
		Deps{Store: f.store, Placement: f.place, Quota: f.quota, Driver: f.drv, Images: LocalImages{Dir: f.images}})
	return f
}

// instance creates a building instance on h1 with its quota and claim, as
// the API does.
func (f *fixture) instance(imageID string) store.Instance {
	f.t.Helper()
	host := "h1"
	task := store.TaskSpawning
	in := store.Instance{UUID: uuid.NewString(), Name: "vm one", ProjectID: "p1", UserID: "u1", ImageRef: imageID,
		FlavorID: "1", VCPUs: 1, MemoryMB: 128, RootGB: 1, VMState: store.VMBuilding, TaskState: &task, Host: &host,
		Metadata: store.Specs{}, FlavorExtraSpecs: store.Specs{}}
	err := f.store.Tx(f.ctx, func(tx *store.Store) error {
		if err := tx.ConsumeQuota(f.ctx, f.quota, "p1", store.InstanceQuota(in)); err != nil {
			return err
		}
		return tx.CreateInstance(f.ctx, &in)
	})
	if err == nil {
		err = f.place.Claim(f.ctx, in.UUID, "p1", "u1", f.prov, map[string]int64{"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1})
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return in
}

func (f *fixture) get(id string) store.Instance {
	f.t.Helper()
	in, err := f.store.GetInstance(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return in
}

func (f *fixture) used() int64 {
	f.t.Helper()
	u, err := f.place.Usages(f.ctx, f.prov)
	if err != nil {
		f.t.Fatal(err)
	}
	return u["MEMORY_MB"]
}

func TestSpawnFailureRecordsFault(t *testing.T) {
	f := newFixture(t)
	in := f.instance(uuid.NewString()) // no such image on this host
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	got := f.get(in.UUID)
	if got.VMState != store.VMError || got.TaskState != nil || got.Fault == nil || !strings.Contains(got.Fault.Message, "no data on this host") {
		t.Fatalf("after failed spawn: %+v fault %+v", got, got.Fault)
	}
	if f.used() != 0 {
		t.Errorf("allocation not released: %d MB used", f.used())
	}
	if _, err := os.Stat(f.a.instanceDir(in.UUID)); !os.IsNotExist(err) {
		t.Errorf("instance dir left behind: %v", err)
	}
}

func TestSpawnActionDelete(t *testing.T) {
	f := newFixture(t)
	image := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(f.images, image), "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	in := f.instance(image)
	for range 2 { // a redelivered spawn does nothing more
		if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
			t.Fatal(err)
		}
	}
	got := f.get(in.UUID)
	if got.VMState != store.VMActive || got.PowerState != int(hypervisor.Running) || got.LaunchedAt == nil {
		t.Fatalf("after spawn: %+v fault %+v", got, got.Fault)
	}
	spec := f.drv.specs[in.UUID]
	if len(spec.Disks) != 2 || spec.Disks[1].Bus != hypervisor.BusIDE || spec.Disks[1].Device != hypervisor.DeviceCDROM {
		t.Errorf("disks: %+v", spec.Disks)
	}
	for _, name := range []string{"disk", "disk.config"} {
		if _, err := os.Stat(filepath.Join(f.a.instanceDir(in.UUID), name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	if err := f.a.action(f.ctx, work.Action{InstanceUUID: in.UUID, Action: work.ActionStop}); err != nil {
		t.Fatal(err)
	}
	if got := f.get(in.UUID); got.VMState != store.VMStopped || got.PowerState != int(hypervisor.Shutdown) {
		t.Fatalf("after stop: %s/%d", got.VMState, got.PowerState)
	}

	if err := f.a.delete(f.ctx, work.Delete{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetInstance(f.ctx, in.UUID); err == nil {
		t.Fatal("instance still live after delete")
	}
	if _, ok := f.drv.specs[in.UUID]; ok {
		t.Error("domain still defined")
	}
	if _, err := os.Stat(f.a.instanceDir(in.UUID)); !os.IsNotExist(err) {
		t.Errorf("instance dir left behind: %v", err)
	}
	if f.used() != 0 {
		t.Errorf("allocation not released")
	}
	u, err := f.quota.Usage(f.ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if u[store.QuotaInstances].InUse != 0 || u[store.QuotaRAM].InUse != 0 {
		t.Errorf("quota not released: %+v", u)
	}
}

func TestReconcile(t *testing.T) {
	f := newFixture(t)
	// A domain this agent made for an instance that no longer exists.
	leftover := uuid.NewString()
	if err := os.MkdirAll(f.a.instanceDir(leftover), 0o755); err != nil {
		t.Fatal(err)
	}
	// A kumo domain of another cloud sharing this libvirt: no dir here.
	foreign := uuid.NewString()
	for _, id := range []string{leftover, foreign} {
		spec := hypervisor.InstanceSpec{UUID: id, Name: domainName(id), VCPUs: 1, MemoryMB: 64, VirtType: hypervisor.VirtQEMU, ConsoleLog: "/dev/null"}
		if err := f.drv.Define(f.ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	// An active instance whose domain vanished.
	gone := f.instance(uuid.NewString())
	if err := f.store.UpdateInstance(f.ctx, gone.UUID, map[string]any{"vm_state": store.VMActive, "task_state": nil}); err != nil {
		t.Fatal(err)
	}

	f.a.reconcile(f.ctx)

	if _, ok := f.drv.specs[leftover]; ok {
		t.Error("leftover domain not removed")
	}
	if _, err := os.Stat(f.a.instanceDir(leftover)); !os.IsNotExist(err) {
		t.Errorf("leftover dir: %v", err)
	}
	if _, ok := f.drv.specs[foreign]; !ok {
		t.Error("another cloud's domain was removed")
	}
	if got := f.get(gone.UUID); got.VMState != store.VMError || got.Fault == nil {
		t.Errorf("instance without domain: %s %+v", got.VMState, got.Fault)
	}
}

func (f *fakeDriver) Stats(context.Context) (hypervisor.HostStats, error) {
	return hypervisor.HostStats{VCPUs: 8, MemoryMB: 16384, DiskGB: 200}, nil
}

func (f *fakeDriver) ConsoleOutput(_ context.Context, id string, lines int) (string, error) {
	if _, err := f.State(context.Background(), id); err != nil {
		return "", err
	}
	return "KUMO-TINY READY fake\n", nil
}

// TestAgentOverTheBus starts the agent on a real NATS server: it registers
// its provider and heartbeat, answers console requests, and consumes spawn
// messages published on its host's work subject.
func TestAgentOverTheBus(t *testing.T) {
	f := newFixture(t)
	b := testutil.Bus(t)
	f.a.d.Bus = b
	if err := f.a.Start(f.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.a.Stop(context.Background()) })

	invs, err := f.place.Inventories(f.ctx, f.prov)
	if err != nil || invs["VCPU"].Total != 8 || invs["MEMORY_MB"].Total != 16384 || invs["DISK_GB"].Total != 200 {
		t.Fatalf("inventories: %+v %v", invs, err)
	}
	beats, err := work.Heartbeats(f.ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	alive, err := beats.Alive(f.ctx)
	if err != nil || alive["h1"].ProviderID != f.prov {
		t.Fatalf("heartbeat: %+v %v", alive, err)
	}

	image := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(f.images, image), "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	in := f.instance(image)
	q, err := work.Queue(f.ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(f.ctx, q, work.Subject("h1", work.VerbSpawn), work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for f.get(in.UUID).VMState != store.VMActive {
		if time.Now().After(deadline) {
			t.Fatalf("not active: %+v", f.get(in.UUID))
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep, err := bus.Request[work.ConsoleRequest, work.ConsoleReply](f.ctx, b, work.ConsoleSubject("h1"), work.ConsoleRequest{InstanceUUID: in.UUID})
	if err != nil || !strings.Contains(rep.Output, "KUMO-TINY READY") {
		t.Fatalf("console: %+v %v", rep, err)
	}
	_, err = bus.Request[work.ConsoleRequest, work.ConsoleReply](f.ctx, b, work.ConsoleSubject("h1"), work.ConsoleRequest{InstanceUUID: uuid.NewString()})
	if !bus.HasCode(err, bus.CodeNotFound) {
		t.Fatalf("console of an unknown instance: %v", err)
	}
}
