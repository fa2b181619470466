package neutronapi

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/network/store"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// rpcFixture is a network API serving its bus endpoints on a real
// PostgreSQL and NATS, with a client connection.
type rpcFixture struct {
	s   *Service
	bus *bus.Bus
}

func newRPCFixture(t *testing.T) *rpcFixture {
	gdb := testutil.DB(t)
	_, url := testutil.NATS(t)
	s := New(Config{}, Deps{Store: store.New(gdb), Quota: quota.New(gdb, DefaultQuotas), Bus: testutil.Connect(t, url)})
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return &rpcFixture{s: s, bus: testutil.Connect(t, url)}
}

// network creates a network of project with one IPv4 subnet whose pool
// is start..end.
func (f *rpcFixture) network(t *testing.T, project, name, cidr, start, end string, shared bool) (*store.Network, *store.Subnet) {
	t.Helper()
	ctx := t.Context()
	vni := len(name) + int(uuid.New().ID()%1000)
	n := &store.Network{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, Name: name, AdminStateUp: true, Shared: shared,
		MTU: 1450, NetworkType: store.TypeVXLAN, SegmentationID: &vni, PortSecurityEnabled: true, Status: "ACTIVE"}
	gw := cidr[:strings.LastIndex(cidr, ".")] + ".1"
	sn := &store.Subnet{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, NetworkID: n.ID, Name: name + "-v4",
		IPVersion: 4, CIDR: cidr, GatewayIP: &gw, EnableDHCP: true}
	sn.AllocationPools.V = []store.Pool{{Start: start, End: end}}
	sn.DNSNameservers.V = []string{"192.0.2.53"}
	for _, row := range []store.Row{n, sn} {
		if err := f.s.store.Create(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
	return n, sn
}

func (f *rpcFixture) allocate(t *testing.T, req rpc.AllocatePortsRequest) ([]rpc.Port, error) {
	rep, err := bus.Request[rpc.AllocatePortsRequest, rpc.AllocatePortsReply](t.Context(), f.bus, rpc.SubjAllocatePorts, req)
	return rep.Ports, err
}

func wantCode(t *testing.T, err error, code, msg string) {
	t.Helper()
	if !bus.HasCode(err, code) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("error = %v, want %s containing %q", err, code, msg)
	}
}

func TestRPCAllocatePorts(t *testing.T) {
	f := newRPCFixture(t)
	ctx := t.Context()
	n, sn := f.network(t, "p1", "private", "10.0.0.0/24", "10.0.0.2", "10.0.0.4", false)
	other, _ := f.network(t, "p2", "theirs", "10.9.0.0/24", "10.9.0.2", "10.9.0.9", false)
	vm1 := uuid.NewString()
	req := rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: vm1, Zone: "nova", Host: "h1",
		Requests: []rpc.NetworkRequest{{NetworkID: n.ID, FixedIP: "10.0.0.3"}}}
	ports, err := f.allocate(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 1 {
		t.Fatalf("ports = %+v", ports)
	}
	p := ports[0]
	if p.NetworkName != "private" || p.MTU != 1450 || !p.Created || !strings.HasPrefix(p.MAC, "fa:16:3e:") ||
		p.Tap != "tap"+strings.ReplaceAll(p.ID, "-", "")[:11] || p.Bridge != "brq"+strings.ReplaceAll(n.ID, "-", "")[:11] {
		t.Fatalf("port = %+v", p)
	}
	if len(p.FixedIPs) != 1 || p.FixedIPs[0].Address != "10.0.0.3" || p.FixedIPs[0].SubnetID != sn.ID ||
		p.FixedIPs[0].Gateway != "10.0.0.1" || !p.FixedIPs[0].DHCP || p.FixedIPs[0].CIDR != "10.0.0.0/24" || p.FixedIPs[0].DNS[0] != "192.0.2.53" {
		t.Fatalf("fixed ips = %+v", p.FixedIPs)
	}
	row, err := store.Get[store.Port](ctx, f.s.store, p.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	def, err := store.List[store.SecurityGroup](ctx, f.s.store, "project_id = 'p1' AND name = 'default'")
	if err != nil || len(def) != 1 {
		t.Fatalf("default group: %v %v", def, err)
	}
	if row.DeviceID != vm1 || row.DeviceOwner != "compute:nova" || row.BindingHostID != "h1" || row.ProjectID != "p1" ||
		len(row.SecurityGroups) != 1 || row.SecurityGroups[0] != def[0].ID {
		t.Fatalf("port row = %+v", row)
	}

	// A retry returns the same port.
	again, err := f.allocate(t, req)
	if err != nil || len(again) != 1 || again[0].ID != p.ID {
		t.Fatalf("retry = %+v, %v", again, err)
	}
	listed, err := bus.Request[rpc.InstancePortsRequest, rpc.AllocatePortsReply](ctx, f.bus, rpc.SubjInstancePorts, rpc.InstancePortsRequest{DeviceID: vm1})
	if err != nil || len(listed.Ports) != 1 || listed.Ports[0].ID != p.ID {
		t.Fatalf("instance ports = %+v, %v", listed, err)
	}

	// The fixed IP is taken; another project's network is not found; the
	// pool (three addresses, one used) runs dry.
	_, err = f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: uuid.NewString(), Host: "h1",
		Requests: []rpc.NetworkRequest{{NetworkID: n.ID, FixedIP: "10.0.0.3"}}})
	wantCode(t, err, bus.CodeConflict, "The IP address 10.0.0.3 is in use.")
	_, err = f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: uuid.NewString(), Host: "h1",
		Requests: []rpc.NetworkRequest{{NetworkID: other.ID}}})
	wantCode(t, err, bus.CodeNotFound, "Network "+other.ID+" could not be found.")
	vm2 := uuid.NewString()
	two, err := f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: vm2, Host: "h1",
		Requests: []rpc.NetworkRequest{{NetworkID: n.ID}, {NetworkID: n.ID}}})
	if err != nil || len(two) != 2 || two[0].FixedIPs[0].Address != "10.0.0.2" || two[1].FixedIPs[0].Address != "10.0.0.4" {
		t.Fatalf("two ports = %+v, %v", two, err)
	}
	vm3 := uuid.NewString()
	_, err = f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: vm3, Host: "h1",
		Requests: []rpc.NetworkRequest{{NetworkID: n.ID}}})
	wantCode(t, err, bus.CodeConflict, "No more IP addresses available on network "+n.ID+".")
	if left, _ := store.List[store.Port](ctx, f.s.store, "device_id = ?", vm3); len(left) != 0 {
		t.Fatalf("failed allocation left ports %+v", left)
	}
	// Deallocating vm2 frees its two addresses.
	rep, err := bus.Request[rpc.DeallocatePortsRequest, rpc.DeallocatePortsReply](ctx, f.bus, rpc.SubjDeallocatePorts,
		rpc.DeallocatePortsRequest{ProjectID: "p1", DeviceID: vm2})
	if err != nil || rep.Deleted != 2 || rep.Unbound != 0 {
		t.Fatalf("deallocate = %+v, %v", rep, err)
	}
	used, err := f.s.store.Allocated(ctx, sn.ID)
	if err != nil || len(used) != 1 || !used["10.0.0.3"] {
		t.Fatalf("allocated after deallocate = %v, %v", used, err)
	}
}

