package datapath

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func icmpIngress() Rule { return Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "icmp"} }

// tenantState is one VXLAN network with DHCP and metadata, and two ports
// whose security group allows all egress and ingress TCP 22 only, plus
// extra ingress rules.
func tenantState(netID, dhcpPort string, vni uint32, a, b *vm, extra ...Rule) State {
	rules := append([]Rule{
		{Direction: Egress, EtherType: "IPv4"},
		{Direction: Ingress, EtherType: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22},
	}, extra...)
	port := func(id string, v *vm) Port {
		return Port{ID: id, NetworkID: netID, Device: v.tap, MAC: v.mac, IPs: []net.IP{v.ip}, PortSecurity: true, Rules: rules}
	}
	return State{
		Networks: []Network{{ID: netID, Type: VXLAN, VNI: vni}},
		DHCP: []DHCPServer{{
			NetworkID: netID, PortID: dhcpPort, MAC: mustMAC("fa:16:3e:00:00:02"),
			IPs: []*net.IPNet{mustCIDR("10.0.0.2/24")},
			Subnets: []Subnet{{CIDR: mustCIDR("10.0.0.0/24"), Gateway: net.ParseIP("10.0.0.1"),
				DNSServers: []net.IP{net.ParseIP("10.0.0.1")}}},
			Hosts: []DHCPHost{
				{MAC: a.mac, IP: a.ip, Hostname: "vm-a"},
				{MAC: b.mac, IP: b.ip, Hostname: "vm-b"},
			},
			Metadata: true,
		}},
		Ports: []Port{port("a-"+netID, a), port("b-"+netID, b)},
	}
}

