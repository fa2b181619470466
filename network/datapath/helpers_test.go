package datapath

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vishvananda/netlink"
)

// newTestDatapath returns a Datapath with an owner unique to this test
// process, whose State is emptied when the test ends, and checks that the
// host is then as it was before.
func newTestDatapath(t *testing.T, md MetadataHandler) *Datapath {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("datapath tests need root")
	}
	// A fixed owner and state directory: a run that crashed is cleaned up
	// by the next one.
	dir := "/run/kumo/datapath-test"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Owner: "dptest", StateDir: dir, Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(context.Background(), State{}); err != nil {
		t.Fatalf("clearing leftovers: %v", err)
	}
	removeTestVMs()
	before := hostSnapshot(t, d)
	t.Cleanup(func() {
		err := d.Apply(context.Background(), State{})
		d.Close()
		if err != nil {
			t.Errorf("Apply(empty): %v", err)
		}
		if after := hostSnapshot(t, d); after != before {
			t.Errorf("host state not restored:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
	return d
}

// removeTestVMs removes VM namespaces (and so their veths) a crashed run
// left.
func removeTestVMs() {
	names, _ := namespaces()
	for _, n := range names {
		if strings.HasPrefix(n, "kvmtest-") {
			killNamespaceProcesses(n)
			_, _ = tryRun("", "ip", "netns", "del", n)
		}
	}
}

// killNamespaceProcesses kills what a test started inside a VM namespace
// (by pid: `ip netns pids`).
func killNamespaceProcesses(ns string) {
	out, _ := tryRun("", "ip", "netns", "pids", ns)
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// hostSnapshot is what Apply(State{}) must restore of d's owner: its links
// (by alias) and the test's VM veths, its namespaces (by marker) and the
// test's VM namespaces, its nftables tables and its dnsmasq processes.
// Other owners' objects are left out: kumods of other test packages run
// network agents on this host at the same time.
func hostSnapshot(t *testing.T, d *Datapath) string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		// The test's VM veths go with their kvmtest- namespaces (checked
		// below); tap veths of other test packages come and go.
		if n := l.Attrs().Name; kumoRootLink(n) && l.Attrs().Alias == d.alias {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var ns []string
	all, _ := namespaces()
	owned := map[string]bool{}
	for kind, name := range map[string]func(string) string{"dhcp": DHCPNamespace, "router": RouterNamespace} {
		entries, _ := os.ReadDir(filepath.Join(d.cfg.StateDir, kind))
		for _, e := range entries {
			owned[name(e.Name())] = true
		}
	}
	for _, n := range all {
		if owned[n] || strings.HasPrefix(n, "kvmtest-") {
			ns = append(ns, n)
		}
	}
	sort.Strings(ns)
	all, err = listTables()
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, tb := range all {
		if strings.HasSuffix(tb, " "+d.tableName()) {
			tables = append(tables, tb)
		}
	}
	var pids []string
	out, _ := exec.Command("pgrep", "-x", "dnsmasq").Output()
	for _, pid := range strings.Fields(string(out)) {
		if cmd, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && bytes.Contains(cmd, []byte(d.cfg.StateDir)) {
			pids = append(pids, pid)
		}
	}
	return fmt.Sprintf("links: %s\nnetns: %s\nnft: %s\ndnsmasq: %s", strings.Join(names, " "),
		strings.Join(ns, " "), strings.Join(tables, ", "), strings.Join(pids, " "))
}

// stateSnapshot is a detailed view of what Apply owns, to prove a second
// Apply changes nothing.
func stateSnapshot(t *testing.T, d *Datapath, st State) string {
	t.Helper()
	var b strings.Builder
	// In the root namespace, only d's links and the test's VM veths: other
	// owners' agents change theirs meanwhile.
	mine := map[string]bool{}
	all, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	bridges := map[int]bool{}
	for _, l := range all {
		if n := l.Attrs().Name; kumoRootLink(n) && l.Attrs().Alias == d.alias {
			mine[n] = true
			bridges[l.Attrs().Index] = true
		}
	}
	// The test's VM taps: veths in d's bridges.
	for _, l := range all {
		if strings.HasPrefix(l.Attrs().Name, tapPrefix) && l.Type() == "veth" && bridges[l.Attrs().MasterIndex] {
			mine[l.Attrs().Name] = true
		}
	}
	ownLines := func(out string) string {
		var keep []string
		for _, line := range strings.Split(out, "\n") {
			// "7: name@peer: <...>" or "7: name    inet ..."
			f := strings.Fields(line)
			if len(f) > 1 && mine[strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":")] {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "\n") + "\n"
	}
	b.WriteString(ownLines(links(t, "")))
	b.WriteString(ownLines(addrs(t, "")))
	for _, family := range []string{"bridge", "inet"} {
		b.WriteString(run(t, "", "nft", "-a", "list", "table", family, d.tableName()))
	}
	for _, r := range st.Routers {
		ns := RouterNamespace(r.ID)
		b.WriteString(links(t, ns))
		b.WriteString(addrs(t, ns))
		b.WriteString(run(t, ns, "ip", "route", "show"))
		b.WriteString(run(t, ns, "nft", "-a", "list", "ruleset"))
	}
	for _, s := range st.DHCP {
		ns := DHCPNamespace(s.NetworkID)
		b.WriteString(links(t, ns))
		b.WriteString(addrs(t, ns))
		fmt.Fprintf(&b, "dnsmasq pid %d\n", dnsmasqPID(d.dhcpDir(s.NetworkID)))
	}
	return b.String()
}

// run runs a command, inside a namespace when ns is set, and fails the test
// on error.
func run(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := tryRun(ns, args...)
	if err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	return out
}

func tryRun(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// vm is a namespace standing in for a VM: its eth0 is one end of a veth
// pair whose other end is the port's "tap" on the host.
type vm struct {
	ns  string
	tap string
	mac net.HardwareAddr
	ip  net.IP
}

func newID() string { return uuid.NewString() }

func mustCIDR(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// newVM creates a VM namespace for a port; the tap is not plugged into any
// bridge (Apply does that).
func newVM(t *testing.T, portID string, mac string, ip string) *vm {
	t.Helper()
	v := &vm{ns: "kvmtest-" + short(portID), tap: TapName(portID), mac: mustMAC(mac), ip: net.ParseIP(ip)}
	run(t, "", "ip", "netns", "add", v.ns)
	t.Cleanup(func() {
		killNamespaceProcesses(v.ns)
		_, _ = tryRun("", "ip", "link", "del", v.tap)
		_, _ = tryRun("", "ip", "netns", "del", v.ns)
	})
	run(t, "", "ip", "link", "add", v.tap, "type", "veth", "peer", "name", "eth0", "netns", v.ns)
	run(t, v.ns, "ip", "link", "set", "eth0", "address", mac)
	run(t, v.ns, "ip", "link", "set", "lo", "up")
	run(t, v.ns, "ip", "link", "set", "eth0", "up")
	return v
}

// setStatic configures the VM's address by hand (when DHCP is not under
// test).
func (v *vm) setStatic(t *testing.T, cidr, gw string) {
	t.Helper()
	run(t, v.ns, "ip", "addr", "add", cidr, "dev", "eth0")
	if gw != "" {
		run(t, v.ns, "ip", "route", "add", "default", "via", gw)
	}
}

// ping reports whether one echo to ip is answered within a second.
func (v *vm) ping(ip string) bool {
	_, err := tryRun(v.ns, "busybox", "ping", "-c", "1", "-W", "1", ip)
	return err == nil
}

// waitFor polls cond until it holds or the timeout passes, and returns how
// long it took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// udhcpcScript applies a busybox udhcpc lease: address, router and the
// classless static routes (option 121).
const udhcpcScript = `#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr flush dev $interface
ip addr add $ip/$mask dev $interface
set -- $staticroutes
while [ -n "$1" ]; do
	if [ "$1" = 0.0.0.0/0 ]; then ip route replace default via $2; else ip route replace $1 via $2; fi
	shift 2
done
[ -n "$staticroutes" ] || [ -z "$router" ] || ip route replace default via $router
echo "$ip" > $LEASE_FILE
`

// dhcp runs one DHCP exchange in the VM and returns the address obtained.
func (v *vm) dhcp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	lease := filepath.Join(dir, "lease")
	cmd := exec.Command("ip", "netns", "exec", v.ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
		"-t", "5", "-T", "1", "-O", "staticroutes", "-s", script)
	cmd.Env = append(os.Environ(), "LEASE_FILE="+lease)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("udhcpc in %s: %v: %s", v.ns, err, out)
	}
	b, err := os.ReadFile(lease)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// timers are the bridge's running timers and the operational state, which
// change by themselves (the admin UP flag stays in the flags).
var timers = regexp.MustCompile(`\w+_timer +[0-9.]+| state [A-Z]+ mode`)

// links lists links in detail, without the bridge timers.
func links(t *testing.T, ns string) string {
	return timers.ReplaceAllString(run(t, ns, "ip", "-d", "-o", "link", "show"), "")
}

// addrs lists IPv4 addresses (IPv6 link-local ones go through DAD states on
// their own time).
func addrs(t *testing.T, ns string) string {
	return run(t, ns, "ip", "-o", "-4", "addr", "show")
}

// diffLines shows the lines only in a and only in b.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}
