package test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
)

// secProject is a project of the security tests with its clients.
type secProject struct {
	cc, nc *gophercloud.ServiceClient
}

func newSecProject(t *testing.T, c *Cloud, idc *gophercloud.ServiceClient) secProject {
	t.Helper()
	m := newMember(t, idc)
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	return secProject{cc: compute(t, pc, "2.37"), nc: networkClient(t, pc)}
}

// securityGroup creates a group (with Neutron's default egress rules and
// no ingress rule), deleted at the end of the test.
func securityGroup(t *testing.T, nc *gophercloud.ServiceClient) string {
	t.Helper()
	ctx := context.Background()
	g, err := groups.Create(ctx, nc, groups.CreateOpts{Name: uniq("sg")}).Extract()
	if err != nil {
		t.Fatalf("create security group: %v", err)
	}
	t.Cleanup(func() {
		if err := groups.Delete(context.Background(), nc, g.ID).ExtractErr(); err != nil {
			t.Errorf("delete security group %s: %v", g.ID, err)
		}
	})
	return g.ID
}

// allowICMP adds an ingress rule for IPv4 ICMP from anywhere to a group.
func allowICMP(t *testing.T, nc *gophercloud.ServiceClient, group string) string {
	t.Helper()
	r, err := rules.Create(context.Background(), nc, rules.CreateOpts{Direction: rules.DirIngress, EtherType: rules.EtherType4,
		SecGroupID: group, Protocol: rules.ProtocolICMP, RemoteIPPrefix: "0.0.0.0/0"}).Extract()
	if err != nil {
		t.Fatalf("create ICMP rule: %v", err)
	}
	return r.ID
}

// secServer is a kumo-tiny server of the security tests.
type secServer struct {
	p          secProject
	id, name   string
	addr, role string
	mac        string
}

// console is the server's console output.
func (s secServer) console(t *testing.T) string {
	t.Helper()
	out, err := servers.ShowConsoleOutput(context.Background(), s.p.cc, s.id, servers.ShowConsoleOutputOpts{}).Extract()
	if err != nil {
		t.Fatalf("console of %s: %v", s.role, err)
	}
	return out
}

// pingLoop is user_data pinging addr once a second forever; each attempt
// prints "<tag>-OK <n>" or "<tag>-FAIL <n>".
func pingLoop(tag, addr string) string {
	return fmt.Sprintf("n=0\nwhile :; do n=$((n+1)); if ping -c1 -W1 %s >/dev/null 2>&1; then echo %s-OK $n; sleep 1; else echo %s-FAIL $n; fi; done\n",
		addr, tag, tag)
}

var resultLine = regexp.MustCompile(`user_data: ([A-Z]+)-(OK|FAIL) (\d+)`)

// pingResults are the results of a server's ping loop with the given tag,
// in order: true for OK.
func pingResults(console, tag string) []bool {
	var out []bool
	for _, m := range resultLine.FindAllStringSubmatch(console, -1) {
		if m[1] == tag {
			out = append(out, m[2] == "OK")
		}
	}
	return out
}

var flowLine = regexp.MustCompile(`user_data: FLOW (\d+) ?(\S*)`)

// flowCount is the last "FLOW <n> [<mac>]" a server printed: the echo
// replies its long-running ping received so far (-1 before the first)
// and the MAC its ARP cache has for the address it pings.
func flowCount(console string) (int, string) {
	n, mac := -1, ""
	for _, m := range flowLine.FindAllStringSubmatch(console, -1) {
		n, _ = strconv.Atoi(m[1])
		mac = m[2]
	}
	return n, mac
}

func count(results []bool, ok bool) int {
	n := 0
	for _, r := range results {
		if r == ok {
			n++
		}
	}
	return n
}

