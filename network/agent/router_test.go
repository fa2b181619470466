package agent

import (
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/store"
)

// TestAgentRouter puts the fixture's network behind a router whose
// gateway is on a host-only external network carrying the host address,
// and reaches a guest from the host through its floating IP.
func TestAgentRouter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the network agent test needs root")
	}
	ctx := t.Context()
	f := newFixture(t)
	meta := func() store.Meta { return store.Meta{ID: uuid.NewString(), ProjectID: f.project} }
	phys := "agtpub"
	ext := &store.Network{Meta: store.Meta{ID: uuid.NewString()}, Name: "agtpub", AdminStateUp: true, External: true, MTU: 1500,
		NetworkType: store.TypeFlat, PhysicalNetwork: &phys, PortSecurityEnabled: true, Status: "ACTIVE"}
	gw := "172.31.77.1"
	extSub := &store.Subnet{Meta: store.Meta{ID: uuid.NewString()}, NetworkID: ext.ID, IPVersion: 4, CIDR: "172.31.77.0/24", GatewayIP: &gw}
	extSub.AllocationPools.V = []store.Pool{{Start: "172.31.77.10", End: "172.31.77.200"}}
	extSub.DNSNameservers.V, extSub.HostRoutes.V = []string{}, []store.HostRoute{}
	icmp := "icmp"
	ingress := &store.SecurityGroupRule{Meta: meta(), SecurityGroupID: f.sg.ID, Direction: "ingress", Ethertype: "IPv4", Protocol: &icmp}
	r := &store.Router{Meta: meta(), Name: "agt", AdminStateUp: true, Status: "ACTIVE", EnableSNAT: true, GWNetworkID: &ext.ID}
	port := func(netID, owner, device, mac string) *store.Port {
		return &store.Port{Meta: meta(), NetworkID: netID, MACAddress: mac, AdminStateUp: true, Status: "ACTIVE",
			DeviceOwner: owner, DeviceID: device, BindingVNICType: "normal", SecurityGroups: []string{}}
	}
	gwPort := port(ext.ID, "network:router_gateway", r.ID, "fa:16:3e:77:01:01")
	ifPort := port(f.net.ID, "network:router_interface", r.ID, "fa:16:3e:77:01:02")
	fipPort := port(ext.ID, "network:floatingip", "", "fa:16:3e:77:01:03")
	r.GWPortID = &gwPort.ID
	fixed := f.ips[0]
	fip := &store.FloatingIP{Meta: meta(), FloatingNetworkID: ext.ID, FloatingPortID: fipPort.ID, FloatingIPAddress: "172.31.77.20",
		PortID: &f.ports[0].ID, FixedIPAddress: &fixed, RouterID: &r.ID, Status: "ACTIVE"}
	allocs := []store.IPAllocation{
		{SubnetID: extSub.ID, IPAddress: "172.31.77.10", PortID: gwPort.ID, NetworkID: ext.ID},
		{SubnetID: f.subnet.ID, IPAddress: "10.77.0.1", PortID: ifPort.ID, NetworkID: f.net.ID},
		{SubnetID: extSub.ID, IPAddress: "172.31.77.20", PortID: fipPort.ID, NetworkID: ext.ID},
	}
	for _, row := range []store.Row{ext, extSub, ingress, gwPort, ifPort, fipPort, r, fip} {
		if err := f.st.Create(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
	for _, al := range allocs {
		if err := f.st.Allocate(ctx, al); err != nil {
			t.Fatal(err)
		}
	}
	a := startAgent(t, f)
	rep, err := bus.Request[rpc.PlugRequest, rpc.PlugReply](ctx, f.bus, rpc.AgentPlugSubject(testHost), rpc.PlugRequest{PortID: f.ports[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(t, "r", rep.Tap, f.ports[0].MACAddress)
	if got := v.dhcp(t); got != f.ips[0] {
		t.Fatalf("DHCP gave %s, want %s", got, f.ips[0])
	}
	// The host reaches the guest through its floating IP, and the guest
	// reaches the host's address on the external network through SNAT.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, errHost := tryRun("", "busybox", "ping", "-c", "1", "-W", "1", "172.31.77.20")
		_, errGuest := tryRun(v.ns, "busybox", "ping", "-c", "1", "-W", "1", gw)
		if errHost == nil && errGuest == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host → floating IP: %v; guest → %s: %v", errHost, gw, errGuest)
		}
		time.Sleep(200 * time.Millisecond)
	}
	nsList := run(t, "", "ip", "netns", "list")
	if !contains(nsList, datapath.RouterNamespace(r.ID)) {
		t.Errorf("no router namespace in %s", nsList)
	}

	// Everything deleted: router, floating IP, networks.
	removeVM(v)
	if err := f.st.Delete(ctx, fip); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Delete(ctx, r); err != nil {
		t.Fatal(err)
	}
	dhcp, err := store.List[store.Port](ctx, f.st, "device_owner = ?", "network:dhcp")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{gwPort.ID, ifPort.ID, fipPort.ID, f.ports[0].ID, f.ports[1].ID}
	for _, p := range dhcp {
		ids = append(ids, p.ID)
	}
	for _, id := range ids {
		if err := f.st.Release(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.st.Delete(ctx, &store.Port{Meta: store.Meta{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, row := range []store.Row{extSub, f.subnet, ext, f.net} {
		if err := f.st.Delete(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Reconcile(ctx, ""); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if left := leftovers(t, testOwner, testDir, []string{f.net.ID, ext.ID}, ids); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if nsList := run(t, "", "ip", "netns", "list"); contains(nsList, datapath.RouterNamespace(r.ID)) {
		t.Errorf("router namespace left behind")
	}
}

func contains(list, name string) bool {
	for _, l := range splitFields(list) {
		if l == name {
			return true
		}
	}
	return false
}
