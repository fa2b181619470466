package datapath

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// A tap created after Apply is plugged and filtered as soon as it appears.
func TestLateTap(t *testing.T) {
	d := newTestDatapath(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.WatchTaps(ctx); err != nil {
			t.Errorf("WatchTaps: %v", err)
		}
	}()
	netID := newID()
	a := newVM(t, newID(), "fa:16:3e:00:05:05", "10.5.0.5")
	a.setStatic(t, "10.5.0.5/24", "")
	lateID := newID()
	rules := []Rule{{Direction: Egress, EtherType: "IPv4"}}
	st := State{
		Networks: []Network{{ID: netID, Type: VXLAN, VNI: 4030}},
		Ports: []Port{
			{ID: "a", NetworkID: netID, Device: a.tap, MAC: a.mac, IPs: []net.IP{a.ip}, PortSecurity: true,
				Rules: append(rules, Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "icmp"})},
			{ID: lateID, NetworkID: netID, MAC: mustMAC("fa:16:3e:00:05:06"), IPs: []net.IP{net.ParseIP("10.5.0.6")},
				PortSecurity: true, Rules: rules},
		},
	}
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	late := newVM(t, lateID, "fa:16:3e:00:05:06", "10.5.0.6") // tap named TapName(lateID)
	late.setStatic(t, "10.5.0.6/24", "")
	took := waitFor(t, 3*time.Second, "late tap plugged and pinging", func() bool { return late.ping("10.5.0.5") })
	t.Logf("late tap usable after %s", took)
	if a.ping("10.5.0.6") {
		t.Fatal("the late port admits ICMP its rules do not allow")
	}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) replies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), "bytes from")
}

// Removing a rule stops a flow it admitted (its conntrack entries go), and
// a restarted agent (a new Datapath) adopts the running dnsmasq.
func TestRuleRemovalStopsFlowAndRestart(t *testing.T) {
	d := newTestDatapath(t, nil)
	ctx := context.Background()
	netID := newID()
	a := newVM(t, newID(), "fa:16:3e:00:06:05", "10.0.0.5")
	b := newVM(t, newID(), "fa:16:3e:00:06:06", "10.0.0.6")
	a.setStatic(t, "10.0.0.5/24", "")
	b.setStatic(t, "10.0.0.6/24", "")
	dhcpPort := newID()
	if err := d.Apply(ctx, tenantState(netID, dhcpPort, 4040, a, b, icmpIngress())); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ping := exec.Command("ip", "netns", "exec", a.ns, "busybox", "ping", "-i", "0.2", "10.0.0.6")
	ping.Stdout = &out
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ping.Process.Kill(); _ = ping.Wait() })
	waitFor(t, 3*time.Second, "continuous ping answered", func() bool { return out.replies() >= 3 })
	start := time.Now()
	if err := d.Apply(ctx, tenantState(netID, dhcpPort, 4040, a, b)); err != nil {
		t.Fatal(err)
	}
	applied := time.Since(start)
	// Replies may still be in flight for a moment; after that, none.
	time.Sleep(500 * time.Millisecond)
	n := out.replies()
	time.Sleep(1500 * time.Millisecond)
	if got := out.replies(); got != n {
		t.Fatalf("the established ping flow kept getting replies after its rule went (%d -> %d)", n, got)
	}
	t.Logf("rule removal applied in %s; flow stopped", applied)

	t.Run("agent restart adopts dnsmasq", func(t *testing.T) {
		st := tenantState(netID, dhcpPort, 4040, a, b)
		pid := dnsmasqPID(d.dhcpDir(netID))
		d.Close() // the old agent's metadata listeners go with its process
		d2, err := New(d.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := d2.Apply(ctx, st); err != nil {
			t.Fatal(err)
		}
		if got := dnsmasqPID(d.dhcpDir(netID)); got != pid || pid == 0 {
			t.Fatalf("dnsmasq pid %d -> %d after restart", pid, got)
		}
		d2.Close()
	})
	t.Run("a dead dnsmasq is restarted", func(t *testing.T) {
		pid := dnsmasqPID(d.dhcpDir(netID))
		d.stopProcess(pid)
		_ = syscall.Kill(pid, 0)
		if err := d.Apply(ctx, tenantState(netID, dhcpPort, 4040, a, b)); err != nil {
			t.Fatal(err)
		}
		if got := dnsmasqPID(d.dhcpDir(netID)); got == 0 || got == pid {
			t.Fatalf("dnsmasq not restarted: pid %d -> %d", pid, got)
		}
	})
}