// TestNetworkSecurity is the acceptance test of security groups, tenant
// isolation and anti-spoofing with real guests. Project 1 has servers A
// (10.0.0.10) and B (10.0.0.11) in a group without ingress rules, and a
// spoofer (10.0.0.12); project 2 has C on its own 10.0.0.0/24 network with A's
// address. A pings B once a second and B runs one long ping of A (an
// established flow). Pings fail until an ICMP ingress rule is added; then
// A's pings pass within seconds (the figure sg-rule-to-ping), C cannot
// reach 10.0.0.11 (B's address in project 1), and the spoofer, once it
// reached B, changes its IP, then its MAC, and gets nothing through; the
// rule's delete stops A's pings and B's established flow.
func TestNetworkSecurity(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ctx := context.Background()
	idc := c.Identity(t, admin)
	imageID := tinyServerImage(t, c, admin)
	flavorID := testFlavor(t, compute(t, admin, ""), 96, 1, 1)
	p1, p2 := newSecProject(t, c, idc), newSecProject(t, c, idc)
	net1, _ := testNetwork(t, p1.nc, "10.0.0.0/24")
	net2, _ := testNetwork(t, p2.nc, "10.0.0.0/24")
	closed := securityGroup(t, p1.nc)
	open1, open2 := securityGroup(t, p1.nc), securityGroup(t, p2.nc)
	allowICMP(t, p1.nc, open1)
	allowICMP(t, p2.nc, open2)

	// The spoofer first reaches B, then tries five pings from another IP
	// address, comes back to its own (and reaches B again), and then
	// changes its MAC and announces it by gratuitous ARP (without the
	// filter B would update its ARP cache and answer).
	spoofer := "until ping -c1 -W1 10.0.0.11 >/dev/null 2>&1; do sleep 1; done\necho PRE-OK\n" +
		"ip addr flush dev eth0\nip addr add 10.0.0.99/24 dev eth0\n" +
		"for n in 1 2 3 4 5; do if ping -c1 -W1 10.0.0.11 >/dev/null 2>&1; then echo SPOOFIP-OK $n; sleep 1; else echo SPOOFIP-FAIL $n; fi; done\n" +
		"ip addr flush dev eth0\nip addr add 10.0.0.12/24 dev eth0\n" +
		"until ping -c1 -W1 10.0.0.11 >/dev/null 2>&1; do sleep 1; done\necho RESTORED\n" +
		"ip link set eth0 down\nip link set eth0 address fa:16:3e:00:00:99\nip link set eth0 up\narping -U -c 2 -I eth0 10.0.0.12 >/dev/null 2>&1\n" +
		pingLoop("SPOOFMAC", "10.0.0.11")
	specs := []struct {
		p                secProject
		net, group, addr string
		role, script     string
	}{
		{p1, net1.ID, closed, "10.0.0.10", "A", pingLoop("PING", "10.0.0.11")},
		{p1, net1.ID, closed, "10.0.0.11", "B", "ping 10.0.0.10 >/dev/null 2>&1 &\n" +
			"while sleep 1; do echo FLOW $(awk '/^Icmp:/ {if (!h) {for (i = 1; i <= NF; i++) k[i] = $i; h = 1} else for (i = 1; i <= NF; i++) if (k[i] == \"InEchoReps\") print $i}' /proc/net/snmp) $(ip neigh show 10.0.0.10 | awk '{print $5}'); done\n"},
		{p1, net1.ID, open1, "10.0.0.12", "spoofer", spoofer},
		{p2, net2.ID, open2, "10.0.0.10", "C", pingLoop("ISO", "10.0.0.11")},
	}
	var srvs []secServer
	for _, s := range specs {
		name := tinyName("sec")
		srv, err := servers.Create(ctx, s.p.cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorID,
			Networks: []servers.Network{{UUID: s.net, FixedIP: s.addr}}, SecurityGroups: []string{s.group},
			UserData: []byte("#!/bin/sh\n" + s.script)}, nil).Extract()
		if err != nil {
			t.Fatalf("create %s: %v", s.role, err)
		}
		ss := secServer{p: s.p, id: srv.ID, name: name, addr: s.addr, role: s.role}
		srvs = append(srvs, ss)
		t.Cleanup(func() { deleteServers(t, ss.p.cc, ss.id) })
	}
	start := time.Now()
	for i, s := range srvs {
		got := waitStatus(t, s.p.cc, s.id, "ACTIVE", 5*time.Minute)
		for _, list := range got.Addresses {
			for _, e := range list.([]any) {
				srvs[i].mac, _ = e.(map[string]any)["OS-EXT-IPS-MAC:mac_addr"].(string)
			}
		}
	}
	a, b, spoof, cc := srvs[0], srvs[1], srvs[2], srvs[3]
	for _, s := range srvs {
		console := waitBoots(t, s.p.cc, s.id, s.name, 1)
		if !strings.Contains(console, "KUMO-TINY READY "+s.name+" "+s.addr) {
			t.Fatalf("%s did not get %s:\n%s", s.role, s.addr, tailLines(console, 20))
		}
	}
	t.Logf("%d servers booted in %s", len(srvs), time.Since(start).Round(time.Second))

	// No ICMP ingress: A's pings fail (B is up), B's flow gets nothing,
	// the spoofer never reaches B to start spoofing.
	before := len(pingResults(a.console(t), "PING"))
	waitFor(t, time.Minute, "A's pings after B booted", func() error {
		if n := len(pingResults(a.console(t), "PING")); n < before+3 {
			return fmt.Errorf("%d attempts since B booted", n-before)
		}
		return nil
	})
	if r := pingResults(a.console(t), "PING"); count(r, true) > 0 {
		t.Fatalf("A reached B without an ICMP ingress rule: %v", r)
	}
	if n, _ := flowCount(b.console(t)); n != 0 {
		t.Fatalf("B's ping of A got %d replies without an ICMP ingress rule", n)
	}
	if out := spoof.console(t); strings.Contains(out, "PRE-OK") {
		t.Fatalf("the spoofer reached B without an ICMP ingress rule:\n%s", tailLines(out, 10))
	}

	// The rule goes live: A's next ping passes.
	rule := allowICMP(t, p1.nc, closed)
	created := time.Now()
	var took time.Duration
	for {
		if count(pingResults(a.console(t), "PING"), true) > 0 {
			took = time.Since(created)
			break
		}
		if time.Since(created) > 30*time.Second {
			t.Fatalf("A still cannot ping B 30 s after the ICMP rule:\n%s", tailLines(a.console(t), 10))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("FIGURE sg-rule-to-ping %d", took.Milliseconds())
	if took > 5*time.Second {
		t.Errorf("A's pings passed %s after the rule was created, want < 5 s", took)
	}
	waitFor(t, 30*time.Second, "B's established ping of A", func() error {
		if n, _ := flowCount(b.console(t)); n < 3 {
			return fmt.Errorf("%d replies", n)
		}
		return nil
	})

	t.Run("isolation", func(t *testing.T) {
		// While B answers A, C (project 2, same CIDR, A's address) pings
		// 10.0.0.11 and gets nothing: its network has no such host.
		okA := count(pingResults(a.console(t), "PING"), true)
		before := len(pingResults(cc.console(t), "ISO"))
		waitFor(t, 30*time.Second, "C's attempts", func() error {
			if n := len(pingResults(cc.console(t), "ISO")); n < before+5 {
				return fmt.Errorf("%d attempts", n-before)
			}
			return nil
		})
		r := pingResults(cc.console(t), "ISO")
		t.Logf("C's pings of 10.0.0.11: %d attempts, %d passed", len(r), count(r, true))
		if count(r, true) > 0 {
			t.Errorf("C (project 2) reached 10.0.0.11 of project 1: %v\n%s", r, tailLines(cc.console(t), 10))
		}
		if got := count(pingResults(a.console(t), "PING"), true); got < okA+3 {
			t.Errorf("A's pings of B meanwhile: %d passed, want >= 3", got-okA)
		}
		// B's replies from 10.0.0.10 come from A (its ARP cache has A's
		// MAC), not from C, which has the same address in project 2.
		if _, mac := flowCount(b.console(t)); mac != a.mac || mac == cc.mac {
			t.Errorf("B's ARP cache has %q for 10.0.0.10, want A's %s (C's is %s)", mac, a.mac, cc.mac)
		}
	})

	t.Run("anti-spoofing", func(t *testing.T) {
		// The spoofer reached B; from another IP address nothing got
		// through, back on its own it reached B again, and with another
		// MAC nothing gets through.
		waitFor(t, time.Minute, "five pings with another MAC", func() error {
			if n := len(pingResults(spoof.console(t), "SPOOFMAC")); n < 5 {
				return fmt.Errorf("%d attempts; tail %q", n, tailLines(spoof.console(t), 3))
			}
			return nil
		})
		out := spoof.console(t)
		if !strings.Contains(out, "PRE-OK") || !strings.Contains(out, "RESTORED") {
			t.Fatalf("no PRE-OK or RESTORED:\n%s", tailLines(out, 20))
		}
		t.Logf("spoofed IP: %v; spoofed MAC: %v", pingResults(out, "SPOOFIP"), pingResults(out, "SPOOFMAC"))
		if r := pingResults(out, "SPOOFIP"); len(r) != 5 || count(r, true) > 0 {
			t.Errorf("pings from a spoofed IP address: %v, want 5 failures", r)
		}
		if r := pingResults(out, "SPOOFMAC"); count(r, true) > 0 {
			t.Errorf("pings from a spoofed MAC: %v, want failures only", r)
		}
	})

	// The rule goes: A's pings fail again and B's established flow stops
	// (its conntrack entries were flushed).
	if err := rules.Delete(ctx, p1.nc, rule).ExtractErr(); err != nil {
		t.Fatalf("delete ICMP rule: %v", err)
	}
	atDelete := len(pingResults(a.console(t), "PING"))
	waitFor(t, 30*time.Second, "A's attempts after the delete", func() error {
		if n := len(pingResults(a.console(t), "PING")); n < atDelete+6 {
			return fmt.Errorf("%d attempts since the delete", n-atDelete)
		}
		return nil
	})
	// Three attempts (~3 s) of grace for the agent, then all fail.
	if r := pingResults(a.console(t), "PING")[atDelete+3:]; count(r, true) > 0 {
		t.Errorf("A's pings still pass after the rule's delete: %v\n%s", r, tailLines(a.console(t), 10))
	}
	// B's flow: give the agent a few seconds, then it must stand still.
	time.Sleep(3 * time.Second)
	n0, _ := flowCount(b.console(t))
	time.Sleep(5 * time.Second)
	if n, _ := flowCount(b.console(t)); n != n0 {
		t.Errorf("B's established ping of A still gets replies after the rule's delete: %d -> %d\n%s", n0, n, tailLines(b.console(t), 10))
	}
}
