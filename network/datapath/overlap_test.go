package datapath

import (
	"context"
	"net"
	"strings"
	"testing"
)

func TestOverlappingNetworksIsolated(t *testing.T) {
	d := newTestDatapath(t, nil)
	net1, net2 := newID(), newID()
	a := newVM(t, newID(), "fa:16:3e:00:03:05", "10.0.0.5")
	b := newVM(t, newID(), "fa:16:3e:00:03:06", "10.0.0.6")
	c := newVM(t, newID(), "fa:16:3e:00:04:06", "10.0.0.6") // same IP as b, other network
	e := newVM(t, newID(), "fa:16:3e:00:04:07", "10.0.0.7")
	rules := []Rule{{Direction: Egress, EtherType: "IPv4"}, {Direction: Ingress, EtherType: "IPv4", Protocol: "icmp"}}
	port := func(v *vm, netID string) Port {
		v.setStatic(t, v.ip.String()+"/24", "")
		return Port{ID: v.tap, NetworkID: netID, Device: v.tap, MAC: v.mac, IPs: []net.IP{v.ip}, PortSecurity: true, Rules: rules}
	}
	st := State{
		Networks: []Network{{ID: net1, Type: VXLAN, VNI: 4020}, {ID: net2, Type: VXLAN, VNI: 4021}},
		Ports:    []Port{port(a, net1), port(b, net1), port(c, net2), port(e, net2)},
	}
	if err := d.Apply(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if !a.ping("10.0.0.6") {
		t.Fatal("a cannot reach b on its own network")
	}
	if neigh := run(t, a.ns, "ip", "neigh", "show", "10.0.0.6"); !strings.Contains(neigh, b.mac.String()) {
		t.Fatalf("10.0.0.6 answered from the wrong network: %s", neigh)
	}
	if !c.ping("10.0.0.7") {
		t.Fatal("c cannot reach e on its own network")
	}
	if a.ping("10.0.0.7") {
		t.Fatal("a reached e on another network")
	}
	if e.ping("10.0.0.5") {
		t.Fatal("e reached a on another network")
	}
	if ctZone(net1) == ctZone(net2) {
		t.Fatal("two networks share a conntrack zone")
	}
}
