package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsbinding"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/network/datapath"
)

// TestNetworkAgent binds a server's port to the cloud's host through the
// API and watches the all-in-one network agent build the network's
// bridge, DHCP port and namespace, plug a tap that appears and set the
// port ACTIVE, give the guest behind the tap its address and its server's
// metadata, and take it all away once the resources are deleted.
func TestNetworkAgent(t *testing.T) {
	c := sharedCloud(t)
	ctx := context.Background()
	nc := networkClient(t, c.AdminClient(t))
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	// A server (which no host fits: no VM boots) is the instance the
	// port belongs to, so a guest on the port learns about it.
	pc := c.AdminClient(t)
	cc := compute(t, pc, "2.1")
	srv := noHostServer(t, cc, testFlavor(t, cc, 128, 1, 1000000), servers.CreateOpts{Name: uniq("agent"), ImageRef: tinyServerImage(t, c, pc)}, nil)
	n := must[*networks.Network](t, "create network")(networks.Create(ctx, nc, networks.CreateOpts{Name: uniq("agent")}).Extract())
	netGone := false
	t.Cleanup(func() {
		if !netGone {
			_ = networks.Delete(ctx, nc, n.ID).ExtractErr()
		}
	})
	must[*subnets.Subnet](t, "create subnet")(subnets.Create(ctx, nc, subnets.CreateOpts{
		NetworkID: n.ID, CIDR: "10.78.0.0/24", IPVersion: gophercloud.IPv4, Name: uniq("agent"),
	}).Extract())
	var p struct {
		ports.Port
		portsbinding.PortsBindingExt
	}
	err = ports.Create(ctx, nc, portsbinding.CreateOptsExt{CreateOptsBuilder: ports.CreateOpts{NetworkID: n.ID,
		DeviceOwner: "compute:nova", DeviceID: srv.ID}, HostID: host}).ExtractInto(&p)
	if err != nil {
		t.Fatalf("create port: %v", err)
	}
	portGone := false
	t.Cleanup(func() {
		if !portGone {
			_ = ports.Delete(ctx, nc, p.ID).ExtractErr()
		}
	})
	if p.HostID != host || p.VIFType != "bridge" {
		t.Fatalf("port binding = %+v, want host %s vif_type bridge", p.PortsBindingExt, host)
	}

	bridge, ns, tap := datapath.BridgeName(n.ID), datapath.DHCPNamespace(n.ID), datapath.TapName(p.ID)
	start := time.Now()
	waitFor(t, 20*time.Second, "bridge and DHCP namespace", func() error {
		if !hostLinkExists(bridge) {
			return fmt.Errorf("no bridge %s", bridge)
		}
		if !hostNetnsExists(ns) {
			return fmt.Errorf("no namespace %s", ns)
		}
		return nil
	})
	t.Logf("datapath of the network ready after %s", time.Since(start))
	dhcp := must[[]ports.Port](t, "list dhcp ports")(listNetPorts(ctx, nc, ports.ListOpts{NetworkID: n.ID, DeviceOwner: "network:dhcp"}))
	if len(dhcp) != 1 || len(dhcp[0].FixedIPs) != 1 || dhcp[0].Status != "ACTIVE" {
		t.Fatalf("dhcp ports = %+v, want one ACTIVE with an address", dhcp)
	}

	// A tap appearing (as libvirt would make it) is plugged and the port
	// goes ACTIVE.
	guest := "kagent-" + p.ID[:8]
	hostRun(t, "ip", "netns", "add", guest)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", tap).Run()
		_ = exec.Command("ip", "netns", "del", guest).Run()
	})
	hostRun(t, "ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", guest)
	hostRun(t, "ip", "netns", "exec", guest, "ip", "link", "set", "eth0", "address", p.MACAddress)
	waitFor(t, 20*time.Second, "port ACTIVE with its tap on the bridge", func() error {
		got, err := ports.Get(ctx, nc, p.ID).Extract()
		if err != nil {
			return err
		}
		if got.Status != "ACTIVE" {
			return fmt.Errorf("status %s", got.Status)
		}
		if out := hostRun(t, "ip", "-o", "link", "show", tap); !strings.Contains(out, "master "+bridge) {
			return fmt.Errorf("tap not on the bridge: %s", out)
		}
		return nil
	})

	// The guest gets its address over DHCP and its metadata from the
	// agent's proxy, which asks the compute API.
	if got := guestDHCP(t, guest); got != p.FixedIPs[0].IPAddress {
		t.Fatalf("guest got %q over DHCP, want %s", got, p.FixedIPs[0].IPAddress)
	}
	md := hostRun(t, "ip", "netns", "exec", guest, "curl", "-sf", "-m", "10", "http://169.254.169.254/openstack/latest/meta_data.json")
	if !strings.Contains(md, `"uuid":"`+srv.ID+`"`) || !strings.Contains(md, `"name":"`+srv.Name+`"`) {
		t.Errorf("meta_data.json = %s, want server %s", md, srv.ID)
	}
	if ip := hostRun(t, "ip", "netns", "exec", guest, "curl", "-sf", "-m", "10", "http://169.254.169.254/latest/meta-data/local-ipv4"); ip != p.FixedIPs[0].IPAddress {
		t.Errorf("local-ipv4 = %q", ip)
	}

	if err := ports.Delete(ctx, nc, p.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	portGone = true
	if err := networks.Delete(ctx, nc, n.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	netGone = true
	waitFor(t, 20*time.Second, "bridge and DHCP namespace gone", func() error {
		if hostLinkExists(bridge) || hostNetnsExists(ns) {
			return fmt.Errorf("bridge %v, namespace %v still there", hostLinkExists(bridge), hostNetnsExists(ns))
		}
		return nil
	})
	if out := hostRun(t, "ip", "-o", "link", "show", tap); strings.Contains(out, "master") {
		t.Errorf("tap still enslaved after delete: %s", out)
	}
}

// TestComputeInstanceMetadata asks the compute API, over the bus as the
// network agent's metadata proxy does, about a server.
func TestComputeInstanceMetadata(t *testing.T) {
	c := sharedCloud(t)
	ctx := context.Background()
	pc := c.AdminClient(t)
	cc := compute(t, pc, "2.1")
	flavorID := testFlavor(t, cc, 128, 1, 1000000)
	name := "Meta Data_" + uniq("srv")
	s := noHostServer(t, cc, flavorID, servers.CreateOpts{Name: name, ImageRef: tinyServerImage(t, c, pc), UserData: []byte("#cloud-config\n"),
		Metadata: map[string]string{"role": "web"}}, nil)
	b := testutil.Connect(t, "nats://"+c.k.nats)
	md, err := bus.Request[rpc.InstanceMetadataRequest, rpc.InstanceMetadata](ctx, b, rpc.SubjInstanceMetadata,
		rpc.InstanceMetadataRequest{InstanceUUID: s.ID})
	if err != nil {
		t.Fatalf("instance metadata: %v", err)
	}
	wantHost := strings.ToLower(strings.NewReplacer(" ", "-", "_", "-").Replace(name))
	if md.UUID != s.ID || md.Name != name || md.Hostname != wantHost || string(md.UserData) != "#cloud-config\n" ||
		md.Meta["role"] != "web" || md.AvailabilityZone != "nova" || md.ReservationID == "" || md.ProjectID != s.TenantID {
		t.Errorf("instance metadata = %+v", md)
	}
	_, err = bus.Request[rpc.InstanceMetadataRequest, rpc.InstanceMetadata](ctx, b, rpc.SubjInstanceMetadata,
		rpc.InstanceMetadataRequest{InstanceUUID: "00000000-0000-4000-8000-000000000009"})
	if !bus.HasCode(err, bus.CodeNotFound) {
		t.Errorf("unknown instance: %v, want not found", err)
	}
}

func listNetPorts(ctx context.Context, nc *gophercloud.ServiceClient, opts ports.ListOpts) ([]ports.Port, error) {
	pages, err := ports.List(nc, opts).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	return ports.ExtractPorts(pages)
}

func hostLinkExists(name string) bool { return exec.Command("ip", "link", "show", name).Run() == nil }

func hostNetnsExists(name string) bool {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// guestDHCP runs one busybox udhcpc exchange in a namespace, applies the
// address and returns it.
func guestDHCP(t *testing.T, ns string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "udhcpc.sh")
	body := "#!/bin/sh\n[ \"$1\" = bound ] || exit 0\nip addr add $ip/$mask dev $interface\n" +
		"set -- $staticroutes\nwhile [ -n \"$1\" ]; do ip route replace $1 via $2; shift 2; done\necho $ip > $0.ip\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	hostRun(t, "ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
	hostRun(t, "ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "10", "-T", "1",
		"-O", "staticroutes", "-s", script)
	ip, err := os.ReadFile(script + ".ip")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ip))
}

func hostRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	return string(out)
}
