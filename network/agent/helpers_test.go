package agent

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/network/datapath"
)

// run runs a command (inside namespace ns when set) and fails the test on
// error.
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

// leftovers lists what of the given networks and of owner's tables and
// dnsmasq processes exists on the host (other tests may run beside this
// one, so only objects named for this test's IDs count).
func leftovers(t *testing.T, owner, stateDir string, networks []string, ports []string) []string {
	t.Helper()
	var out []string
	links := run(t, "", "ip", "-o", "link", "show")
	nss := run(t, "", "ip", "netns", "list")
	for _, n := range networks {
		if strings.Contains(links, " "+datapath.BridgeName(n)+":") {
			out = append(out, "bridge "+datapath.BridgeName(n))
		}
		if strings.Contains(nss, datapath.DHCPNamespace(n)) {
			out = append(out, "netns "+datapath.DHCPNamespace(n))
		}
	}
	for _, p := range ports {
		if k := "kd-" + datapath.TapName(p)[3:]; strings.Contains(links, " "+k+"@") || strings.Contains(links, " "+k+":") {
			out = append(out, "link "+k)
		}
	}
	if tables := run(t, "", "nft", "list", "tables"); strings.Contains(tables, "kumo_"+owner) {
		out = append(out, "nft kumo_"+owner)
	}
	if pids, _ := exec.Command("pgrep", "-f", "dnsmasq.*"+stateDir).Output(); len(bytes.TrimSpace(pids)) > 0 {
		out = append(out, "dnsmasq "+strings.Join(strings.Fields(string(pids)), " "))
	}
	return out
}

// vm is a namespace standing in for a guest: its eth0 is the peer of the
// port's tap.
type vm struct{ ns, tap string }

func newVM(t *testing.T, name, tap, mac string) *vm {
	t.Helper()
	v := &vm{ns: "kvmagt-" + name, tap: tap}
	removeVM(v)
	run(t, "", "ip", "netns", "add", v.ns)
	t.Cleanup(func() { removeVM(v) })
	run(t, "", "ip", "link", "add", v.tap, "type", "veth", "peer", "name", "eth0", "netns", v.ns)
	run(t, v.ns, "ip", "link", "set", "eth0", "address", mac)
	run(t, v.ns, "ip", "link", "set", "lo", "up")
	run(t, v.ns, "ip", "link", "set", "eth0", "up")
	return v
}

func removeVM(v *vm) {
	out, _ := tryRun("", "ip", "netns", "pids", v.ns)
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_, _ = tryRun("", "ip", "link", "del", v.tap)
	_, _ = tryRun("", "ip", "netns", "del", v.ns)
}

// udhcpcScript applies a busybox udhcpc lease: address and the classless
// static routes (option 121), and records the address.
const udhcpcScript = `#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr flush dev $interface
ip addr add $ip/$mask dev $interface
set -- $staticroutes
while [ -n "$1" ]; do
	if [ "$1" = 0.0.0.0/0 ]; then ip route replace default via $2; else ip route replace $1 via $2; fi
	shift 2
done
echo "$ip" > $LEASE_FILE
`

// dhcp runs one DHCP exchange in the guest and returns its address.
func (v *vm) dhcp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	lease := filepath.Join(dir, "lease")
	cmd := exec.Command("ip", "netns", "exec", v.ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
		"-t", "10", "-T", "1", "-O", "staticroutes", "-s", script)
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

// get fetches a metadata URL from the guest: status code and body.
func (v *vm) get(t *testing.T, path string, headers ...string) (int, string) {
	t.Helper()
	args := []string{"curl", "-s", "-m", "10", "-w", "\n%{http_code}"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	out := run(t, v.ns, append(args, "http://169.254.169.254"+path)...)
	i := strings.LastIndex(out, "\n")
	code, err := strconv.Atoi(strings.TrimSpace(out[i+1:]))
	if err != nil {
		t.Fatalf("curl %s: %q", path, out)
	}
	return code, out[:i]
}

// splitFields is the first field of each line.
func splitFields(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}
