package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
)

// image creates a qcow2 image file the agent can back disks with.
func (f *fixture) image() string {
	f.t.Helper()
	id := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(f.images, id), "64M").CombinedOutput(); err != nil {
		f.t.Fatalf("qemu-img: %v %s", err, out)
	}
	return id
}

// resizeTo does what the API does before handing a resize to the agent:
// the migration, the new flavor and quota, and placement's move.
func (f *fixture) resizeTo(in store.Instance, name string, ram, disk int) store.Migration {
	f.t.Helper()
	m := store.Migration{UUID: uuid.NewString(), InstanceUUID: in.UUID, ProjectID: "p1", UserID: "u1",
		NewFlavor: store.MigrationFlavor{FlavorID: name, Name: name, VCPUs: 1, MemoryMB: ram, RootGB: disk, ExtraSpecs: store.Specs{}}}
	if _, err := f.store.StartResize(f.ctx, f.quota, &m, &store.InstanceAction{InstanceUUID: in.UUID, Action: "resize", UserID: "u1", ProjectID: "p1"}); err != nil {
		f.t.Fatal(err)
	}
	res := map[string]int64{"VCPU": 1, "MEMORY_MB": int64(ram), "DISK_GB": int64(disk)}
	if err := f.place.Move(f.ctx, in.UUID, m.UUID, f.prov, res); err != nil {
		f.t.Fatal(err)
	}
	if err := f.a.task(f.ctx, work.Task{InstanceUUID: in.UUID, Task: work.TaskResize, MigrationUUID: m.UUID}); err != nil {
		f.t.Fatal(err)
	}
	return m
}

