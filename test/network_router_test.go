package test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/kumo-cloud/kumo/network/datapath"
)

// TestNetworkRouter is the acceptance test of routers: a kumo-tiny server
// on a project network behind a router to the external network "public"
// reaches the host side of public through SNAT; a floating IP from public
// on its port makes it answer the host's pings and SSH connections
// (dropbear's banner), and no longer once disassociated. Deleting
// everything removes every host object derived from the test's IDs.
func TestNetworkRouter(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ctx := context.Background()
	m := newMember(t, c.Identity(t, admin))
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	nc := networkClient(t, pc)
	cc := compute(t, pc, "2.37")
	imageID := tinyServerImage(t, c, admin)
	flavorID := testFlavor(t, compute(t, admin, ""), 96, 1, 1)
	public := publicNetwork(t, nc)
	before := snapshotHost(t, c.StateDir)

	tnet, sn := testNetwork(t, nc, "10.83.0.0/24")
	snat := true
	r := must[*routers.Router](t, "create router")(routers.Create(ctx, nc, routers.CreateOpts{Name: uniq("router"),
		GatewayInfo: &routers.GatewayInfo{NetworkID: public.ID, EnableSNAT: &snat}}).Extract())
	t.Cleanup(func() { _ = routers.Delete(ctx, nc, r.ID).ExtractErr() })
	must[*routers.InterfaceInfo](t, "add router interface")(routers.AddInterface(ctx, nc, r.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract())
	t.Cleanup(func() {
		_, _ = routers.RemoveInterface(ctx, nc, r.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract()
	})
	sg := sshICMPGroup(t, nc)

	const fixed, hostSide = "10.83.0.10", "172.24.4.1"
	userData := fmt.Sprintf("#!/bin/sh\nfor i in $(seq 1 60); do if ping -c 1 -W 2 %[1]s >/dev/null; then echo SNAT-%[1]s-OK; exit 0; fi; sleep 1; done\necho SNAT-%[1]s-FAILED\n", hostSide)
	name := tinyName("routed")
	srv := must[*servers.Server](t, "create server")(servers.Create(ctx, cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorID,
		Networks: []servers.Network{{UUID: tnet.ID, FixedIP: fixed}}, SecurityGroups: []string{sg.Name}, UserData: []byte(userData)}, nil).Extract())
	t.Cleanup(func() { deleteServers(t, cc, srv.ID) })
	waitStatus(t, cc, srv.ID, "ACTIVE", 3*time.Minute)
	waitBoots(t, cc, srv.ID, name, 1)

	// (a) SNAT: the guest pings the host side of public.
	start := time.Now()
	waitConsole(t, cc, srv.ID, "user_data: SNAT-"+hostSide+"-OK", "user_data: SNAT-"+hostSide+"-FAILED", 2*time.Minute)
	t.Logf("FIGURE snat-ping-from-guest: %s after READY", time.Since(start).Round(time.Millisecond))

	// (b) a floating IP on the server's port.
	port := serverPort(t, nc, srv.ID)
	fip := must[*floatingips.FloatingIP](t, "create floating ip")(floatingips.Create(ctx, nc, floatingips.CreateOpts{
		FloatingNetworkID: public.ID, PortID: port.ID}).Extract())
	t.Cleanup(func() { _ = floatingips.Delete(ctx, nc, fip.ID).ExtractErr() })
	if fip.FixedIP != fixed || fip.RouterID != r.ID || !strings.HasPrefix(fip.FloatingIP, "172.24.4.") {
		t.Errorf("floating ip = %+v, want %s behind router %s", fip, fixed, r.ID)
	}
	start = time.Now()
	waitFor(t, time.Minute, "ping of "+fip.FloatingIP, func() error { _, err := hostPing(fip.FloatingIP, 1); return err })
	t.Logf("FIGURE fip-associate-to-ping: %s", time.Since(start).Round(time.Millisecond))
	rtts, err := hostPing(fip.FloatingIP, 3)
	if err != nil {
		t.Fatalf("3 pings of %s: %v", fip.FloatingIP, err)
	}
	t.Logf("FIGURE fip-ping-ms: %v (3 echoes, host to guest under TCG)", rtts)
	start = time.Now()
	var banner string
	waitFor(t, 2*time.Minute, "SSH banner on "+fip.FloatingIP+":22", func() error {
		var err error
		banner, err = sshBanner(fip.FloatingIP + ":22")
		return err
	})
	if !strings.HasPrefix(banner, "SSH-2.0-dropbear") {
		t.Errorf("banner on %s:22 = %q, want SSH-2.0-dropbear", fip.FloatingIP, banner)
	}
	t.Logf("FIGURE fip-ssh-banner: %s (%q)", time.Since(start).Round(time.Millisecond), banner)

	// Disassociated, the address answers no more.
	if _, err := floatingips.Update(ctx, nc, fip.ID, floatingips.UpdateOpts{PortID: new(string)}).Extract(); err != nil {
		t.Fatalf("disassociate: %v", err)
	}
	start = time.Now()
	waitFor(t, time.Minute, "ping of "+fip.FloatingIP+" failing", func() error {
		if _, err := hostPing(fip.FloatingIP, 1); err == nil {
			return fmt.Errorf("still answers")
		}
		return nil
	})
	t.Logf("FIGURE fip-disassociate-to-silence: %s", time.Since(start).Round(time.Millisecond))
	if rtts, err := hostPing(fip.FloatingIP, 2); err == nil || len(rtts) > 0 {
		t.Errorf("%s answers again after the disassociation", fip.FloatingIP)
	}

	// 3. Host state: every object derived from this test's IDs exists now
	// and is gone once everything is deleted.
	adminNC := networkClient(t, admin)
	mine := derivedObjects(t, adminNC, tnet.ID, r.ID)
	during := snapshotHost(t, c.StateDir)
	for _, want := range []string{datapath.BridgeName(tnet.ID), "qrouter-" + r.ID, "qdhcp-" + tnet.ID, datapath.TapName(port.ID)} {
		if !slices.Contains(mine.in(during), want) {
			t.Errorf("%s not on the host while the server runs: %v", want, mine.in(during))
		}
	}
	start = time.Now()
	deleteServers(t, cc, srv.ID)
	if err := floatingips.Delete(ctx, nc, fip.ID).ExtractErr(); err != nil {
		t.Errorf("delete floating ip: %v", err)
	}
	if _, err := routers.RemoveInterface(ctx, nc, r.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract(); err != nil {
		t.Errorf("remove router interface: %v", err)
	}
	if err := routers.Delete(ctx, nc, r.ID).ExtractErr(); err != nil {
		t.Errorf("delete router: %v", err)
	}
	if err := subnets.Delete(ctx, nc, sn.ID).ExtractErr(); err != nil {
		t.Errorf("delete subnet: %v", err)
	}
	if err := networks.Delete(ctx, nc, tnet.ID).ExtractErr(); err != nil {
		t.Errorf("delete network: %v", err)
	}
	var after hostState
	waitFor(t, time.Minute, "host objects of the test gone", func() error {
		after = snapshotHost(t, c.StateDir)
		if left := mine.in(after); len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
	t.Logf("FIGURE router-teardown: %s; host objects of the test during %d, after 0; host totals before/during/after: %s / %s / %s",
		time.Since(start).Round(time.Millisecond), len(mine.in(during)), before, during, after)
}

// publicNetwork is the all-in-one's external network.
func publicNetwork(t *testing.T, nc *gophercloud.ServiceClient) networks.Network {
	t.Helper()
	all, err := networks.List(nc, networks.ListOpts{Name: "public"}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	list, err := networks.ExtractNetworks(all)
	if err != nil || len(list) != 1 {
		t.Fatalf("network public: %v %v", list, err)
	}
	return list[0]
}

// sshICMPGroup is a security group letting ICMP and SSH in, deleted at the
// end of the test.
func sshICMPGroup(t *testing.T, nc *gophercloud.ServiceClient) *groups.SecGroup {
	t.Helper()
	ctx := context.Background()
	sg := must[*groups.SecGroup](t, "create group")(groups.Create(ctx, nc, groups.CreateOpts{Name: uniq("ssh-icmp")}).Extract())
	t.Cleanup(func() { _ = groups.Delete(ctx, nc, sg.ID).ExtractErr() })
	for _, o := range []rules.CreateOpts{
		{Protocol: rules.ProtocolICMP},
		{Protocol: rules.ProtocolTCP, PortRangeMin: 22, PortRangeMax: 22},
	} {
		o.Direction, o.EtherType, o.SecGroupID, o.RemoteIPPrefix = rules.DirIngress, rules.EtherType4, sg.ID, "0.0.0.0/0"
		must[*rules.SecGroupRule](t, "create rule")(rules.Create(ctx, nc, o).Extract())
	}
	return sg
}

// serverPort is the one port of a server.
func serverPort(t *testing.T, nc *gophercloud.ServiceClient, serverID string) ports.Port {
	t.Helper()
	all, err := ports.List(nc, ports.ListOpts{DeviceID: serverID}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ports.ExtractPorts(all)
	if err != nil || len(ps) != 1 {
		t.Fatalf("ports of %s: %+v %v", serverID, ps, err)
	}
	return ps[0]
}

// waitConsole waits for a line on a server's console, failing at once on
// the line that says it will not come.
func waitConsole(t *testing.T, cc *gophercloud.ServiceClient, id, want, failed string, d time.Duration) string {
	t.Helper()
	var out string
	waitFor(t, d, fmt.Sprintf("%q on the console of %s", want, id), func() error {
		var err error
		if out, err = servers.ShowConsoleOutput(context.Background(), cc, id, servers.ShowConsoleOutputOpts{}).Extract(); err != nil {
			return err
		}
		if failed != "" && strings.Contains(out, failed) {
			t.Fatalf("server %s: %s\n%s", id, failed, tailLines(out, 30))
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("not yet; tail %q", tailLines(out, 3))
		}
		return nil
	})
	return out
}

// hostPing sends n ICMP echo requests to addr from the host (a raw
// socket: the host may have no ping(8)), each waiting up to a second for
// its reply; it fails unless all are answered, and returns the round trips.
func hostPing(addr string, n int) ([]time.Duration, error) {
	dst := net.ParseIP(addr).To4()
	conn, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	id := uint16(rand.Uint32())
	var rtts []time.Duration
	buf := make([]byte, 1500)
	for seq := range n {
		req := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, byte(seq), 'k', 'u', 'm', 'o', 'p', 'i', 'n', 'g'}
		binary.BigEndian.PutUint16(req[2:], icmpChecksum(req))
		sent := time.Now()
		if _, err := conn.WriteTo(req, &net.IPAddr{IP: dst}); err != nil {
			return rtts, err
		}
		_ = conn.SetReadDeadline(sent.Add(time.Second))
		for {
			k, from, err := conn.ReadFrom(buf)
			if err != nil {
				return rtts, fmt.Errorf("echo %d to %s: %w", seq, addr, err)
			}
			// Every raw ICMP socket sees every reply: keep only ours.
			if ip, ok := from.(*net.IPAddr); !ok || !ip.IP.Equal(dst) || k < 8 || buf[0] != 0 ||
				binary.BigEndian.Uint16(buf[4:]) != id || buf[7] != byte(seq) {
				continue
			}
			rtts = append(rtts, time.Since(sent))
			break
		}
	}
	return rtts, nil
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// sshBanner is the first line an SSH server at addr sends.
func sshBanner(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if n == 0 {
		return "", fmt.Errorf("no banner: %v", err)
	}
	return strings.TrimSpace(strings.SplitN(string(buf[:n]), "\n", 2)[0]), nil
}

// hostState is what the host shows of network datapaths: root namespace
// link names, network namespaces, nftables tables (with the root
// ruleset's text) and the command lines of the shared cloud's dnsmasqs.
type hostState struct {
	links, netns, tables, dnsmasq []string
	ruleset                       string
}

func (h hostState) String() string {
	return fmt.Sprintf("%d links, %d netns, %d nft tables, %d dnsmasq", len(h.links), len(h.netns), len(h.tables), len(h.dnsmasq))
}

func snapshotHost(t *testing.T, stateDir string) hostState {
	t.Helper()
	run := func(args ...string) string { return hostRun(t, args...) }
	var h hostState
	for _, line := range strings.Split(run("ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			h.links = append(h.links, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	for _, line := range strings.Split(run("ip", "netns", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			h.netns = append(h.netns, f[0])
		}
	}
	for _, line := range strings.Split(run("nft", "list", "tables"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			h.tables = append(h.tables, line)
		}
	}
	h.ruleset = run("nft", "list", "ruleset")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		cmd := strings.ReplaceAll(string(raw), "\x00", " ")
		if err == nil && strings.Contains(cmd, "dnsmasq") && strings.Contains(cmd, stateDir) {
			h.dnsmasq = append(h.dnsmasq, strings.TrimSpace(cmd))
		}
	}
	return h
}

// testObjects are the names of host objects derived from a test's IDs.
type testObjects struct {
	links, netns []string
	ids          []string // in nftables rules and dnsmasq command lines
}

// in lists the objects h shows.
func (o testObjects) in(h hostState) []string {
	var found []string
	for _, l := range o.links {
		if slices.Contains(h.links, l) {
			found = append(found, l)
		}
	}
	for _, n := range o.netns {
		if slices.Contains(h.netns, n) {
			found = append(found, n)
		}
	}
	for _, id := range o.ids {
		if strings.Contains(h.ruleset, id) {
			found = append(found, "nft:"+id)
		}
		for _, d := range h.dnsmasq {
			if strings.Contains(d, id) {
				found = append(found, "dnsmasq:"+id)
			}
		}
	}
	return found
}

// derivedObjects names the host objects of a network and a router: the
// bridge and VXLAN device, the DHCP and router namespaces, and the links
// of every port on the network or of the router (VM taps, DHCP and router
// legs, the router's gateway on public); nftables rules and dnsmasq name
// the bridge, the taps and the network.
func derivedObjects(t *testing.T, adminNC *gophercloud.ServiceClient, networkID, routerID string) testObjects {
	t.Helper()
	ctx := context.Background()
	var seg struct {
		Network struct {
			Type string `json:"provider:network_type"`
			VNI  uint32 `json:"provider:segmentation_id"`
		} `json:"network"`
	}
	if err := networks.Get(ctx, adminNC, networkID).ExtractInto(&seg); err != nil {
		t.Fatal(err)
	}
	o := testObjects{links: []string{datapath.BridgeName(networkID)}, netns: []string{"qdhcp-" + networkID, "qrouter-" + routerID},
		ids: []string{networkID, datapath.BridgeName(networkID)}}
	if seg.Network.Type == "vxlan" {
		o.links = append(o.links, datapath.VXLANName(seg.Network.VNI))
	}
	var ps []ports.Port
	for _, opts := range []ports.ListOpts{{NetworkID: networkID}, {DeviceID: routerID}} {
		all, err := ports.List(adminNC, opts).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ports.ExtractPorts(all)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, got...)
	}
	for _, p := range ps {
		short := strings.TrimPrefix(datapath.TapName(p.ID), "tap")
		for _, prefix := range []string{"tap", "kd-", "kr-", "kg-"} {
			o.links = append(o.links, prefix+short)
		}
		o.ids = append(o.ids, datapath.TapName(p.ID))
	}
	return o
}
