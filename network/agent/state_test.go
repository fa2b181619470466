package agent

import (
	"net"
	"reflect"
	"testing"

	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/store"
)

func TestParsePhysicalNetworks(t *testing.T) {
	got, err := ParsePhysicalNetworks(" public=hostonly, ext=eth1 ,")
	if err != nil || !reflect.DeepEqual(got, map[string]string{"public": HostOnly, "ext": "eth1"}) {
		t.Errorf("parse = %v, %v", got, err)
	}
	for _, bad := range []string{"public", "=eth0", "public=", "x=averyveryverylongname"} {
		if _, err := ParsePhysicalNetworks(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestBuild checks the State of a snapshot: remote groups resolve to
// their members' addresses of the rule's family, an unmapped flat
// network and its ports are left out, and only networks in use get a
// bridge.
func TestBuild(t *testing.T) {
	a, err := New(Config{Host: "h1", Owner: "bltest", PhysicalNetworks: map[string]string{"public": HostOnly}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	vni, phys, other := 9, "public", "elsewhere"
	gw := "172.24.4.1"
	snap := &snapshot{
		nets: map[string]store.Network{
			"n1":  {Meta: store.Meta{ID: "n1"}, NetworkType: store.TypeVXLAN, SegmentationID: &vni, MTU: 1450},
			"n2":  {Meta: store.Meta{ID: "n2"}, NetworkType: store.TypeFlat, PhysicalNetwork: &other},
			"pub": {Meta: store.Meta{ID: "pub"}, NetworkType: store.TypeFlat, PhysicalNetwork: &phys},
		},
		subnets: map[string]store.Subnet{
			"s1": {Meta: store.Meta{ID: "s1"}, NetworkID: "n1", IPVersion: 4, CIDR: "10.0.0.0/24"},
			"sp": {Meta: store.Meta{ID: "sp"}, NetworkID: "pub", IPVersion: 4, CIDR: "172.24.4.0/24", GatewayIP: &gw},
		},
		ports: []store.Port{
			{Meta: store.Meta{ID: "p1"}, NetworkID: "n1", MACAddress: "fa:16:3e:00:00:01", BindingHostID: "h1", DeviceOwner: "compute:nova",
				PortSecurityEnabled: true, SecurityGroups: []string{"g"}},
			{Meta: store.Meta{ID: "p2"}, NetworkID: "n1", MACAddress: "fa:16:3e:00:00:02", BindingHostID: "h2", DeviceOwner: "compute:nova",
				SecurityGroups: []string{"g"}},
			{Meta: store.Meta{ID: "p3"}, NetworkID: "n2", MACAddress: "fa:16:3e:00:00:03", BindingHostID: "h1", DeviceOwner: "compute:nova"},
		},
		allocs: map[string][]store.IPAllocation{
			"p1": {{SubnetID: "s1", IPAddress: "10.0.0.5", PortID: "p1", NetworkID: "n1"}},
			"p2": {{SubnetID: "s1", IPAddress: "10.0.0.6", PortID: "p2", NetworkID: "n1"}},
		},
		rules: map[string][]store.SecurityGroupRule{"g": {
			{SecurityGroupID: "g", Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: ptr("g")},
			{SecurityGroupID: "g", Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: ptr("g")},
			{SecurityGroupID: "g", Direction: "ingress", Ethertype: "IPv4", Protocol: ptr("icmp"), PortRangeMin: ptr(8), PortRangeMax: ptr(0)},
		}},
	}
	st := a.build(snap, "")
	if len(st.Networks) != 1 || st.Networks[0].ID != "n1" || st.Networks[0].VNI != 9 {
		t.Fatalf("networks = %+v, want n1 only", st.Networks)
	}
	if len(st.Ports) != 1 || st.Ports[0].ID != "p1" || len(st.Ports[0].Rules) != 3 {
		t.Fatalf("ports = %+v, want p1 with 3 rules", st.Ports)
	}
	r := st.Ports[0].Rules
	if !r[0].RemoteGroup || len(r[0].RemoteIPs) != 2 || !r[0].RemoteIPs[1].Equal(net.ParseIP("10.0.0.6")) {
		t.Errorf("IPv4 remote group rule = %+v", r[0])
	}
	if !r[1].RemoteGroup || len(r[1].RemoteIPs) != 0 {
		t.Errorf("IPv6 remote group rule = %+v, want no members", r[1])
	}
	if r[2].ICMPType == nil || *r[2].ICMPType != 8 || r[2].ICMPCode == nil || *r[2].ICMPCode != 0 || r[2].PortMin != 0 {
		t.Errorf("icmp rule = %+v", r[2])
	}
	// A plug request sets up a port whatever its binding, and a router
	// gateway on the public network brings its host-only bridge with the
	// gateway address.
	snap.routers = []store.Router{{Meta: store.Meta{ID: "r1"}, GWPortID: ptr("gp")}}
	snap.ports = append(snap.ports, store.Port{Meta: store.Meta{ID: "gp"}, NetworkID: "pub", MACAddress: "fa:16:3e:00:00:09",
		DeviceOwner: "network:router_gateway", DeviceID: "r1"})
	snap.allocs["gp"] = []store.IPAllocation{{SubnetID: "sp", IPAddress: "172.24.4.10", PortID: "gp", NetworkID: "pub"}}
	st = a.build(snap, "p2")
	if len(st.Ports) != 2 || len(st.Routers) != 1 || st.Routers[0].Gateway == nil || !st.Routers[0].Gateway.NextHop.Equal(net.ParseIP(gw)) {
		t.Fatalf("ports %+v routers %+v", st.Ports, st.Routers)
	}
	var pub *datapath.Network
	for i := range st.Networks {
		if st.Networks[i].ID == "pub" {
			pub = &st.Networks[i]
		}
	}
	if pub == nil || pub.HostAddress.String() != "172.24.4.1/24" || !pub.NATUplink {
		t.Errorf("public network = %+v", pub)
	}
}

func ptr[T any](v T) *T { return &v }
