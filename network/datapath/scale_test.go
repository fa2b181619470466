package datapath

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestScale measures Apply for many ports (taps without namespaces), an
// idempotent re-Apply, and a rule change, and checks VXLAN peers converge.
func TestScale(t *testing.T) {
	const n = 50
	d := newTestDatapath(t, nil)
	ctx := context.Background()
	netID := newID()
	peers := []net.IP{net.ParseIP("192.0.2.201"), net.ParseIP("192.0.2.202")}
	st := State{Networks: []Network{{ID: netID, Type: VXLAN, VNI: 4060, PeerVTEPs: peers}}}
	for i := 0; i < n; i++ {
		id := newID()
		tap := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: TapName(id)}, Mode: netlink.TUNTAP_MODE_TAP}
		if err := netlink.LinkAdd(tap); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = netlink.LinkDel(tap) })
		st.Ports = append(st.Ports, Port{ID: id, NetworkID: netID, MAC: net.HardwareAddr{0xfa, 0x16, 0x3e, 0, 8, byte(i)},
			IPs: []net.IP{net.IPv4(10, 9, 0, byte(10+i))}, PortSecurity: true,
			Rules: []Rule{{Direction: Egress, EtherType: "IPv4"},
				{Direction: Ingress, EtherType: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22}}})
	}
	start := time.Now()
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("first Apply, %d ports: %s", n, time.Since(start))
	for _, p := range st.Ports {
		l, err := netlink.LinkByName(p.device())
		if err != nil || l.Attrs().MasterIndex == 0 {
			t.Fatalf("tap %s not plugged: %v", p.device(), err)
		}
	}
	start = time.Now()
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("idempotent re-Apply, %d ports: %s", n, time.Since(start))
	st.Ports[0].Rules = append(st.Ports[0].Rules, Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "icmp"})
	start = time.Now()
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("rule change Apply, %d ports: %s", n, time.Since(start))

	fdb := func() string { return run(t, "", "bridge", "fdb", "show", "dev", VXLANName(4060)) }
	for _, p := range peers {
		if !strings.Contains(fdb(), "00:00:00:00:00:00 dst "+p.String()) {
			t.Fatalf("no flood entry for peer %s:\n%s", p, fdb())
		}
	}
	st.Networks[0].PeerVTEPs = peers[1:]
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	if out := fdb(); strings.Contains(out, peers[0].String()) || !strings.Contains(out, peers[1].String()) {
		t.Fatalf("peers did not converge:\n%s", out)
	}
}
