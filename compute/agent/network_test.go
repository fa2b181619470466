package agent

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/compute/configdrive"
	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// fakeNetwork answers compute's network subjects on a real NATS server:
// the network API's port calls and, if plug is set, the host's agent.
type fakeNetwork struct {
	allocated   rpc.AllocatePortsRequest
	deallocated atomic.Int32
	port        rpc.Port
	// extra is the port of an attach; released lists single-port
	// deallocations.
	extra    rpc.Port
	released []string
}

func (f *fixture) withNetwork(t *testing.T, plug bool) *fakeNetwork {
	b := testutil.Bus(t)
	f.a.d.Bus = b
	n := &fakeNetwork{port: rpc.Port{ID: uuid.NewString(), NetworkID: uuid.NewString(), NetworkName: "private", MAC: "fa:16:3e:12:34:56",
		MTU: 1450, Bridge: "brqfromapi", Tap: "tap0123456789a", Created: true,
		FixedIPs: []rpc.FixedIP{{SubnetID: uuid.NewString(), Address: "10.0.0.5", Version: 4, CIDR: "10.0.0.0/24", Gateway: "10.0.0.1",
			DNS: []string{"192.0.2.53"}, HostRoute: []rpc.Route{{Destination: "192.168.0.0/16", NextHop: "10.0.0.254"}}}}}}
	svc, err := bus.AddService(b, micro.Config{Name: "fake-network", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	add := func(name, subject string, h micro.Handler) {
		if err := svc.AddEndpoint(name, h, micro.WithEndpointSubject(subject)); err != nil {
			t.Fatal(err)
		}
	}
	add("allocate", rpc.SubjAllocatePorts, bus.Handle(func(_ context.Context, req rpc.AllocatePortsRequest) (rpc.AllocatePortsReply, error) {
		if req.Attach {
			return rpc.AllocatePortsReply{Ports: []rpc.Port{n.extra}}, nil
		}
		n.allocated = req
		return rpc.AllocatePortsReply{Ports: []rpc.Port{n.port}}, nil
	}))
	add("deallocate", rpc.SubjDeallocatePorts, bus.Handle(func(_ context.Context, req rpc.DeallocatePortsRequest) (rpc.DeallocatePortsReply, error) {
		if req.PortID != "" {
			n.released = append(n.released, req.PortID)
			return rpc.DeallocatePortsReply{Deleted: 1}, nil
		}
		n.deallocated.Add(1)
		return rpc.DeallocatePortsReply{Deleted: 1}, nil
	}))
	n.extra = n.port
	n.extra.ID, n.extra.MAC, n.extra.Tap = uuid.NewString(), "fa:16:3e:00:00:99", "tapextra"
	if plug {
		add("plug", rpc.AgentPlugSubject("h1"), bus.Handle(func(_ context.Context, req rpc.PlugRequest) (rpc.PlugReply, error) {
			if req.PortID != n.port.ID && req.PortID != n.extra.ID {
				return rpc.PlugReply{}, bus.Errorf(bus.CodeNotFound, "port %s", req.PortID)
			}
			tap := n.port.Tap
			if req.PortID == n.extra.ID {
				tap = n.extra.Tap
			}
			return rpc.PlugReply{Bridge: "brqplugged", Tap: tap, MTU: 1450}, nil
		}))
	}
	return n
}

// networkInstance is an instance asking for one network and a group.
func (f *fixture) networkInstance(t *testing.T) (store.Instance, string) {
	image := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(f.images, image), "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	in := f.instance(image)
	net := uuid.NewString()
	rn := store.RequestedNetworks{Mode: store.NetworksList, Networks: []rpc.NetworkRequest{{NetworkID: net, FixedIP: "10.0.0.5"}},
		SecurityGroups: []string{"web"}}
	if err := f.store.UpdateInstance(f.ctx, in.UUID, map[string]any{"requested_networks": rn}); err != nil {
		t.Fatal(err)
	}
	return in, net
}

// TestSpawnNetworkedWithoutConfigDrive: an instance on a network that did
// not ask for a config drive gets none (its guest asks the metadata
// service), at boot and in the domain a rebuild or resize defines.
func TestSpawnNetworkedWithoutConfigDrive(t *testing.T) {
	f := newFixture(t)
	f.withNetwork(t, true)
	in, _ := f.networkInstance(t)
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	got := f.get(in.UUID)
	if got.VMState != store.VMActive {
		t.Fatalf("after spawn: %s fault %+v", got.VMState, got.Fault)
	}
	hasDrive := func(spec hypervisor.InstanceSpec) bool {
		for _, d := range spec.Disks {
			if d.Device == hypervisor.DeviceCDROM {
				return true
			}
		}
		return false
	}
	if hasDrive(f.drv.specs[in.UUID]) || hasDrive(f.a.domainSpec(got, nil)) {
		t.Errorf("config drive in the domain: %+v", f.drv.specs[in.UUID].Disks)
	}
	if _, err := os.Stat(filepath.Join(f.a.instanceDir(in.UUID), "disk.config")); !os.IsNotExist(err) {
		t.Errorf("disk.config written: %v", err)
	}
}

func TestSpawnPlugsNetwork(t *testing.T) {
	f := newFixture(t)
	n := f.withNetwork(t, true)
	in, net := f.networkInstance(t)
	// It asks for a config drive: a networked instance only has one then.
	if err := f.store.UpdateInstance(f.ctx, in.UUID, map[string]any{"config_drive": true}); err != nil {
		t.Fatal(err)
	}
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	got := f.get(in.UUID)
	if got.VMState != store.VMActive {
		t.Fatalf("after spawn: %s fault %+v", got.VMState, got.Fault)
	}
	want := rpc.AllocatePortsRequest{ProjectID: "p1", UserID: "u1", DeviceID: in.UUID, Host: "h1",
		Requests: []rpc.NetworkRequest{{NetworkID: net, FixedIP: "10.0.0.5"}}, SecurityGroups: []string{"web"}}
	if !reflect.DeepEqual(n.allocated, want) {
		t.Errorf("allocate request = %+v, want %+v", n.allocated, want)
	}
	spec := f.drv.specs[in.UUID]
	if wantNICs := []hypervisor.NICSpec{{MAC: "fa:16:3e:12:34:56", Bridge: "brqplugged", TapName: "tap0123456789a", MTU: 1450}}; !reflect.DeepEqual(spec.NICs, wantNICs) {
		t.Errorf("NICs = %+v, want %+v", spec.NICs, wantNICs)
	}
	if len(got.NetworkInfo) != 1 || got.NetworkInfo[0].ID != n.port.ID || got.NetworkInfo[0].Bridge != "brqplugged" {
		t.Errorf("network info cache = %+v", got.NetworkInfo)
	}
	// The domain a resize or rebuild defines keeps the NIC.
	if again := f.a.domainSpec(got, nil); !reflect.DeepEqual(again.NICs, spec.NICs) {
		t.Errorf("domainSpec from the cache: %+v", again.NICs)
	}
	raw, err := exec.Command("isoinfo", "-R", "-x", "/openstack/latest/network_data.json", "-i",
		filepath.Join(f.a.instanceDir(in.UUID), "disk.config")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var nd configdrive.NetworkData
	if err := json.Unmarshal(raw, &nd); err != nil {
		t.Fatalf("network_data.json %s: %v", raw, err)
	}
	wantND := configdrive.NetworkData{
		Links: []configdrive.Link{{ID: "tap0123456789a", VIFID: n.port.ID, Type: "phy", MTU: 1450, MAC: "fa:16:3e:12:34:56"}},
		Networks: []configdrive.Network{{ID: "network0", Type: "ipv4", Link: "tap0123456789a", NetworkID: n.port.NetworkID,
			IPAddress: "10.0.0.5", Netmask: "255.255.255.0",
			Routes: []configdrive.Route{{Network: "0.0.0.0", Netmask: "0.0.0.0", Gateway: "10.0.0.1"},
				{Network: "192.168.0.0", Netmask: "255.255.0.0", Gateway: "10.0.0.254"}},
			Services: []configdrive.Service{{Type: "dns", Address: "192.0.2.53"}}}},
		Services: []configdrive.Service{{Type: "dns", Address: "192.0.2.53"}},
	}
	if !reflect.DeepEqual(nd, wantND) {
		t.Errorf("network_data.json = %s", raw)
	}
	if n.deallocated.Load() != 0 {
		t.Fatal("ports released by a good spawn")
	}
	if err := f.a.delete(f.ctx, work.Delete{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	if n.deallocated.Load() != 1 {
		t.Errorf("delete released ports %d times", n.deallocated.Load())
	}
}

func TestSpawnWithoutNetworkAgentFails(t *testing.T) {
	f := newFixture(t)
	n := f.withNetwork(t, false)
	in, _ := f.networkInstance(t)
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	got := f.get(in.UUID)
	if got.VMState != store.VMError || got.Fault == nil || !strings.Contains(got.Fault.Message, "network agent on host h1 did not answer") {
		t.Fatalf("after spawn: %s fault %+v", got.VMState, got.Fault)
	}
	if n.deallocated.Load() != 1 {
		t.Errorf("ports released %d times, want once", n.deallocated.Load())
	}
	if _, ok := f.drv.specs[in.UUID]; ok {
		t.Error("domain defined")
	}
	if f.used() != 0 {
		t.Error("allocation not released")
	}
}

func (f *fakeDriver) AttachInterface(_ context.Context, id string, nic hypervisor.NICSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	spec, ok := f.specs[id]
	if !ok {
		return hypervisor.ErrNotFound
	}
	for _, n := range spec.NICs {
		if n.MAC == nic.MAC {
			return nil
		}
	}
	spec.NICs = append(spec.NICs, nic)
	f.specs[id] = spec
	return nil
}

func (f *fakeDriver) DetachInterface(_ context.Context, id string, nic hypervisor.NICSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	spec, ok := f.specs[id]
	if !ok {
		return hypervisor.ErrNotFound
	}
	var keep []hypervisor.NICSpec
	for _, n := range spec.NICs {
		if n.MAC != nic.MAC {
			keep = append(keep, n)
		}
	}
	spec.NICs = keep
	f.specs[id] = spec
	return nil
}

func TestInterfaceAttachDetach(t *testing.T) {
	f := newFixture(t)
	n := f.withNetwork(t, true)
	in, net := f.networkInstance(t)
	if err := f.a.spawn(f.ctx, work.Spawn{InstanceUUID: in.UUID}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a repeated attach of the same port changes nothing
		rep, err := f.a.iface(f.ctx, work.InterfaceRequest{InstanceUUID: in.UUID, NetworkID: net})
		if err != nil || rep.Port.ID != n.extra.ID || rep.Port.Bridge != "brqplugged" {
			t.Fatalf("attach = %+v, %v", rep, err)
		}
	}
	spec := f.drv.specs[in.UUID]
	if len(spec.NICs) != 2 || spec.NICs[1].MAC != n.extra.MAC || spec.NICs[1].TapName != "tapextra" {
		t.Fatalf("NICs after attach = %+v", spec.NICs)
	}
	if got := f.get(in.UUID); len(got.NetworkInfo) != 2 || got.NetworkInfo[1].ID != n.extra.ID {
		t.Fatalf("cache after attach = %+v", got.NetworkInfo)
	}
	if _, err := f.a.iface(f.ctx, work.InterfaceRequest{InstanceUUID: in.UUID, Detach: true, PortID: uuid.NewString()}); !bus.HasCode(err, bus.CodeNotFound) {
		t.Fatalf("detach of a port not attached: %v", err)
	}
	if _, err := f.a.iface(f.ctx, work.InterfaceRequest{InstanceUUID: in.UUID, Detach: true, PortID: n.extra.ID}); err != nil {
		t.Fatal(err)
	}
	if spec := f.drv.specs[in.UUID]; len(spec.NICs) != 1 || spec.NICs[0].MAC != n.port.MAC {
		t.Fatalf("NICs after detach = %+v", spec.NICs)
	}
	if got := f.get(in.UUID); len(got.NetworkInfo) != 1 || got.NetworkInfo[0].ID != n.port.ID {
		t.Fatalf("cache after detach = %+v", got.NetworkInfo)
	}
	if len(n.released) != 1 || n.released[0] != n.extra.ID {
		t.Fatalf("released = %v", n.released)
	}
}
