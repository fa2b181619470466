package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

// TestNetworkAgent binds a port to the cloud's host through the API and
// watches the all-in-one network agent build the network's bridge, DHCP
// port and namespace, plug a tap that appears and set the port ACTIVE,
// and take it all away once the resources are deleted.
func TestNetworkAgent(t *testing.T) {
	c := sharedCloud(t)
	ctx := context.Background()
	nc := networkClient(t, c.AdminClient(t))
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
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
		DeviceOwner: "compute:nova", DeviceID: "agent-test"}, HostID: host}).ExtractInto(&p)
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

func hostRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	return string(out)
}
