package datapath

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRouterSNATAndFloatingIP(t *testing.T) {
	d := newTestDatapath(t, nil)
	ctx := context.Background()
	extID, netID, routerID := newID(), newID(), newID()
	a := newVM(t, newID(), "fa:16:3e:00:01:05", "10.1.0.5")
	a.setStatic(t, "10.1.0.5/24", "10.1.0.1")
	t.Cleanup(func() { os.RemoveAll("/tmp/kumo-httpd-" + a.tap) })
	run(t, a.ns, "sh", "-c", "mkdir -p /tmp/kumo-httpd-"+a.tap+" && echo hello-from-vm > /tmp/kumo-httpd-"+a.tap+"/index.html")
	run(t, a.ns, "busybox", "httpd", "-p", "8080", "-h", "/tmp/kumo-httpd-"+a.tap)

	router := Router{
		ID: routerID,
		Interfaces: []RouterInterface{{PortID: newID(), NetworkID: netID, MAC: mustMAC("fa:16:3e:00:01:01"),
			IPs: []*net.IPNet{mustCIDR("10.1.0.1/24")}}},
		Gateway: &Gateway{PortID: newID(), NetworkID: extID, MAC: mustMAC("fa:16:3e:00:02:0a"),
			IPs: []*net.IPNet{mustCIDR("198.51.100.10/24")}, NextHop: net.ParseIP("198.51.100.1"), SNAT: true},
		FloatingIPs: []FloatingIP{{FloatingIP: net.ParseIP("198.51.100.20"), FixedIP: a.ip}},
	}
	st := State{
		Networks: []Network{
			{ID: extID, Type: Flat, HostAddress: mustCIDR("198.51.100.1/24"), NATUplink: true},
			{ID: netID, Type: VXLAN, VNI: 4010},
		},
		Routers: []Router{router},
		Ports: []Port{{ID: "a-" + netID, NetworkID: netID, Device: a.tap, MAC: a.mac, IPs: []net.IP{a.ip}, PortSecurity: true,
			Rules: []Rule{
				{Direction: Egress, EtherType: "IPv4"},
				{Direction: Ingress, EtherType: "IPv4", Protocol: "icmp"},
				{Direction: Ingress, EtherType: "IPv4", Protocol: "tcp", PortMin: 8080, PortMax: 8080, RemoteCIDR: mustCIDR("0.0.0.0/0")},
			}}},
	}
	start := time.Now()
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("first Apply (2 networks, router with gateway and floating IP, 1 port): %s", time.Since(start))
	snap := stateSnapshot(t, d, st)
	start = time.Now()
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("idempotent re-Apply: %s", time.Since(start))
	if again := stateSnapshot(t, d, st); again != snap {
		t.Fatalf("second Apply changed the host:\n%s", diffLines(snap, again))
	}

	t.Run("SNAT to the external network", func(t *testing.T) {
		// The host has no route back to 10.1.0.0/24: only a reply to the
		// router's gateway address comes back.
		waitFor(t, 3*time.Second, "VM pings the host's external address", func() bool { return a.ping("198.51.100.1") })
	})
	t.Run("host uplink NAT", func(t *testing.T) {
		gw := strings.Fields(run(t, "", "ip", "route", "show", "default"))
		if len(gw) < 3 {
			t.Fatalf("no default route on the host: %v", gw)
		}
		waitFor(t, 3*time.Second, "VM pings the host's gateway "+gw[2], func() bool { return a.ping(gw[2]) })
	})
	t.Run("floating IP reachable from the host", func(t *testing.T) {
		waitFor(t, 3*time.Second, "host pings the floating IP", func() bool {
			_, err := tryRun("", "busybox", "ping", "-c", "1", "-W", "1", "198.51.100.20")
			return err == nil
		})
		out := run(t, "", "curl", "-sS", "-m", "5", "http://198.51.100.20:8080/")
		if strings.TrimSpace(out) != "hello-from-vm" {
			t.Fatalf("TCP to the floating IP answered %q", out)
		}
	})
	t.Run("disassociated floating IP is gone", func(t *testing.T) {
		st2 := st
		r := router
		r.FloatingIPs = nil
		st2.Routers = []Router{r}
		if err := d.Apply(ctx, st2); err != nil {
			t.Fatal(err)
		}
		if _, err := tryRun("", "busybox", "ping", "-c", "1", "-W", "1", "198.51.100.20"); err == nil {
			t.Fatal("floating IP still answers after disassociation")
		}
		if !a.ping("198.51.100.1") {
			t.Fatal("SNAT lost with the floating IP")
		}
	})
}
