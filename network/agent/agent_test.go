package agent

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/micro"
	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/metadata"
	"github.com/kumo-cloud/kumo/network/neutronapi"
	"github.com/kumo-cloud/kumo/network/store"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

const (
	testOwner = "natest"
	testDir   = "/run/kumo/natest"
	testHost  = "natest-host"
)

// fixture is a VXLAN network with a DHCP subnet and two instance ports
// bound to this host, in a fresh database, with a compute stand-in
// answering instance metadata for both instances.
type fixture struct {
	db       *gorm.DB
	st       *store.Store
	bus      *bus.Bus
	net      *store.Network
	subnet   *store.Subnet
	ports    []*store.Port // instance ports
	devices  []string      // their instance UUIDs
	ips      []string
	sg       *store.SecurityGroup
	project  string
	metadata map[string]rpc.InstanceMetadata
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	gdb := testutil.DB(t)
	f := &fixture{db: gdb, st: store.New(gdb), bus: testutil.Bus(t), metadata: map[string]rpc.InstanceMetadata{}}
	project := uuid.NewString()
	meta := func() store.Meta { return store.Meta{ID: uuid.NewString(), ProjectID: project} }
	vni := 4000 + int(time.Now().UnixNano()%1000)
	f.net = &store.Network{Meta: meta(), Name: "agt", AdminStateUp: true, MTU: 1450, NetworkType: store.TypeVXLAN,
		SegmentationID: &vni, PortSecurityEnabled: true, Status: "ACTIVE"}
	gw := "10.77.0.1"
	f.subnet = &store.Subnet{Meta: meta(), NetworkID: f.net.ID, IPVersion: 4, CIDR: "10.77.0.0/24", GatewayIP: &gw, EnableDHCP: true}
	f.subnet.AllocationPools.V = []store.Pool{{Start: "10.77.0.2", End: "10.77.0.254"}}
	f.subnet.DNSNameservers.V, f.subnet.HostRoutes.V = []string{}, []store.HostRoute{}
	sg := &store.SecurityGroup{Meta: meta(), Name: "default", Stateful: true}
	egress := &store.SecurityGroupRule{Meta: meta(), SecurityGroupID: sg.ID, Direction: "egress", Ethertype: "IPv4"}
	f.sg, f.project = sg, project
	for _, row := range []store.Row{f.net, f.subnet, sg, egress} {
		if err := f.st.Create(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
	for i, ip := range []string{"10.77.0.10", "10.77.0.11"} {
		dev := uuid.NewString()
		p := &store.Port{Meta: meta(), NetworkID: f.net.ID, MACAddress: net.HardwareAddr{0xfa, 0x16, 0x3e, 0x77, 0, byte(i + 1)}.String(),
			AdminStateUp: true, Status: "DOWN", DeviceOwner: "compute:nova", DeviceID: dev, BindingHostID: testHost,
			BindingVNICType: "normal", PortSecurityEnabled: true, SecurityGroups: []string{sg.ID}}
		if err := f.st.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := f.st.Allocate(ctx, store.IPAllocation{SubnetID: f.subnet.ID, IPAddress: ip, PortID: p.ID, NetworkID: f.net.ID}); err != nil {
			t.Fatal(err)
		}
		f.ports, f.devices, f.ips = append(f.ports, p), append(f.devices, dev), append(f.ips, ip)
		f.metadata[dev] = rpc.InstanceMetadata{UUID: dev, Name: "vm-" + ip, Hostname: "vm-" + strings.ReplaceAll(ip, ".", "-"),
			ProjectID: project, AvailabilityZone: "nova", ReservationID: "r-agt", UserData: []byte("#!/bin/sh\necho " + ip + "\n"),
			PublicKeys: map[string]string{"k": "ssh-ed25519 AAAA" + dev}}
	}
	// Compute's side of rpc.SubjInstanceMetadata, from the table above.
	svc, err := bus.AddService(f.bus, micro.Config{Name: "compute-instance-metadata", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	err = svc.AddEndpoint("instance_metadata", bus.Handle(func(_ context.Context, req rpc.InstanceMetadataRequest) (rpc.InstanceMetadata, error) {
		md, ok := f.metadata[req.InstanceUUID]
		if !ok {
			return md, bus.Errorf(bus.CodeNotFound, "instance %s not found", req.InstanceUUID)
		}
		return md, nil
	}), micro.WithEndpointSubject(rpc.SubjInstanceMetadata))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func startAgent(t *testing.T, f *fixture) *Agent {
	t.Helper()
	a, err := New(Config{Host: testHost, Owner: testOwner, StateDir: testDir, Interval: 5 * time.Second,
		PhysicalNetworks: map[string]string{"agtpub": HostOnly}},
		Deps{Store: f.st, Bus: f.bus, Quota: quota.New(f.db, neutronapi.DefaultQuotas)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = a.Stop(context.Background())
		// Whatever a failed test left of this owner goes too.
		if err := a.Datapath().Apply(context.Background(), datapath.State{}); err != nil {
			t.Errorf("clearing the datapath: %v", err)
		}
	})
	return a
}

// TestAgent plugs two ports, gives their guests addresses over DHCP and
// metadata about themselves only, sets the ports ACTIVE, and leaves
// nothing behind once the resources are gone.
func TestAgent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the network agent test needs root")
	}
	ctx := t.Context()
	f := newFixture(t)
	a := startAgent(t, f)
	active := make(chan string, 16)
	stop, err := bus.SubscribeEvents(ctx, f.bus, bus.EventFilter("network", "port", "update"), func(ev bus.Event) {
		var p struct{ Status string }
		if json.Unmarshal(ev.Payload, &p) == nil && p.Status == "ACTIVE" {
			active <- ev.ResourceID
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	var vms []*vm
	for i, p := range f.ports {
		start := time.Now()
		rep, err := bus.Request[rpc.PlugRequest, rpc.PlugReply](ctx, f.bus, rpc.AgentPlugSubject(testHost), rpc.PlugRequest{PortID: p.ID})
		if err != nil {
			t.Fatalf("plug %s: %v", p.ID, err)
		}
		want := rpc.PlugReply{Bridge: datapath.BridgeName(f.net.ID), Tap: datapath.TapName(p.ID), MTU: 1450}
		if rep != want {
			t.Fatalf("plug reply = %+v, want %+v", rep, want)
		}
		t.Logf("plug %d took %s", i, time.Since(start))
		vms = append(vms, newVM(t, string(rune('a'+i)), rep.Tap, p.MACAddress))
	}
	if _, err := bus.Request[rpc.PlugRequest, rpc.PlugReply](ctx, f.bus, rpc.AgentPlugSubject(testHost), rpc.PlugRequest{PortID: uuid.NewString()}); !bus.HasCode(err, bus.CodeNotFound) {
		t.Errorf("plug of an unknown port: %v, want not found", err)
	}

	// The DHCP port exists, owned by network:dhcp, with an address.
	dhcpPorts, err := store.List[store.Port](ctx, f.st, "network_id = ? AND device_owner = ?", f.net.ID, "network:dhcp")
	if err != nil || len(dhcpPorts) != 1 || dhcpPorts[0].DeviceID != a.dhcpDeviceID(f.net.ID) {
		t.Fatalf("dhcp ports = %+v, %v", dhcpPorts, err)
	}

	for i, v := range vms {
		if got := v.dhcp(t); got != f.ips[i] {
			t.Fatalf("guest %d got %s over DHCP, want %s", i, got, f.ips[i])
		}
	}
	for i, v := range vms {
		code, body := v.get(t, "/openstack/latest/meta_data.json")
		var md struct {
			UUID     string            `json:"uuid"`
			Hostname string            `json:"hostname"`
			Keys     map[string]string `json:"public_keys"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &md) != nil {
			t.Fatalf("guest %d meta_data.json: %d %s", i, code, body)
		}
		want := f.metadata[f.devices[i]]
		if md.UUID != want.UUID || md.Hostname != want.Hostname || md.Keys["k"] != want.PublicKeys["k"] {
			t.Errorf("guest %d meta_data.json = %+v, want uuid %s hostname %s", i, md, want.UUID, want.Hostname)
		}
		// A forged source header changes nothing.
		other := f.ips[1-i]
		_, forged := v.get(t, "/openstack/latest/meta_data.json", "X-Forwarded-For: "+other, "X-Kumo-Network-ID: "+uuid.NewString())
		if !strings.Contains(forged, want.UUID) || strings.Contains(forged, f.devices[1-i]) {
			t.Errorf("guest %d with a forged X-Forwarded-For got %s", i, forged)
		}
		if code, body := v.get(t, "/latest/meta-data/local-ipv4"); code != 200 || body != f.ips[i] {
			t.Errorf("guest %d local-ipv4 = %d %q", i, code, body)
		}
		if code, body := v.get(t, "/openstack/latest/user_data"); code != 200 || body != string(want.UserData) {
			t.Errorf("guest %d user_data = %d %q", i, code, body)
		}
		if code, body := v.get(t, "/latest/meta-data/public-keys/0/openssh-key"); code != 200 || body != want.PublicKeys["k"] {
			t.Errorf("guest %d openssh-key = %d %q", i, code, body)
		}
		if code, _ := v.get(t, "/openstack/latest/nothing"); code != http.StatusNotFound {
			t.Errorf("guest %d unknown path: %d", i, code)
		}
	}

	// An address no instance port holds is 404, and so is an instance
	// compute does not know.
	h := &metadata.Handler{Store: f.st, Bus: f.bus}
	for _, ip := range []string{"10.77.0.99", f.ips[0]} {
		if ip == f.ips[0] {
			delete(f.metadata, f.devices[0])
		}
		rec := httptest.NewRecorder()
		h.ServeMetadata(rec, httptest.NewRequest(http.MethodGet, "/openstack/latest/meta_data.json", nil),
			datapath.MetadataSource{NetworkID: f.net.ID, IP: net.ParseIP(ip)})
		if rec.Code != http.StatusNotFound {
			t.Errorf("metadata for %s: %d %s, want 404", ip, rec.Code, rec.Body)
		}
	}

	// Ports with a tap are ACTIVE; once the tap goes, DOWN.
	waitStatus(t, f.st, f.ports[0].ID, "ACTIVE")
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case id := <-active:
			seen[id] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("port ACTIVE events: %v, want both ports", seen)
		}
	}
	if !seen[f.ports[0].ID] || !seen[f.ports[1].ID] {
		t.Errorf("port ACTIVE events for %v", seen)
	}
	removeVM(vms[1])
	waitStatus(t, f.st, f.ports[1].ID, "DOWN")

	// Deleting everything takes the datapath away.
	ids := []string{f.ports[0].ID, f.ports[1].ID, dhcpPorts[0].ID}
	for _, id := range ids {
		if err := f.st.Release(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.st.Delete(ctx, &store.Port{Meta: store.Meta{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.Delete(ctx, f.subnet); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Delete(ctx, f.net); err != nil {
		t.Fatal(err)
	}
	removeVM(vms[0])
	if err := a.Reconcile(ctx, ""); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if left := leftovers(t, testOwner, testDir, []string{f.net.ID}, ids); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func waitStatus(t *testing.T, st *store.Store, portID, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, err := store.Get[store.Port](context.Background(), st, portID, false)
		if err == nil && p.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %s status: %v %v, want %s", portID, p, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
