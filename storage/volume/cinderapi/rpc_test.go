package cinderapi

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"libvirt.org/go/libvirt"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/storage/volume/driver/local"
	"github.com/kumo-cloud/kumo/storage/volume/manager"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// TestRPCAttachFlow drives compute's bus calls against the volume API and
// a manager on the real local driver, with real PostgreSQL and NATS: the
// attach and detach state machine, its idempotent retries and its
// refusals, as compute sees them.
func TestRPCAttachFlow(t *testing.T) {
	ctx := t.Context()
	gdb := testutil.DB(t)
	b := testutil.Bus(t)
	log := slog.New(slog.DiscardHandler)
	defaults, err := store.QuotaDefaults()
	if err != nil {
		t.Fatal(err)
	}
	q := quota.New(gdb, defaults)
	st := store.New(gdb)
	host := "node-" + uuid.NewString()[:8]

	drv, err := local.New(ctx, local.Config{Dir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	pool := drv.PoolName()
	t.Cleanup(func() { undefinePool(t, pool) })
	mgr := manager.New(manager.Config{Host: host}, manager.Deps{Store: st, Bus: b, Quota: q, Driver: drv, Log: log})
	if err := mgr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Stop(context.Background()); drv.Close() })
	svc := New(Config{Host: host, Backend: "local", ImageURL: "http://127.0.0.1:1/image"}, Deps{Store: st, Bus: b, Quota: q, Log: log})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	events := make(chan bus.Event, 100)
	stopEvents, err := bus.SubscribeEvents(ctx, b, bus.EventFilter("volume", "volume", ""), func(ev bus.Event) { events <- ev })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopEvents)

	project, other := uuid.NewString(), uuid.NewString()
	scope := rpc.Scope{ProjectID: project, UserID: "u"}
	call := func(subject string, req, resp any) error {
		t.Helper()
		var err error
		switch r := req.(type) {
		case rpc.VolumeCreateRequest:
			*resp.(*rpc.Volume), err = bus.Request[rpc.VolumeCreateRequest, rpc.Volume](ctx, b, subject, r)
		case rpc.VolumeRequest:
			if out, ok := resp.(*rpc.Volume); ok {
				*out, err = bus.Request[rpc.VolumeRequest, rpc.Volume](ctx, b, subject, r)
			} else {
				_, err = bus.Request[rpc.VolumeRequest, rpc.Empty](ctx, b, subject, r)
			}
		case rpc.AttachmentCreateRequest:
			*resp.(*rpc.Attachment), err = bus.Request[rpc.AttachmentCreateRequest, rpc.Attachment](ctx, b, subject, r)
		case rpc.AttachmentUpdateRequest:
			*resp.(*rpc.Attachment), err = bus.Request[rpc.AttachmentUpdateRequest, rpc.Attachment](ctx, b, subject, r)
		case rpc.AttachmentRequest:
			_, err = bus.Request[rpc.AttachmentRequest, rpc.Empty](ctx, b, subject, r)
		}
		return err
	}
	var volID string
	get := func() rpc.Volume {
		t.Helper()
		var v rpc.Volume
		if err := call(rpc.SubjVolumeGet, rpc.VolumeRequest{Scope: scope, VolumeID: volID}, &v); err != nil {
			t.Fatalf("volume_get: %v", err)
		}
		return v
	}

	var v rpc.Volume
	if err := call(rpc.SubjVolumeCreate, rpc.VolumeCreateRequest{Scope: scope, Name: "boot", SizeGiB: 1}, &v); err != nil {
		t.Fatal(err)
	}
	if v.Status != "creating" || v.SizeGiB != 1 || v.ProjectID != project {
		t.Fatalf("created %+v", v)
	}
	volID = v.ID
	testutil.WaitFor(t, time.Minute, func() error {
		if got := get(); got.Status != "available" {
			return fmt.Errorf("status %s", got.Status)
		}
		return nil
	})

	instance := uuid.NewString()
	var a, again rpc.Attachment
	if err := call(rpc.SubjAttachmentCreate, rpc.AttachmentCreateRequest{Scope: scope, VolumeID: v.ID, InstanceUUID: instance}, &a); err != nil {
		t.Fatal(err)
	}
	if a.Status != rpc.AttachReserved || get().Status != "reserved" {
		t.Fatalf("reserve: %+v, volume %s", a, get().Status)
	}
	if err := call(rpc.SubjAttachmentCreate, rpc.AttachmentCreateRequest{Scope: scope, VolumeID: v.ID, InstanceUUID: instance}, &again); err != nil || again.ID != a.ID {
		t.Fatalf("retried reserve: %+v %v", again, err)
	}
	err = call(rpc.SubjAttachmentCreate, rpc.AttachmentCreateRequest{Scope: scope, VolumeID: v.ID, InstanceUUID: uuid.NewString()}, &again)
	wantCode(t, err, bus.CodeBadRequest, "a second instance")
	err = call(rpc.SubjAttachmentCreate, rpc.AttachmentCreateRequest{Scope: rpc.Scope{ProjectID: other}, VolumeID: v.ID, InstanceUUID: uuid.NewString()}, &again)
	wantCode(t, err, bus.CodeNotFound, "another project")

	hostname, _ := os.Hostname()
	if err := call(rpc.SubjAttachmentUpdate, rpc.AttachmentUpdateRequest{Scope: scope, AttachmentID: a.ID,
		Connector: rpc.Connector{Host: hostname}, Mountpoint: "/dev/vdb"}, &a); err != nil {
		t.Fatal(err)
	}
	ci := a.ConnectionInfo
	if ci == nil || ci.DriverVolumeType != rpc.ConnFile || ci.Data.DevicePath == "" || ci.Data.VolumeID != v.ID || ci.Data.AccessMode != "rw" {
		t.Fatalf("connection info %+v", ci)
	}
	if _, err := os.Stat(ci.Data.DevicePath); err != nil {
		t.Fatal(err)
	}
	if a.Status != rpc.AttachAttaching || get().Status != "attaching" {
		t.Fatalf("update: %+v, volume %s", a, get().Status)
	}
	if err := call(rpc.SubjAttachmentComplete, rpc.AttachmentRequest{Scope: scope, AttachmentID: a.ID}, nil); err != nil {
		t.Fatal(err)
	}
	got := get()
	if got.Status != "in-use" || len(got.Attachments) != 1 || got.Attachments[0].Status != rpc.AttachAttached ||
		got.Attachments[0].Host != hostname || got.Attachments[0].Mountpoint != "/dev/vdb" || got.Attachments[0].InstanceUUID != instance {
		t.Fatalf("complete: %+v", got)
	}
	err = call(rpc.SubjVolumeDelete, rpc.VolumeRequest{Scope: scope, VolumeID: v.ID}, nil)
	wantCode(t, err, bus.CodeBadRequest, "delete an in-use volume")

	for _, step := range []struct {
		subject, want string
	}{
		{rpc.SubjBeginDetaching, "detaching"}, {rpc.SubjRollDetaching, "in-use"}, {rpc.SubjBeginDetaching, "detaching"},
	} {
		if err := call(step.subject, rpc.VolumeRequest{Scope: scope, VolumeID: v.ID}, nil); err != nil {
			t.Fatal(err)
		}
		if s := get().Status; s != step.want {
			t.Fatalf("%s: status %s, want %s", step.subject, s, step.want)
		}
	}
	for i := 0; i < 2; i++ { // the second delete finds nothing and succeeds
		if err := call(rpc.SubjAttachmentDelete, rpc.AttachmentRequest{Scope: scope, AttachmentID: a.ID}, nil); err != nil {
			t.Fatalf("attachment_delete %d: %v", i, err)
		}
	}
	if got := get(); got.Status != "available" || len(got.Attachments) != 0 {
		t.Fatalf("after detach: %+v", got)
	}
	err = call(rpc.SubjBeginDetaching, rpc.VolumeRequest{Scope: scope, VolumeID: v.ID}, nil)
	wantCode(t, err, bus.CodeBadRequest, "begin detaching an available volume")

	if err := call(rpc.SubjVolumeDelete, rpc.VolumeRequest{Scope: scope, VolumeID: v.ID}, nil); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Minute, func() error {
		_, err := bus.Request[rpc.VolumeRequest, rpc.Volume](ctx, b, rpc.SubjVolumeGet, rpc.VolumeRequest{Scope: scope, VolumeID: v.ID})
		if bus.HasCode(err, bus.CodeNotFound) {
			return nil
		}
		return fmt.Errorf("volume still there: %v", err)
	})
	// A volume whose manager does not answer: compute is told to retry.
	def, err := st.GetTypeByName(ctx, store.DefaultTypeName)
	if err != nil {
		t.Fatal(err)
	}
	orphan := store.Volume{ID: uuid.NewString(), ProjectID: project, Size: 1, Status: store.StatusAvailable,
		VolumeTypeID: def.ID, AvailabilityZone: "nova", Host: "gone-" + host}
	if err := st.CreateVolume(ctx, &orphan); err != nil {
		t.Fatal(err)
	}
	if err := call(rpc.SubjAttachmentCreate, rpc.AttachmentCreateRequest{Scope: scope, VolumeID: orphan.ID, InstanceUUID: instance}, &a); err != nil {
		t.Fatal(err)
	}
	err = call(rpc.SubjAttachmentUpdate, rpc.AttachmentUpdateRequest{Scope: scope, AttachmentID: a.ID, Connector: rpc.Connector{Host: hostname}}, &again)
	wantCode(t, err, bus.CodeUnavailable, "connect through a manager that does not answer")

	var actions []string
	testutil.WaitFor(t, 10*time.Second, func() error {
		for len(events) > 0 {
			if ev := <-events; ev.ResourceID == volID && ev.ProjectID == project {
				actions = append(actions, ev.Action)
			}
		}
		for _, want := range []string{"create_start", "create_end", "attach_reserve", "attach_update", "attach_end", "detach_start", "detach_end", "delete_start", "delete_end"} {
			if !slices.Contains(actions, want) {
				return fmt.Errorf("no %s event among %v", want, actions)
			}
		}
		return nil
	})
	usage, err := q.Usage(ctx, project)
	if err != nil || usage[store.ResourceVolumes].InUse != 0 || usage[store.ResourceGigabytes].InUse != 0 {
		t.Fatalf("quota after delete: %+v %v", usage, err)
	}

	// A create whose work cannot be handed over leaves no row and no
	// charge behind.
	if err := b.JetStream().DeleteStream(ctx, work.Stream); err != nil {
		t.Fatal(err)
	}
	before, err := q.Usage(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	err = call(rpc.SubjVolumeCreate, rpc.VolumeCreateRequest{Scope: scope, Name: "lost", SizeGiB: 1}, &v)
	wantCode(t, err, bus.CodeInternal, "a create whose work cannot be queued")
	after, err := q.Usage(ctx, project)
	if err != nil || after[store.ResourceVolumes].InUse != before[store.ResourceVolumes].InUse ||
		after[store.ResourceGigabytes].InUse != before[store.ResourceGigabytes].InUse {
		t.Fatalf("quota after a failed create: %+v, before %+v (%v)", after, before, err)
	}
	lost := "lost"
	if vols, err := st.ListVolumes(ctx, store.VolumeFilter{ProjectID: project, Name: &lost}); err != nil || len(vols) != 0 {
		t.Fatalf("a failed create left %d volumes (%v)", len(vols), err)
	}
}

func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if !bus.HasCode(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// undefinePool removes the test's libvirt pool.
func undefinePool(t *testing.T, name string) {
	lc, err := libvirt.NewConnect(local.DefaultURI)
	if err != nil {
		t.Errorf("libvirt: %v", err)
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
