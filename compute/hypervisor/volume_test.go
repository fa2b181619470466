package hypervisor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-cloud/kumo/internal/rpc"
)

const testVolume = "0b7f9b1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b"

// TestVolumeDiskXML renders the disk of each connection type and compares
// it with its golden file; the file volume is on a path that cannot do
// O_DIRECT (it does not exist), so it gets the write-back cache.
func TestVolumeDiskXML(t *testing.T) {
	tests := []struct {
		name string
		ci   rpc.ConnectionInfo
	}{
		{"volume-file", rpc.ConnectionInfo{DriverVolumeType: rpc.ConnFile, Data: rpc.ConnectionData{
			VolumeID: testVolume, DevicePath: "/var/lib/kumo/volumes/volume-" + testVolume, Format: "qcow2", AccessMode: "rw"}}},
		{"volume-rbd", rpc.ConnectionInfo{DriverVolumeType: rpc.ConnRBD, Data: rpc.ConnectionData{
			VolumeID: testVolume, Name: "volumes/volume-" + testVolume, Hosts: []string{"10.0.0.1", "10.0.0.2"},
			Ports: []string{"6789", "6789"}, AuthUsername: "cinder", SecretType: "ceph",
			SecretUUID: "457eb676-33da-42ec-9a8c-9293d545c337"}}},
		{"volume-iscsi", rpc.ConnectionInfo{DriverVolumeType: rpc.ConnISCSI, Data: rpc.ConnectionData{
			VolumeID: testVolume, TargetPortal: "10.0.0.3:3260", TargetIQN: "iqn.2010-10.org.openstack:volume-" + testVolume,
			TargetLUN: 1, AccessMode: "ro"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := VolumeDisk(tt.ci, "vdb")
			if err != nil {
				t.Fatal(err)
			}
			got, err := diskDeviceXML(d)
			if err != nil {
				t.Fatal(err)
			}
			got += "\n"
			path := filepath.Join("testdata", tt.name+".xml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update if intended):\n%s", path, got)
			}
			if !strings.Contains(got, "<serial>"+testVolume+"</serial>") || !strings.Contains(got, `bus="virtio"`) {
				t.Errorf("no virtio disk with the volume's serial:\n%s", got)
			}
		})
	}
	for _, bad := range []rpc.ConnectionInfo{
		{DriverVolumeType: "nfs", Data: rpc.ConnectionData{VolumeID: testVolume}},
		{DriverVolumeType: rpc.ConnFile, Data: rpc.ConnectionData{VolumeID: testVolume}},
		{DriverVolumeType: rpc.ConnFile, Data: rpc.ConnectionData{VolumeID: testVolume, DevicePath: "/x", Format: "vmdk"}},
		{DriverVolumeType: rpc.ConnRBD, Data: rpc.ConnectionData{VolumeID: testVolume, Name: "p/i"}},
		{DriverVolumeType: rpc.ConnISCSI, Data: rpc.ConnectionData{VolumeID: testVolume, TargetPortal: "nope"}},
	} {
		if _, err := VolumeDisk(bad, "vdb"); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("VolumeDisk(%+v) = %v, want ErrInvalidSpec", bad, err)
		}
	}
	if got := GuestSerial(testVolume); got != "0b7f9b1e-3c2d-4e5f-8" {
		t.Errorf("GuestSerial = %q", got)
	}
}

// TestLibvirtVolumeAttach plugs a qcow2 file volume into a defined but
// shut-off domain (persistent definition only), boots it, unplugs it,
// plugs it into the running guest (live and persistent) and unplugs it
// again, checking with Disks, by the volume's serial, at each step.
func TestLibvirtVolumeAttach(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	ctx := context.Background()
	d := testDriver(t)
	g := newGuest(t, d, nil)
	uuid := g.spec.UUID
	vol := filepath.Join(g.dir, "volume-"+testVolume)
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", vol, "64M")
	disk, err := VolumeDisk(rpc.ConnectionInfo{DriverVolumeType: rpc.ConnFile,
		Data: rpc.ConnectionData{VolumeID: testVolume, DevicePath: vol, Format: "qcow2"}}, "vdb")
	must(t, "VolumeDisk", err)
	plugged := func(wantLive, wantConfig bool) {
		t.Helper()
		disks, err := d.Disks(ctx, uuid)
		must(t, "Disks", err)
		got, ok := DiskBySerial(disks, testVolume)
		if !wantLive && !wantConfig {
			if ok {
				t.Fatalf("volume still plugged: %s", got)
			}
			return
		}
		if !ok || got.Target != "vdb" || got.Live != wantLive || got.Config != wantConfig {
			t.Fatalf("volume disk %s (found %t), want vdb live %t config %t; all: %v", got, ok, wantLive, wantConfig, disks)
		}
	}

	must(t, "Define", d.Define(ctx, g.spec))
	must(t, "AttachDisk (shut off)", d.AttachDisk(ctx, uuid, disk))
	plugged(false, true)
	must(t, "DetachDisk (shut off)", d.DetachDisk(ctx, uuid, disk))
	plugged(false, false)

	must(t, "Start", d.Start(ctx, uuid))
	waitReady(t, d, g, 1)
	must(t, "AttachDisk (running)", d.AttachDisk(ctx, uuid, disk))
	must(t, "AttachDisk again", d.AttachDisk(ctx, uuid, disk))
	plugged(true, true)
	// QEMU holds the file open: the guest really has it.
	if out, err := exec.Command("virsh", "-c", DefaultURI, "domblklist", uuid).CombinedOutput(); err != nil || !strings.Contains(string(out), vol) {
		t.Fatalf("domblklist: %v\n%s", err, out)
	}
	must(t, "DetachDisk (running)", d.DetachDisk(ctx, uuid, disk))
	plugged(false, false)
	must(t, "DetachDisk again", d.DetachDisk(ctx, uuid, disk))
}