func TestTenantNetwork(t *testing.T) {
	md := MetadataHandlerFunc(func(w http.ResponseWriter, r *http.Request, src MetadataSource) {
		fmt.Fprintf(w, "network=%s ip=%s header=%s", src.NetworkID, src.IP, r.Header.Get(HeaderForwardedFor))
	})
	d := newTestDatapath(t, md)
	ctx := context.Background()
	netID := newID()
	a := newVM(t, newID(), "fa:16:3e:00:00:05", "10.0.0.5")
	b := newVM(t, newID(), "fa:16:3e:00:00:06", "10.0.0.6")
	st := tenantState(netID, newID(), 4001, a, b)

	start := time.Now()
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("first Apply (1 network, DHCP, 2 ports): %s", time.Since(start))
	snap := stateSnapshot(t, d, st)
	start = time.Now()
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("idempotent re-Apply: %s", time.Since(start))
	if again := stateSnapshot(t, d, st); again != snap {
		t.Fatalf("second Apply changed the host:\n%s", diffLines(snap, again))
	}

	t.Run("dhcp gives each VM its port's address", func(t *testing.T) {
		for _, v := range []*vm{a, b} {
			if got := v.dhcp(t); got != v.ip.String() {
				t.Fatalf("%s got %s, want %s", v.ns, got, v.ip)
			}
		}
		if routes := run(t, a.ns, "ip", "route"); !strings.Contains(routes, "169.254.169.254 via 10.0.0.2") {
			t.Fatalf("no metadata route from option 121:\n%s", routes)
		}
	})

	t.Run("security group gates ICMP", func(t *testing.T) {
		if a.ping(b.ip.String()) {
			t.Fatal("ping passed without an ICMP rule")
		}
		st := tenantState(netID, st.DHCP[0].PortID, 4001, a, b, icmpIngress())
		if err := d.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
		took := waitFor(t, 2*time.Second, "ping after adding the ICMP rule", func() bool { return a.ping(b.ip.String()) })
		t.Logf("rule added → ping passes: %s", took)
		// A ping flow running while the rule goes must stop too.
		st = tenantState(netID, st.DHCP[0].PortID, 4001, a, b)
		if err := d.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
		took = waitFor(t, 2*time.Second, "ping blocked after removing the rule", func() bool { return !a.ping(b.ip.String()) })
		t.Logf("rule removed → ping blocked: %s", took)
	})

	// From here on ICMP is allowed.
	st = tenantState(netID, st.DHCP[0].PortID, 4001, a, b, icmpIngress())
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "ping", func() bool { return a.ping(b.ip.String()) })

	t.Run("metadata sees the kernel's source, not the guest's headers", func(t *testing.T) {
		out := run(t, a.ns, "curl", "-sS", "-m", "5", "-H", "X-Forwarded-For: 10.0.0.6", "-H", "X-Kumo-Network-ID: other",
			"http://169.254.169.254/latest/meta-data/")
		want := fmt.Sprintf("network=%s ip=10.0.0.5 header=10.0.0.5", netID)
		if out != want {
			t.Fatalf("metadata answered %q, want %q", out, want)
		}
	})

	t.Run("anti-spoofing", func(t *testing.T) {
		run(t, a.ns, "ip", "addr", "flush", "dev", "eth0")
		run(t, a.ns, "ip", "addr", "add", "10.0.0.7/24", "dev", "eth0")
		if a.ping(b.ip.String()) {
			t.Error("ping from a spoofed IP passed")
		}
		run(t, a.ns, "ip", "addr", "flush", "dev", "eth0")
		run(t, a.ns, "ip", "addr", "add", "10.0.0.5/24", "dev", "eth0")
		run(t, a.ns, "ip", "link", "set", "eth0", "address", "fa:16:3e:00:00:66")
		if a.ping(b.ip.String()) {
			t.Error("ping from a spoofed MAC passed")
		}
		run(t, a.ns, "ip", "link", "set", "eth0", "address", a.mac.String())
		waitFor(t, 3*time.Second, "ping with the real MAC again", func() bool { return a.ping(b.ip.String()) })

		// ARP: a claims the DHCP port's address; b's cache must keep the
		// real MAC (the kernel takes gratuitous ARP for known entries).
		if !b.ping("10.0.0.2") {
			t.Fatal("b cannot reach the DHCP port")
		}
		time.Sleep(1100 * time.Millisecond) // past the neighbour locktime
		run(t, a.ns, "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1")
		run(t, a.ns, "busybox", "arping", "-U", "-c", "2", "-w", "1", "-I", "eth0", "-s", "10.0.0.2", "10.0.0.2")
		if neigh := run(t, b.ns, "ip", "neigh", "show", "10.0.0.2"); !strings.Contains(neigh, "fa:16:3e:00:00:02") {
			t.Fatalf("ARP spoofing passed: b has %s", neigh)
		}
	})

	t.Run("a VM cannot act as a DHCP server", func(t *testing.T) {
		dir := t.TempDir()
		conf := dir + "/udhcpd.conf"
		if err := os.WriteFile(conf, []byte("start 10.0.0.100\nend 10.0.0.110\ninterface eth0\nlease_file "+dir+"/leases\npidfile "+dir+"/pid\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, b.ns, "busybox", "udhcpd", conf)
		// Nothing else answers this MAC: dnsmasq has no host entry for it.
		rogue := newVM(t, newID(), "fa:16:3e:00:00:77", "10.0.0.77")
		st2 := st
		st2.Ports = append([]Port(nil), st.Ports...)
		// b's security group lets DHCP requests in: only anti-spoofing
		// stands between b's server and the rogue client.
		st2.Ports[1].Rules = append(append([]Rule(nil), st2.Ports[1].Rules...),
			Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "udp", PortMin: 67, PortMax: 67})
		st2.Ports = append(st2.Ports, Port{ID: "rogue-" + netID, NetworkID: netID, Device: rogue.tap,
			MAC: rogue.mac, IPs: []net.IP{rogue.ip}, PortSecurity: true, Rules: st.Ports[0].Rules})
		if err := d.Apply(ctx, st2); err != nil {
			t.Fatal(err)
		}
		out, err := tryRun(rogue.ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "2", "-T", "1", "-s", "/bin/true")
		killNamespaceProcesses(b.ns)
		if err == nil {
			t.Fatalf("a lease came from the VM's DHCP server: %s", out)
		}
		if err := d.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("only static hosts get addresses; a new host is a reload, not a restart", func(t *testing.T) {
		late := newVM(t, newID(), "fa:16:3e:00:00:99", "10.0.0.99")
		st2 := st
		st2.Ports = append(append([]Port(nil), st.Ports...), Port{ID: "late-" + netID, NetworkID: netID, Device: late.tap,
			MAC: late.mac, IPs: []net.IP{late.ip}, PortSecurity: true})
		if err := d.Apply(ctx, st2); err != nil {
			t.Fatal(err)
		}
		out, err := tryRun(late.ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "2", "-T", "1", "-s", "/bin/true")
		if err == nil {
			t.Fatalf("a MAC without a host entry got a lease: %s", out)
		}
		pid := dnsmasqPID(d.dhcpDir(netID))
		st2.DHCP = append([]DHCPServer(nil), st.DHCP...)
		st2.DHCP[0].Hosts = append(append([]DHCPHost(nil), st.DHCP[0].Hosts...),
			DHCPHost{MAC: late.mac, IP: late.ip, Hostname: "late"})
		if err := d.Apply(ctx, st2); err != nil {
			t.Fatal(err)
		}
		if got := dnsmasqPID(d.dhcpDir(netID)); got != pid || pid == 0 {
			t.Fatalf("dnsmasq pid %d -> %d", pid, got)
		}
		if got := late.dhcp(t); got != "10.0.0.99" {
			t.Fatalf("new host got %s", got)
		}
		if err := d.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
	})
}
