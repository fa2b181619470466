package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// fakeVolumes is the volume service at the rpc edge: volumes and
// attachments in maps, served over a real in-process NATS.
type fakeVolumes struct {
	mu          sync.Mutex
	dir         string
	status      map[string]string // volume → status
	attachments map[string]rpc.Attachment
	failUpdate  bool
	deleted     []string
}

func newFakeVolumes(t *testing.T, b *bus.Bus) *fakeVolumes {
	fv := &fakeVolumes{dir: t.TempDir(), status: map[string]string{}, attachments: map[string]rpc.Attachment{}}
	svc, err := bus.AddService(b, micro.Config{Name: "fake-volume", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	add := func(name, subject string, h micro.Handler) {
		if err := svc.AddEndpoint(name, h, micro.WithEndpointSubject(subject)); err != nil {
			t.Fatal(err)
		}
	}
	add("get", rpc.SubjVolumeGet, bus.Handle(func(_ context.Context, r rpc.VolumeRequest) (rpc.Volume, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		st, ok := fv.status[r.VolumeID]
		if !ok {
			return rpc.Volume{}, bus.Errorf(bus.CodeNotFound, "volume %s not found", r.VolumeID)
		}
		return rpc.Volume{ID: r.VolumeID, Status: st, SizeGiB: 1}, nil
	}))
	add("delete", rpc.SubjVolumeDelete, bus.Handle(func(_ context.Context, r rpc.VolumeRequest) (rpc.Empty, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		if st := fv.status[r.VolumeID]; st != "available" {
			return rpc.Empty{}, bus.Errorf(bus.CodeBadRequest, "volume %s is %s", r.VolumeID, st)
		}
		delete(fv.status, r.VolumeID)
		fv.deleted = append(fv.deleted, r.VolumeID)
		return rpc.Empty{}, nil
	}))
	add("attachment_create", rpc.SubjAttachmentCreate, bus.Handle(func(_ context.Context, r rpc.AttachmentCreateRequest) (rpc.Attachment, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		if fv.status[r.VolumeID] != "available" {
			return rpc.Attachment{}, bus.Errorf(bus.CodeBadRequest, "volume %s is not available", r.VolumeID)
		}
		a := rpc.Attachment{ID: uuid.NewString(), VolumeID: r.VolumeID, InstanceUUID: r.InstanceUUID, Status: rpc.AttachReserved}
		fv.attachments[a.ID], fv.status[r.VolumeID] = a, "reserved"
		return a, nil
	}))
	add("attachment_update", rpc.SubjAttachmentUpdate, bus.Handle(func(_ context.Context, r rpc.AttachmentUpdateRequest) (rpc.Attachment, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		a, ok := fv.attachments[r.AttachmentID]
		if !ok {
			return a, bus.Errorf(bus.CodeNotFound, "attachment %s not found", r.AttachmentID)
		}
		if fv.failUpdate {
			return a, bus.Errorf(bus.CodeInternal, "backend down")
		}
		a.Status, a.Host = rpc.AttachAttaching, r.Connector.Host
		a.ConnectionInfo = &rpc.ConnectionInfo{DriverVolumeType: rpc.ConnFile, Data: rpc.ConnectionData{
			VolumeID: a.VolumeID, DevicePath: filepath.Join(fv.dir, a.VolumeID), Format: "qcow2"}}
		fv.attachments[a.ID], fv.status[a.VolumeID] = a, "attaching"
		return a, nil
	}))
	add("attachment_complete", rpc.SubjAttachmentComplete, bus.Handle(func(_ context.Context, r rpc.AttachmentRequest) (rpc.Empty, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		a, ok := fv.attachments[r.AttachmentID]
		if !ok {
			return rpc.Empty{}, bus.Errorf(bus.CodeNotFound, "attachment %s not found", r.AttachmentID)
		}
		a.Status = rpc.AttachAttached
		fv.attachments[a.ID], fv.status[a.VolumeID] = a, "in-use"
		return rpc.Empty{}, nil
	}))
	add("attachment_delete", rpc.SubjAttachmentDelete, bus.Handle(func(_ context.Context, r rpc.AttachmentRequest) (rpc.Empty, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		if a, ok := fv.attachments[r.AttachmentID]; ok {
			delete(fv.attachments, a.ID)
			fv.status[a.VolumeID] = "available"
		}
		return rpc.Empty{}, nil
	}))
	add("begin_detaching", rpc.SubjBeginDetaching, bus.Handle(func(_ context.Context, r rpc.VolumeRequest) (rpc.Empty, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		fv.status[r.VolumeID] = "detaching"
		return rpc.Empty{}, nil
	}))
	add("roll_detaching", rpc.SubjRollDetaching, bus.Handle(func(_ context.Context, r rpc.VolumeRequest) (rpc.Empty, error) {
		fv.mu.Lock()
		defer fv.mu.Unlock()
		fv.status[r.VolumeID] = "in-use"
		return rpc.Empty{}, nil
	}))
	return fv
}

func (fv *fakeVolumes) volume(t *testing.T) string {
	id := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(fv.dir, id), "16M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	fv.mu.Lock()
	defer fv.mu.Unlock()
	fv.status[id] = "available"
	return id
}

func (fv *fakeVolumes) statusOf(id string) string {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	return fv.status[id]
}

func (fv *fakeVolumes) attachmentCount() int {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	return len(fv.attachments)
}

// disk hot-plug on the fake driver: disks by domain and target.
type fakeDisks struct {
	mu         sync.Mutex
	disks      map[string]map[string]hypervisor.DiskSpec
	holdDetach bool // the guest does not release disks
}

func (f *fakeDriver) diskState() *fakeDisks {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fd == nil {
		f.fd = &fakeDisks{disks: map[string]map[string]hypervisor.DiskSpec{}}
	}
	return f.fd
}

func (f *fakeDriver) AttachDisk(_ context.Context, id string, d hypervisor.DiskSpec) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if _, err := f.State(context.Background(), id); err != nil {
		return err
	}
	fd := f.diskState()
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.disks[id] == nil {
		fd.disks[id] = map[string]hypervisor.DiskSpec{}
	}
	fd.disks[id][d.Target] = d
	return nil
}

func (f *fakeDriver) DetachDisk(_ context.Context, id string, d hypervisor.DiskSpec) error {
	if _, err := f.State(context.Background(), id); err != nil {
		return err
	}
	fd := f.diskState()
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.holdDetach {
		return hypervisor.ErrTimeout
	}
	delete(fd.disks[id], d.Target)
	return nil
}

func (f *fakeDriver) Disks(_ context.Context, id string) ([]hypervisor.AttachedDisk, error) {
	if _, err := f.State(context.Background(), id); err != nil {
		return nil, err
	}
	fd := f.diskState()
	fd.mu.Lock()
	defer fd.mu.Unlock()
	var out []hypervisor.AttachedDisk
	for _, d := range fd.disks[id] {
		out = append(out, hypervisor.AttachedDisk{Target: d.Target, Serial: d.Serial, Live: true, Config: true})
	}
	return out, nil
}

func (f *fakeDriver) plugged(id, volume string) bool {
	disks, _ := f.Disks(context.Background(), id)
	_, ok := hypervisor.DiskBySerial(disks, volume)
	return ok
}

// volumeFixture is a running instance on the fixture's agent with the
// fake volume service on a real bus.
func volumeFixture(t *testing.T) (*fixture, *fakeVolumes, store.Instance) {
	f := newFixture(t)
	b := testutil.Bus(t)
	f.a.d.Bus = b
	fv := newFakeVolumes(t, b)
	image := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(f.images, image), "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	in := f.instance(image)
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	return f, fv, f.get(in.UUID)
}

// reserve does what the API does for an attach: a mapping attaching and
// a reserved attachment.
func (f *fixture) reserve(fv *fakeVolumes, in store.Instance, vol, device string, dot bool) store.BDM {
	f.t.Helper()
	b := store.BDM{UUID: uuid.NewString(), InstanceUUID: in.UUID, SourceType: store.SourceVolume, DestinationType: store.DestinationVolume,
		VolumeID: &vol, DeviceName: device, Status: store.BDMAttaching, DeleteOnTermination: dot}
	if err := f.store.CreateBDM(f.ctx, &b); err != nil {
		f.t.Fatal(err)
	}
	att, err := f.a.volumes().AttachmentCreate(f.ctx, volumeScope(in), vol, in.UUID)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.UpdateBDM(f.ctx, b.UUID, map[string]any{"attachment_id": att.ID}); err != nil {
		f.t.Fatal(err)
	}
	b.AttachmentID = &att.ID
	return b
}

func (f *fixture) bdm(id string) (store.BDM, bool) {
	f.t.Helper()
	b, err := f.store.GetBDM(f.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return b, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return b, true
}

func TestVolumeAttachDetach(t *testing.T) {
	f, fv, in := volumeFixture(t)
	vol := fv.volume(t)
	b := f.reserve(fv, in, vol, "/dev/vdb", false)
	for range 2 { // a redelivered attach does nothing more
		if err := f.a.volume(f.ctx, work.Volume{InstanceUUID: in.UUID, BDMUUID: b.UUID}); err != nil {
			t.Fatal(err)
		}
	}
	got, ok := f.bdm(b.UUID)
	if !ok || got.Status != store.BDMAttached || got.ConnectionInfo == nil || got.ConnectionInfo.Data.DevicePath != filepath.Join(fv.dir, vol) {
		t.Fatalf("after attach: %+v", got)
	}
	if fv.statusOf(vol) != "in-use" || !f.drv.plugged(in.UUID, vol) {
		t.Fatalf("volume %s, plugged %t", fv.statusOf(vol), f.drv.plugged(in.UUID, vol))
	}
	// The domain's definition carries the volume from now on (a
	// redefinition by resize or rebuild keeps it).
	spec := f.a.domainSpec(in, []store.BDM{got})
	if last := spec.Disks[len(spec.Disks)-1]; last.Serial != vol || last.Target != "vdb" || last.Path != filepath.Join(fv.dir, vol) {
		t.Errorf("domain spec disks: %+v", spec.Disks)
	}

	// A guest that keeps the disk: the detach rolls back.
	if err := f.store.SetBDMStatus(f.ctx, b.UUID, store.BDMAttached, store.BDMDetaching); err != nil {
		t.Fatal(err)
	}
	f.drv.diskState().holdDetach = true
	if err := f.a.volume(f.ctx, work.Volume{InstanceUUID: in.UUID, BDMUUID: b.UUID, Detach: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.bdm(b.UUID); got.Status != store.BDMAttached || fv.statusOf(vol) != "in-use" || !f.drv.plugged(in.UUID, vol) {
		t.Fatalf("after a failed detach: mapping %s, volume %s", got.Status, fv.statusOf(vol))
	}

	f.drv.diskState().holdDetach = false
	if err := f.store.SetBDMStatus(f.ctx, b.UUID, store.BDMAttached, store.BDMDetaching); err != nil {
		t.Fatal(err)
	}
	if err := f.a.volume(f.ctx, work.Volume{InstanceUUID: in.UUID, BDMUUID: b.UUID, Detach: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.bdm(b.UUID); ok || fv.statusOf(vol) != "available" || f.drv.plugged(in.UUID, vol) || fv.attachmentCount() != 0 {
		t.Fatalf("after detach: mapping left %t, volume %s, plugged %t", ok, fv.statusOf(vol), f.drv.plugged(in.UUID, vol))
	}
}

func TestVolumeAttachFailureUndoes(t *testing.T) {
	f, fv, in := volumeFixture(t)
	vol := fv.volume(t)
	b := f.reserve(fv, in, vol, "/dev/vdb", false)
	fv.failUpdate = true
	if err := f.store.AddInstanceAction(f.ctx, &store.InstanceAction{InstanceUUID: in.UUID, Action: "attach_volume", RequestID: "req-attach", ProjectID: "p1", UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	if err := f.a.volume(f.ctx, work.Volume{InstanceUUID: in.UUID, BDMUUID: b.UUID}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.bdm(b.UUID); ok || fv.statusOf(vol) != "available" || fv.attachmentCount() != 0 || f.drv.plugged(in.UUID, vol) {
		t.Fatalf("after a failed attach: mapping left %t, volume %s, attachments %d", ok, fv.statusOf(vol), fv.attachmentCount())
	}
	_, events, err := f.store.GetInstanceAction(f.ctx, in.UUID, "req-attach")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Event != eventAttachVolume || events[0].Result == nil || *events[0].Result != "Error" {
		t.Fatalf("attach events: %+v", events)
	}
}

// TestVolumeReconcile is the crash in the middle of attaches and
// detaches: at startup the agent completes what the domain has and undoes
// what it has not, so no volume stays attaching or detaching.
func TestVolumeReconcile(t *testing.T) {
	f, fv, in := volumeFixture(t)
	sc := volumeScope(in)
	// Crashed after the hot-plug, before attachment_complete.
	plugged := fv.volume(t)
	b1 := f.reserve(fv, in, plugged, "/dev/vdb", false)
	att, err := f.a.volumes().AttachmentUpdate(f.ctx, sc, b1.Attachment(), f.a.connector(), "/dev/vdb")
	if err != nil {
		t.Fatal(err)
	}
	disk, err := hypervisor.VolumeDisk(*att.ConnectionInfo, "vdb")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.drv.AttachDisk(f.ctx, in.UUID, disk); err != nil {
		t.Fatal(err)
	}
	// Crashed before the hot-plug.
	unplugged := fv.volume(t)
	b2 := f.reserve(fv, in, unplugged, "/dev/vdc", false)
	// Crashed in a detach, after the unplug.
	detached := fv.volume(t)
	b3 := f.reserve(fv, in, detached, "/dev/vdd", false)
	if err := f.store.UpdateBDM(f.ctx, b3.UUID, map[string]any{"status": store.BDMDetaching}); err != nil {
		t.Fatal(err)
	}
	// The periodic pass leaves fresh ones alone: their messages may be
	// on their way.
	f.a.reconcilePass(f.ctx, false)
	if got, _ := f.bdm(b1.UUID); got.Status != store.BDMAttaching {
		t.Fatalf("periodic pass settled a fresh attach: %s", got.Status)
	}
	// The agent restarts: what was in flight before is settled, an attach
	// asked since is left to its message.
	f.a.started = time.Now()
	fresh := f.reserve(fv, in, fv.volume(t), "/dev/vde", false)
	f.a.reconcilePass(f.ctx, true)
	if got, ok := f.bdm(fresh.UUID); !ok || got.Status != store.BDMAttaching {
		t.Errorf("an attach asked after the restart was settled: %+v", got)
	}
	if got, ok := f.bdm(b1.UUID); !ok || got.Status != store.BDMAttached || fv.statusOf(plugged) != "in-use" {
		t.Errorf("plugged volume: mapping %+v, volume %s", got, fv.statusOf(plugged))
	}
	if _, ok := f.bdm(b2.UUID); ok || fv.statusOf(unplugged) != "available" {
		t.Errorf("unplugged volume: mapping left %t, volume %s", ok, fv.statusOf(unplugged))
	}
	if _, ok := f.bdm(b3.UUID); ok || fv.statusOf(detached) != "available" {
		t.Errorf("detached volume: mapping left %t, volume %s", ok, fv.statusOf(detached))
	}
}

func TestDeleteReleasesVolumes(t *testing.T) {
	f, fv, in := volumeFixture(t)
	keep, drop := fv.volume(t), fv.volume(t)
	for _, v := range []struct {
		id, dev string
		dot     bool
	}{{keep, "/dev/vdb", false}, {drop, "/dev/vdc", true}} {
		b := f.reserve(fv, in, v.id, v.dev, v.dot)
		if err := f.a.volume(f.ctx, work.Volume{InstanceUUID: in.UUID, BDMUUID: b.UUID}); err != nil {
			t.Fatal(err)
		}
	}
	if fv.statusOf(keep) != "in-use" || fv.statusOf(drop) != "in-use" {
		t.Fatalf("not attached: %s %s", fv.statusOf(keep), fv.statusOf(drop))
	}
	if err := f.store.UpdateInstance(f.ctx, in.UUID, map[string]any{"task_state": store.TaskDeleting}); err != nil {
		t.Fatal(err)
	}
	if err := f.a.delete(f.ctx, work.Delete{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	if fv.statusOf(keep) != "available" || fv.statusOf(drop) != "" || fv.attachmentCount() != 0 {
		t.Fatalf("after delete: kept volume %s, deleted volume %q, attachments %d", fv.statusOf(keep), fv.statusOf(drop), fv.attachmentCount())
	}
	if bdms, err := f.store.ListBDMs(f.ctx, in.UUID); err != nil || len(bdms) != 0 {
		t.Fatalf("mappings left: %v %v", bdms, err)
	}
}

// bfvInstance is a building instance whose root disk is a volume the API
// asked the volume service for (status given to the fake).
func bfvInstance(t *testing.T, f *fixture, fv *fakeVolumes, status string) (store.Instance, store.BDM) {
	t.Helper()
	in := f.instance("")
	vol := fv.volume(t)
	fv.mu.Lock()
	fv.status[vol] = status
	fv.mu.Unlock()
	zero, size := 0, 1
	b := store.BDM{UUID: uuid.NewString(), InstanceUUID: in.UUID, SourceType: store.SourceImage, DestinationType: store.DestinationVolume,
		BootIndex: &zero, DeviceName: "/dev/vda", VolumeID: &vol, VolumeSize: &size, DeleteOnTermination: true, Status: store.BDMAttaching}
	if err := f.store.CreateBDM(f.ctx, &b); err != nil {
		t.Fatal(err)
	}
	return in, b
}

func TestBootFromVolume(t *testing.T) {
	f := newFixture(t)
	b := testutil.Bus(t)
	f.a.d.Bus = b
	fv := newFakeVolumes(t, b)

	in, bdm := bfvInstance(t, f, fv, "available")
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	if got := f.get(in.UUID); got.VMState != store.VMActive {
		t.Fatalf("after spawn: %s fault %+v", got.VMState, got.Fault)
	}
	got, _ := f.bdm(bdm.UUID)
	if got.Status != store.BDMAttached || got.Attachment() == "" || fv.statusOf(bdm.Volume()) != "in-use" {
		t.Fatalf("boot volume: mapping %+v, volume %s", got, fv.statusOf(bdm.Volume()))
	}
	spec := f.drv.specs[in.UUID]
	if root := spec.Disks[0]; root.Target != "vda" || root.Serial != bdm.Volume() || root.BootIndex != 1 || root.Path != filepath.Join(fv.dir, bdm.Volume()) {
		t.Errorf("root disk: %+v", root)
	}
	if _, err := os.Stat(f.a.rootDisk(in.UUID)); !os.IsNotExist(err) {
		t.Errorf("a local root disk was made for a server booted from a volume: %v", err)
	}
	if err := f.store.UpdateInstance(f.ctx, in.UUID, map[string]any{"task_state": store.TaskDeleting}); err != nil {
		t.Fatal(err)
	}
	if err := f.a.delete(f.ctx, work.Delete{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	if fv.statusOf(bdm.Volume()) != "" || fv.attachmentCount() != 0 {
		t.Errorf("delete_on_termination boot volume after delete: %q, attachments %d", fv.statusOf(bdm.Volume()), fv.attachmentCount())
	}

	// A boot volume that failed to be created: ERROR, nothing attached.
	bad, badBDM := bfvInstance(t, f, fv, "error")
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: bad.UUID}); err != nil {
		t.Fatal(err)
	}
	if got := f.get(bad.UUID); got.VMState != store.VMError || got.Fault == nil || !strings.Contains(got.Fault.Message, "did not finish being created") {
		t.Fatalf("after a failed boot volume: %s fault %+v", got.VMState, got.Fault)
	}
	if got, _ := f.bdm(badBDM.UUID); got.Attachment() != "" || fv.attachmentCount() != 0 {
		t.Errorf("attachments after a failed build: %+v, %d", got, fv.attachmentCount())
	}
}