// A broken object is reported on its own, leaves nothing behind, and does
// not stop the others.
func TestObjectErrors(t *testing.T) {
	d := newTestDatapath(t, nil)
	good, bad, routerID := newID(), newID(), newID()
	st := State{
		Networks: []Network{{ID: good, Type: VXLAN, VNI: 4050}, {ID: bad, Type: VXLAN, VNI: 0}},
		Routers: []Router{{ID: routerID, Interfaces: []RouterInterface{
			{PortID: newID(), NetworkID: good, MAC: mustMAC("fa:16:3e:00:07:01"), IPs: []*net.IPNet{mustCIDR("10.7.0.1/24")}},
			{PortID: newID(), NetworkID: bad, MAC: mustMAC("fa:16:3e:00:07:02"), IPs: []*net.IPNet{mustCIDR("10.8.0.1/24")}},
		}}},
	}
	err := d.Apply(context.Background(), st)
	var kinds []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var oe *ObjectError
		if !errors.As(e, &oe) {
			t.Fatalf("not an ObjectError: %v", e)
		}
		kinds = append(kinds, oe.Kind+" "+oe.ID)
	}
	want := []string{"network " + bad, "router " + routerID}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("errors %v, want %v", kinds, want)
	}
	if _, err := netlink.LinkByName(BridgeName(good)); err != nil {
		t.Fatalf("the good network was not built: %v", err)
	}
	if _, err := netlink.LinkByName(BridgeName(bad)); err == nil {
		t.Fatal("the bad network left a bridge")
	}
	if namespaceExists(RouterNamespace(routerID)) {
		t.Fatal("the failed router left its namespace")
	}
	// Only this router's legs: other owners' agents on this host have
	// routers of their own.
	for _, ri := range st.Routers[0].Interfaces {
		if _, err := netlink.LinkByName(qrRootName(ri.PortID)); err == nil {
			t.Fatalf("the failed router left %s", qrRootName(ri.PortID))
		}
	}
}

// Apply repairs drift: a table or link removed behind its back comes back
// on the next Apply even though the State did not change.
func TestDriftRepaired(t *testing.T) {
	d := newTestDatapath(t, nil)
	ctx := context.Background()
	netID := newID()
	a := newVM(t, newID(), "fa:16:3e:00:0a:05", "10.10.0.5")
	st := State{
		Networks: []Network{{ID: netID, Type: VXLAN, VNI: 4080}},
		Ports:    []Port{{ID: "a", NetworkID: netID, Device: a.tap, MAC: a.mac, IPs: []net.IP{a.ip}, PortSecurity: true}},
	}
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	run(t, "", "nft", "delete", "table", "inet", d.tableName())
	run(t, "", "ip", "link", "del", VXLANName(4080))
	run(t, "", "ip", "link", "set", a.tap, "nomaster")
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	if ok, err := tableExists("", "inet", d.tableName()); err != nil || !ok {
		t.Fatalf("inet table not restored: %v", err)
	}
	br, err := netlink.LinkByName(BridgeName(netID))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{VXLANName(4080), a.tap} {
		l, err := netlink.LinkByName(name)
		if err != nil || l.Attrs().MasterIndex != br.Attrs().Index {
			t.Fatalf("%s not back on the bridge: %v", name, err)
		}
	}
}

// A DHCP namespace deleted behind Apply's back is rebuilt with a dnsmasq
// and a metadata listener inside the new namespace.
func TestDHCPNamespaceRecreated(t *testing.T) {
	d := newTestDatapath(t, MetadataHandlerFunc(func(w http.ResponseWriter, r *http.Request, src MetadataSource) {
		_, _ = w.Write([]byte(src.IP.String()))
	}))
	ctx := context.Background()
	netID := newID()
	a := newVM(t, newID(), "fa:16:3e:00:0b:05", "10.0.0.5")
	b := newVM(t, newID(), "fa:16:3e:00:0b:06", "10.0.0.6")
	st := tenantState(netID, newID(), 4090, a, b)
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	old := dnsmasqPID(d.dhcpDir(netID))
	run(t, "", "ip", "netns", "del", DHCPNamespace(netID))
	if err := d.Apply(ctx, st); err != nil {
		t.Fatal(err)
	}
	if pid := dnsmasqPID(d.dhcpDir(netID)); pid == 0 || pid == old || !inNamespaceOf(pid, DHCPNamespace(netID)) {
		t.Fatalf("dnsmasq %d -> %d not in the new namespace", old, pid)
	}
	if got := a.dhcp(t); got != "10.0.0.5" {
		t.Fatalf("DHCP after the namespace came back: %s", got)
	}
	if out := run(t, a.ns, "curl", "-sS", "-m", "5", "http://169.254.169.254/"); out != "10.0.0.5" {
		t.Fatalf("metadata after the namespace came back: %q", out)
	}
}
