package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

// TestComputeNetworkPing is the acceptance test of networked servers: two
// kumo-tiny servers on one tenant network each get their port's address
// (by DHCP from the network agent's dnsmasq, shown in their READY line and
// in the server's addresses) and ping each other: the project's default
// security group lets members of the group in.
func TestComputeNetworkPing(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ctx := context.Background()
	m := newMember(t, c.Identity(t, admin))
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	nc := networkClient(t, pc)
	cc := compute(t, pc, "2.37")
	imageID := tinyServerImage(t, c, admin)
	flavorID := testFlavor(t, compute(t, admin, ""), 96, 1, 1)
	net, _ := testNetwork(t, nc, "10.78.0.0/24")

	addrs := []string{"10.78.0.10", "10.78.0.11"}
	var ids, names []string
	for i, addr := range addrs {
		other := addrs[1-i]
		userData := fmt.Sprintf("#!/bin/sh\nfor i in $(seq 1 60); do if ping -c 3 -W 2 %s; then echo PING-%s-OK; exit 0; fi; sleep 2; done\necho PING-%s-FAILED\n",
			other, other, other)
		name := tinyName("ping")
		srv, err := servers.Create(ctx, cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorID,
			Networks: []servers.Network{{UUID: net.ID, FixedIP: addr}}, UserData: []byte(userData)}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		ids, names = append(ids, srv.ID), append(names, name)
	}
	t.Cleanup(func() { deleteServers(t, cc, ids...) })
	for i, id := range ids {
		s := waitStatus(t, cc, id, "ACTIVE", 5*time.Minute)
		list, _ := s.Addresses[net.Name].([]any)
		if len(list) != 1 || list[0].(map[string]any)["addr"] != addrs[i] || list[0].(map[string]any)["OS-EXT-IPS:type"] != "fixed" {
			t.Errorf("server %s addresses = %v, want %s on %s", id, s.Addresses, addrs[i], net.Name)
		}
	}
	for i, id := range ids {
		console := waitBoots(t, cc, id, names[i], 1)
		if !strings.Contains(console, "KUMO-TINY READY "+names[i]+" "+addrs[i]) {
			t.Errorf("server %s did not get %s:\n%s", id, addrs[i], tailLines(console, 20))
		}
		other := addrs[1-i]
		waitFor(t, 3*time.Minute, "ping of "+other, func() error {
			out, err := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{}).Extract()
			if err != nil {
				return err
			}
			if strings.Contains(out, "PING-"+other+"-FAILED") {
				t.Fatalf("server %s cannot ping %s:\n%s", id, other, tailLines(out, 30))
			}
			if !strings.Contains(out, "PING-"+other+"-OK") {
				return fmt.Errorf("no ping result yet")
			}
			return nil
		})
	}
	deleteServers(t, cc, ids...)
	waitFor(t, 2*time.Minute, "ports of the deleted servers gone", func() error {
		all, err := ports.List(nc, ports.ListOpts{NetworkID: net.ID}).AllPages(ctx)
		if err != nil {
			return err
		}
		left, err := ports.ExtractPorts(all)
		if err != nil {
			return err
		}
		for _, p := range left {
			if strings.HasPrefix(p.DeviceOwner, "compute:") {
				return fmt.Errorf("port %s of %s left", p.ID, p.DeviceID)
			}
		}
		return nil
	})
}