func TestRPCExistingPortAutoAndSecurityGroups(t *testing.T) {
	f := newRPCFixture(t)
	ctx := t.Context()
	n, _ := f.network(t, "p1", "only", "10.1.0.0/24", "10.1.0.10", "10.1.0.20", false)
	// A port the user made beforehand.
	user := &store.Port{Meta: store.Meta{ID: uuid.NewString(), ProjectID: "p1"}, NetworkID: n.ID, AdminStateUp: true,
		Status: "DOWN", BindingVNICType: "normal"}
	user.BindingProfile.V = map[string]any{}
	err := f.s.store.Tx(ctx, func(tx *store.Store) error { return f.s.insertPort(ctx, tx, n, portSpec{port: user}) })
	if err != nil {
		t.Fatal(err)
	}
	vm := uuid.NewString()
	ports, err := f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: vm, Host: "h1",
		Requests: []rpc.NetworkRequest{{PortID: user.ID}}})
	if err != nil || len(ports) != 1 || ports[0].ID != user.ID || ports[0].Created || ports[0].FixedIPs[0].Address != "10.1.0.10" {
		t.Fatalf("existing port = %+v, %v", ports, err)
	}
	_, err = f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: uuid.NewString(), Host: "h1",
		Requests: []rpc.NetworkRequest{{PortID: user.ID}}})
	wantCode(t, err, bus.CodeConflict, "Port "+user.ID+" is still in use.")
	_, err = f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p2", DeviceID: uuid.NewString(), Host: "h1",
		Requests: []rpc.NetworkRequest{{PortID: user.ID}}})
	wantCode(t, err, bus.CodeNotFound, "Port "+user.ID+" could not be found.")

	// auto picks the project's only network; a project without one gets
	// Nova's error.
	autoVM := uuid.NewString()
	auto, err := f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: autoVM, Host: "h1", Auto: true})
	if err != nil || len(auto) != 1 || auto[0].NetworkID != n.ID || !auto[0].Created {
		t.Fatalf("auto = %+v, %v", auto, err)
	}
	_, err = f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p3", DeviceID: uuid.NewString(), Host: "h1", Auto: true})
	wantCode(t, err, bus.CodeConflict, "Unable to automatically allocate a network for project p3")

	// An attach adds a port and returns only it; releasing that one port
	// leaves the first.
	att, err := f.allocate(t, rpc.AllocatePortsRequest{ProjectID: "p1", DeviceID: autoVM, Host: "h1", Attach: true,
		Requests: []rpc.NetworkRequest{{NetworkID: n.ID}}})
	if err != nil || len(att) != 1 || att[0].ID == auto[0].ID || !att[0].Created {
		t.Fatalf("attach = %+v, %v", att, err)
	}
	one, err := bus.Request[rpc.DeallocatePortsRequest, rpc.DeallocatePortsReply](ctx, f.bus, rpc.SubjDeallocatePorts,
		rpc.DeallocatePortsRequest{ProjectID: "p1", DeviceID: autoVM, PortID: att[0].ID})
	if err != nil || one.Deleted != 1 {
		t.Fatalf("release one port = %+v, %v", one, err)
	}
	if left, _ := store.List[store.Port](ctx, f.s.store, "device_id = ?", autoVM); len(left) != 1 || left[0].ID != auto[0].ID {
		t.Fatalf("ports of the instance after releasing one: %+v", left)
	}

	// Security groups on the instance's ports.
	web := &store.SecurityGroup{Meta: store.Meta{ID: uuid.NewString(), ProjectID: "p1"}, Name: "web", Stateful: true}
	if err := f.s.store.Create(ctx, web); err != nil {
		t.Fatal(err)
	}
	sg := func(group string, remove bool) error {
		_, err := bus.Request[rpc.SecurityGroupRequest, rpc.SecurityGroupReply](ctx, f.bus, rpc.SubjInstanceSecurityGroups,
			rpc.SecurityGroupRequest{ProjectID: "p1", DeviceID: autoVM, Group: group, Remove: remove})
		return err
	}
	wantCode(t, sg("nope", false), bus.CodeNotFound, "Security group nope does not exist")
	wantCode(t, sg("web", true), bus.CodeNotFound, "not associated with the instance")
	if err := sg("web", false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, sg(web.ID, false), bus.CodeConflict, "already associated")
	row, _ := store.Get[store.Port](ctx, f.s.store, auto[0].ID, false)
	if len(row.SecurityGroups) != 2 || row.SecurityGroups[1] != web.ID {
		t.Fatalf("groups after add = %v", row.SecurityGroups)
	}
	if err := sg("web", true); err != nil {
		t.Fatal(err)
	}
	row, _ = store.Get[store.Port](ctx, f.s.store, auto[0].ID, false)
	if len(row.SecurityGroups) != 1 || row.SecurityGroups[0] == web.ID {
		t.Fatalf("groups after remove = %v", row.SecurityGroups)
	}

	// Deallocating unbinds the user's port and keeps it with its address.
	rep, err := bus.Request[rpc.DeallocatePortsRequest, rpc.DeallocatePortsReply](ctx, f.bus, rpc.SubjDeallocatePorts,
		rpc.DeallocatePortsRequest{ProjectID: "p1", DeviceID: vm})
	if err != nil || rep.Deleted != 0 || rep.Unbound != 1 {
		t.Fatalf("deallocate = %+v, %v", rep, err)
	}
	row, err = store.Get[store.Port](ctx, f.s.store, user.ID, false)
	if err != nil || row.DeviceID != "" || row.DeviceOwner != "" || row.BindingHostID != "" {
		t.Fatalf("user port after deallocate = %+v, %v", row, err)
	}
}
