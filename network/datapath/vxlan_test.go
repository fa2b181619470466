package datapath

import (
	"context"
	"net"
	"testing"
	"time"
)

// A VXLAN network reaches a VM on another host through unicast VXLAN with
// a static flood entry for the peer. The other host is a namespace with its
// own VXLAN device and bridge, reached over a veth underlay.
func TestVXLANPeer(t *testing.T) {
	d := newTestDatapath(t, nil)
	const vni = 4070
	remote := "kvmtest-vtep" + short(newID())[:6]
	run(t, "", "ip", "netns", "add", remote)
	t.Cleanup(func() {
		killNamespaceProcesses(remote)
		_, _ = tryRun("", "ip", "netns", "del", remote)
	})
	underlay := "kul" + short(newID())[:8]
	run(t, "", "ip", "link", "add", underlay, "type", "veth", "peer", "name", "uplink", "netns", remote)
	run(t, "", "ip", "addr", "add", "192.168.250.1/30", "dev", underlay)
	run(t, "", "ip", "link", "set", underlay, "up")
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", "192.168.250.2/30", "dev", "uplink"},
		{"ip", "link", "set", "uplink", "up"},
		{"ip", "link", "add", "br0", "type", "bridge"},
		{"ip", "link", "add", "vx0", "type", "vxlan", "id", "4070", "local", "192.168.250.2", "dstport", "4789"},
		{"bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", "192.168.250.1"},
		{"ip", "link", "set", "vx0", "master", "br0", "mtu", "1450", "up"},
		{"ip", "link", "add", "vm0", "type", "veth", "peer", "name", "vm0p"},
		{"ip", "link", "set", "vm0p", "master", "br0", "up"},
		{"ip", "link", "set", "br0", "up"},
		{"ip", "link", "set", "vm0", "mtu", "1450", "address", "fa:16:3e:00:09:09", "up"},
		{"ip", "addr", "add", "10.70.0.9/24", "dev", "vm0"},
	} {
		run(t, remote, c...)
	}
	netID := newID()
	a := newVM(t, newID(), "fa:16:3e:00:09:05", "10.70.0.5")
	a.setStatic(t, "10.70.0.5/24", "")
	st := State{
		Networks: []Network{{ID: netID, Type: VXLAN, VNI: vni, LocalVTEP: net.ParseIP("192.168.250.1"),
			PeerVTEPs: []net.IP{net.ParseIP("192.168.250.2")}}},
		Ports: []Port{{ID: "a", NetworkID: netID, Device: a.tap, MAC: a.mac, IPs: []net.IP{a.ip}, PortSecurity: true,
			Rules: []Rule{{Direction: Egress, EtherType: "IPv4"}, {Direction: Ingress, EtherType: "IPv4", Protocol: "icmp"}}}},
	}
	if err := d.Apply(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "ping across VXLAN", func() bool { return a.ping("10.70.0.9") })
	// Without the peer the segment is local again.
	st.Networks[0].PeerVTEPs = nil
	if err := d.Apply(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	run(t, a.ns, "ip", "neigh", "flush", "all")
	if a.ping("10.70.0.9") {
		t.Fatal("the remote VM is reachable without a peer VTEP")
	}
}