// settle confirms or reverts a resize as the API and then the agent do.
func (f *fixture) settle(in store.Instance, m store.Migration, task string) {
	f.t.Helper()
	status, cols := store.MigrationConfirming, map[string]any{}
	if task == work.TaskRevertResize {
		status, cols["task_state"] = store.MigrationReverting, store.TaskResizeReverting
	}
	if err := f.store.ResizeStep(f.ctx, m, []string{store.MigrationFinished}, status, cols, nil); err != nil {
		f.t.Fatal(err)
	}
	if err := f.a.task(f.ctx, work.Task{InstanceUUID: in.UUID, Task: task, MigrationUUID: m.UUID}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) migration(id string) store.Migration {
	f.t.Helper()
	m, err := f.store.GetMigration(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func TestResizeRevertConfirmAndRollback(t *testing.T) {
	f := newFixture(t)
	in := f.instance(f.image())
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	dir := f.a.instanceDir(in.UUID)
	backup := f.a.resizeBackup(in.UUID)

	m := f.resizeTo(in, "big", 256, 2)
	got := f.get(in.UUID)
	if got.VMState != store.VMResized || got.TaskState != nil || got.PowerState != int(hypervisor.Running) || got.MemoryMB != 256 {
		t.Fatalf("after resize: %s task %v power %d ram %d fault %+v", got.VMState, got.TaskState, got.PowerState, got.MemoryMB, got.Fault)
	}
	if spec := f.drv.specs[in.UUID]; spec.MemoryMB != 256 {
		t.Errorf("domain memory %d after resize", spec.MemoryMB)
	}
	if size, _, _ := imgInfo(t, filepath.Join(dir, "disk")); size != 2<<30 {
		t.Errorf("disk is %d bytes after resize to 2 GB", size)
	}
	if _, err := os.Stat(backup); err != nil {
		t.Errorf("no backup of the old disk: %v", err)
	}
	if st := f.migration(m.UUID).Status; st != store.MigrationFinished || f.used() != 128+256 {
		t.Errorf("migration %s, %d MB used", st, f.used())
	}
	// A redelivered resize does nothing more.
	if err := f.a.task(f.ctx, work.Task{InstanceUUID: in.UUID, Task: work.TaskResize, MigrationUUID: m.UUID}); err != nil {
		t.Fatal(err)
	}
	if f.get(in.UUID).VMState != store.VMResized {
		t.Fatal("redelivered resize changed the instance")
	}

	f.settle(in, m, work.TaskRevertResize)
	got = f.get(in.UUID)
	if got.VMState != store.VMActive || got.TaskState != nil || got.MemoryMB != 128 || got.RootGB != 1 || f.drv.specs[in.UUID].MemoryMB != 128 {
		t.Fatalf("after revert: %s task %v ram %d", got.VMState, got.TaskState, got.MemoryMB)
	}
	if size, _, _ := imgInfo(t, filepath.Join(dir, "disk")); size != 1<<30 {
		t.Errorf("disk is %d bytes after revert", size)
	}
	if _, err := os.Stat(backup); !os.IsNotExist(err) || f.used() != 128 || f.migration(m.UUID).Status != store.MigrationReverted {
		t.Errorf("after revert: backup %v, %d MB used, migration %s", err, f.used(), f.migration(m.UUID).Status)
	}

	m = f.resizeTo(in, "big", 256, 2)
	f.settle(in, m, work.TaskConfirmResize)
	got = f.get(in.UUID)
	if got.VMState != store.VMActive || got.MemoryMB != 256 || f.used() != 256 || f.migration(m.UUID).Status != store.MigrationConfirmed {
		t.Fatalf("after confirm: %s ram %d, %d MB used", got.VMState, got.MemoryMB, f.used())
	}
	if _, err := os.Stat(backup); !os.IsNotExist(err) {
		t.Errorf("backup kept after confirm: %v", err)
	}

	// A smaller disk is refused before the guest is touched.
	m = f.resizeTo(in, "small", 128, 1)
	got = f.get(in.UUID)
	if got.VMState != store.VMActive || got.TaskState != nil || got.MemoryMB != 256 || got.Fault == nil ||
		!strings.Contains(got.Fault.Message, "Unable to resize disk down") || got.PowerState != int(hypervisor.Running) {
		t.Fatalf("after a failed resize: %s task %v ram %d fault %+v", got.VMState, got.TaskState, got.MemoryMB, got.Fault)
	}
	if f.used() != 256 || f.migration(m.UUID).Status != store.MigrationError {
		t.Errorf("after a failed resize: %d MB used, migration %s", f.used(), f.migration(m.UUID).Status)
	}

	// Deleting a server awaiting confirmation settles the resize.
	f.resizeTo(in, "huge", 512, 2)
	if err := f.a.delete(f.ctx, work.Delete{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	u, err := f.quota.Usage(f.ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if f.used() != 0 || u[store.QuotaRAM].InUse != 0 || u[store.QuotaCores].InUse != 0 {
		t.Errorf("after delete in VERIFY_RESIZE: %d MB used, quota %+v", f.used(), u)
	}
}

func TestRebuild(t *testing.T) {
	f := newFixture(t)
	in := f.instance(f.image())
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	image2 := f.image()
	_, err := f.store.BeginTask(f.ctx, in.UUID, []string{store.VMActive}, map[string]any{
		"image_ref": image2, "name": "rebuilt", "task_state": store.TaskRebuilding}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.task(f.ctx, work.Task{InstanceUUID: in.UUID, Task: work.TaskRebuild}); err != nil {
		t.Fatal(err)
	}
	got := f.get(in.UUID)
	if got.VMState != store.VMActive || got.TaskState != nil || got.PowerState != int(hypervisor.Running) {
		t.Fatalf("after rebuild: %s task %v power %d fault %+v", got.VMState, got.TaskState, got.PowerState, got.Fault)
	}
	if _, _, backing := imgInfo(t, filepath.Join(f.a.instanceDir(in.UUID), "disk")); !strings.HasSuffix(backing, image2) {
		t.Errorf("disk backed by %s, want image %s", backing, image2)
	}
	if spec := f.drv.specs[in.UUID]; spec.Metadata["name"] != "rebuilt" {
		t.Errorf("domain metadata %v", spec.Metadata)
	}

	// A rebuild from an image this host does not have leaves ERROR.
	missing := uuid.NewString()
	if _, err := f.store.BeginTask(f.ctx, in.UUID, []string{store.VMActive}, map[string]any{
		"image_ref": missing, "task_state": store.TaskRebuilding}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.a.task(f.ctx, work.Task{InstanceUUID: in.UUID, Task: work.TaskRebuild}); err != nil {
		t.Fatal(err)
	}
	if got := f.get(in.UUID); got.VMState != store.VMError || got.Fault == nil || !strings.Contains(got.Fault.Message, "Rebuild of instance") {
		t.Errorf("after a failed rebuild: %s fault %+v", got.VMState, got.Fault)
	}
}
