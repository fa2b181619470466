package test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

// TestComputeNetworkBoot boots a server on a tenant network, plugged by
// the all-in-one's network agent: the server is ACTIVE with its fixed
// address in addresses and os-interface, its tap is in the bridge, its
// config drive has network_data.json, an interface attach hot-plugs a
// second NIC and a detach removes it, and delete removes the ports.
func TestComputeNetworkBoot(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ctx := context.Background()
	m := newMember(t, c.Identity(t, admin))
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	nc := networkClient(t, pc)
	cc := compute(t, pc, "2.37")
	imageID := tinyServerImage(t, c, admin)
	flavorID := testFlavor(t, compute(t, admin, ""), 96, 1, 1)
	net, _ := testNetwork(t, nc, "10.79.0.0/24")
	bridge := "brq" + strings.ReplaceAll(net.ID, "-", "")[:11]

	// It asks for a config drive (networked servers have none by default)
	// to check the network_data.json on it.
	drive := true
	srv, err := servers.Create(ctx, cc, servers.CreateOpts{Name: tinyName("plugged"), ImageRef: imageID, FlavorRef: flavorID,
		Networks: []servers.Network{{UUID: net.ID, FixedIP: "10.79.0.20"}}, ConfigDrive: &drive}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteServers(t, cc, srv.ID) })
	s := waitStatus(t, cc, srv.ID, "ACTIVE", 3*time.Minute)
	list, _ := s.Addresses[net.Name].([]any)
	if len(list) != 1 {
		t.Fatalf("addresses = %v", s.Addresses)
	}
	addr := list[0].(map[string]any)
	mac, _ := addr["OS-EXT-IPS-MAC:mac_addr"].(string)
	if addr["addr"] != "10.79.0.20" || addr["OS-EXT-IPS:type"] != "fixed" || addr["version"] != float64(4) || !strings.HasPrefix(mac, "fa:16:3e:") {
		t.Errorf("address = %v", addr)
	}
	all, err := ports.List(nc, ports.ListOpts{DeviceID: srv.ID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := ports.ExtractPorts(all)
	if len(ps) != 1 || ps[0].MACAddress != mac || ps[0].DeviceOwner != "compute:nova" || len(ps[0].SecurityGroups) != 1 {
		t.Fatalf("ports of the server = %+v", ps)
	}
	tap := "tap" + strings.ReplaceAll(ps[0].ID, "-", "")[:11]
	if out, err := exec.Command("ip", "link", "show", tap).CombinedOutput(); err != nil || !strings.Contains(string(out), "master "+bridge) {
		t.Errorf("tap %s not in %s: %v %s", tap, bridge, err, out)
	}
	raw, err := exec.Command("isoinfo", "-R", "-x", "/openstack/latest/network_data.json", "-i",
		filepath.Join(c.StateDir, "instances", srv.ID, "disk.config")).Output()
	if err != nil {
		t.Fatalf("network_data.json: %v", err)
	}
	if !strings.Contains(string(raw), `"ethernet_mac_address":"`+mac+`"`) || !strings.Contains(string(raw), `"type":"ipv4_dhcp"`) {
		t.Errorf("network_data.json = %s", raw)
	}

	url := c.URL + "/compute/v2.1/servers/" + srv.ID + "/os-interface"
	code, _, body := rawCompute(t, "GET", url, pc.Token(), nil, nil)
	if l, _ := body["interfaceAttachments"].([]any); code != 200 || len(l) != 1 || l[0].(map[string]any)["port_id"] != ps[0].ID {
		t.Errorf("os-interface list: %d %v", code, body)
	}
	code, _, body = rawCompute(t, "POST", url, pc.Token(), nil, map[string]any{"interfaceAttachment": map[string]any{
		"net_id": net.ID, "fixed_ips": []any{map[string]any{"ip_address": "10.79.0.30"}}}})
	att, _ := body["interfaceAttachment"].(map[string]any)
	if code != 200 || att == nil {
		t.Fatalf("attach: %d %v", code, body)
	}
	port2, _ := att["port_id"].(string)
	mac2, _ := att["mac_addr"].(string)
	if xml, err := virsh("dumpxml", srv.ID); err != nil || !strings.Contains(xml, mac2) || !strings.Contains(xml, mac) {
		t.Errorf("domain after attach lacks a NIC (%v):\n%s", err, xml)
	}
	s, err = servers.Get(ctx, cc, srv.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Addresses[net.Name].([]any); len(l) != 2 {
		t.Errorf("addresses after attach = %v", s.Addresses)
	}
	code, _, body = rawCompute(t, "DELETE", url+"/"+port2, pc.Token(), nil, nil)
	if code != 202 {
		t.Fatalf("detach: %d %v", code, body)
	}
	if xml, _ := virsh("dumpxml", "--inactive", srv.ID); strings.Contains(xml, mac2) {
		t.Errorf("NIC %s still defined after detach", mac2)
	}
	if _, err := ports.Get(ctx, nc, port2).Extract(); err == nil {
		t.Errorf("attached port %s survived its detach", port2)
	}

	if err := servers.Delete(ctx, cc, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "ports of the deleted server gone", func() error {
		all, err := ports.List(nc, ports.ListOpts{DeviceID: srv.ID}).AllPages(ctx)
		if err != nil {
			return err
		}
		if ps, _ := ports.ExtractPorts(all); len(ps) != 0 {
			return fmt.Errorf("%d ports left", len(ps))
		}
		return nil
	})
}
