package store_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestBlockDeviceMappings(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	in := store.Instance{UUID: uuid.NewString(), Name: "a", ProjectID: "p1", UserID: "u1", VMState: store.VMActive,
		Metadata: store.Specs{}, FlavorExtraSpecs: store.Specs{}}
	if err := s.CreateInstance(ctx, &in); err != nil {
		t.Fatal(err)
	}
	vol, other := uuid.NewString(), uuid.NewString()
	zero := 0
	root := store.BDM{UUID: uuid.NewString(), InstanceUUID: in.UUID, SourceType: store.SourceImage, DestinationType: store.DestinationVolume,
		BootIndex: &zero, DeviceName: "/dev/vda", VolumeID: &other, Status: store.BDMAttaching}
	data := store.BDM{UUID: uuid.NewString(), InstanceUUID: in.UUID, SourceType: store.SourceVolume, DestinationType: store.DestinationVolume,
		DeviceName: "/dev/vdb", VolumeID: &vol, Status: store.BDMAttaching}
	for _, b := range []*store.BDM{&data, &root} {
		if err := s.CreateBDM(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// The same volume, or the same device, twice on one server.
	dup := data
	dup.UUID, dup.DeviceName = uuid.NewString(), "/dev/vdc"
	if err := s.CreateBDM(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same volume twice: %v", err)
	}
	dup.VolumeID, dup.DeviceName = nil, "/dev/vdb"
	if err := s.CreateBDM(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same device twice: %v", err)
	}

	list, err := s.ListBDMs(ctx, in.UUID)
	if err != nil || len(list) != 2 || !list[0].IsRoot() || list[1].Volume() != vol {
		t.Fatalf("list (root first): %+v %v", list, err)
	}
	ci := store.ConnectionInfo{DriverVolumeType: rpc.ConnFile, Data: rpc.ConnectionData{VolumeID: vol, DevicePath: "/x", Format: "qcow2"}}
	if err := s.UpdateBDM(ctx, data.UUID, map[string]any{"connection_info": ci, "status": store.BDMAttached}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBDMByVolume(ctx, in.UUID, vol)
	if err != nil || got.ConnectionInfo == nil || got.ConnectionInfo.Data.DevicePath != "/x" || got.Status != store.BDMAttached {
		t.Fatalf("by volume: %+v %v", got, err)
	}
	// Only one detach wins.
	if err := s.SetBDMStatus(ctx, data.UUID, store.BDMAttached, store.BDMDetaching); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBDMStatus(ctx, data.UUID, store.BDMAttached, store.BDMDetaching); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second detach: %v", err)
	}
	if err := s.SetBDMStatus(ctx, uuid.NewString(), store.BDMAttached, store.BDMDetaching); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing mapping: %v", err)
	}
	byServer, err := s.BDMsOf(ctx, []string{in.UUID, uuid.NewString()})
	if err != nil || len(byServer[in.UUID]) != 2 || len(byServer) != 1 {
		t.Fatalf("BDMsOf: %v %v", byServer, err)
	}
	if err := s.DeleteBDM(ctx, data.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBDM(ctx, data.UUID); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	if err := s.DeleteBDMsOf(ctx, in.UUID); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.ListBDMs(ctx, in.UUID); len(list) != 0 {
		t.Fatalf("left: %+v", list)
	}
	used := map[string]bool{}
	for c := 'a'; c <= 'z'; c++ {
		used["/dev/vd"+string(c)] = true
	}
	if _, err := store.NextDeviceName(used); !errors.Is(err, store.ErrConflict) {
		t.Errorf("26 devices: %v", err)
	}
}
