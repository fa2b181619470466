package test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

// TestComputeNetworkPorts boots a server on a tenant network of a fresh
// project with a fixed IP and a port the user made: the server is ACTIVE
// with both; deleting it deletes the port compute created and leaves the
// user's port, unbound. It also checks the create's validation of
// networks, the security group actions and os-interface's bad input.
func TestComputeNetworkPorts(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ctx := context.Background()
	m := newMember(t, c.Identity(t, admin))
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	nc := networkClient(t, pc)
	cc := compute(t, pc, "2.37")
	imageID := tinyServerImage(t, c, admin)
	flavorID := testFlavor(t, compute(t, admin, ""), 96, 1, 1)
	net, _ := testNetwork(t, nc, "10.77.0.0/24")

	t.Run("Validation", func(t *testing.T) {
		url := c.URL + "/compute/v2.1/servers"
		hdr := map[string]string{"OpenStack-API-Version": "compute 2.37"}
		for _, tc := range []struct {
			name, want string
			networks   any
		}{
			{"bad network uuid", "Bad networks format: network uuid is not in proper format (nope)", []any{map[string]any{"uuid": "nope"}}},
			{"bad fixed ip", "Invalid fixed IP address (10.77.0.300)", []any{map[string]any{"uuid": net.ID, "fixed_ip": "10.77.0.300"}}},
			{"networks required", "'networks' is a required property", nil},
		} {
			body := map[string]any{"name": "x", "imageRef": imageID, "flavorRef": flavorID}
			if tc.networks != nil {
				body["networks"] = tc.networks
			}
			code, _, out := rawCompute(t, "POST", url, pc.Token(), hdr, map[string]any{"server": body})
			br, _ := out["badRequest"].(map[string]any)
			if msg, _ := br["message"].(string); code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
				t.Errorf("%s: %d %v, want 400 %q", tc.name, code, out, tc.want)
			}
		}
	})

	userPort, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: net.ID, Name: uniq("user-port")}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := servers.Create(ctx, cc, servers.CreateOpts{Name: tinyName("netboot"), ImageRef: imageID, FlavorRef: flavorID,
		Networks: []servers.Network{{UUID: net.ID, FixedIP: "10.77.0.50"}, {Port: userPort.ID}}}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteServers(t, cc, srv.ID) })
	got := waitStatus(t, cc, srv.ID, "ACTIVE", 3*time.Minute)
	if list, _ := got.Addresses[net.Name].([]any); len(list) != 2 {
		t.Errorf("addresses: %v", got.Addresses)
	}

	t.Run("SecurityGroups", func(t *testing.T) {
		web, err := groups.Create(ctx, nc, groups.CreateOpts{Name: uniq("web")}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = groups.Delete(ctx, nc, web.ID).ExtractErr() })
		url := c.URL + "/compute/v2.1/servers/" + srv.ID + "/action"
		act := func(action, name string) (int, map[string]any) {
			code, _, body := rawCompute(t, "POST", url, pc.Token(), nil, map[string]any{action: map[string]any{"name": name}})
			return code, body
		}
		if code, body := act("addSecurityGroup", "no-such-group"); code != 404 || body["itemNotFound"] == nil {
			t.Errorf("add unknown group: %d %v", code, body)
		}
		if code, body := act("addSecurityGroup", web.Name); code != 202 {
			t.Fatalf("add group: %d %v", code, body)
		}
		s, err := servers.Get(ctx, cc, srv.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range s.SecurityGroups {
			names = append(names, g["name"].(string))
		}
		if strings.Join(names, ",") != "default,"+web.Name {
			t.Errorf("security_groups = %v", s.SecurityGroups)
		}
		if code, body := act("removeSecurityGroup", web.Name); code != 202 {
			t.Fatalf("remove group: %d %v", code, body)
		}
		if code, body := act("removeSecurityGroup", web.Name); code != 404 || body["itemNotFound"] == nil {
			t.Errorf("remove group not on the server: %d %v", code, body)
		}
	})

	t.Run("Interfaces", func(t *testing.T) {
		bare, err := servers.Create(ctx, cc, servers.CreateOpts{Name: tinyName("ifaces"), ImageRef: imageID, FlavorRef: flavorID,
			Networks: "none"}, nil).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteServers(t, cc, bare.ID) })
		waitStatus(t, cc, bare.ID, "ACTIVE", 3*time.Minute)
		url := c.URL + "/compute/v2.1/servers/" + bare.ID + "/os-interface"
		code, _, body := rawCompute(t, "GET", url, pc.Token(), nil, nil)
		if list, ok := body["interfaceAttachments"].([]any); code != 200 || !ok || len(list) != 0 {
			t.Errorf("list interfaces: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "POST", url, pc.Token(), nil, map[string]any{"interfaceAttachment": map[string]any{"net_id": net.ID, "port_id": userPort.ID}})
		if code != 400 {
			t.Errorf("attach with net_id and port_id: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "DELETE", url+"/"+userPort.ID, pc.Token(), nil, nil)
		if code != 404 || body["itemNotFound"] == nil {
			t.Errorf("detach of a port not attached: %d %v", code, body)
		}
	})

	if err := servers.Delete(ctx, cc, srv.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "server deleted", func() error {
		_, err := servers.Get(ctx, cc, srv.ID).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		if err == nil {
			return errors.New("still there")
		}
		return err
	})
	waitFor(t, time.Minute, "the user's port unbound and the created one gone", func() error {
		all, err := ports.List(nc, ports.ListOpts{NetworkID: net.ID}).AllPages(ctx)
		if err != nil {
			return err
		}
		left, err := ports.ExtractPorts(all)
		if err != nil {
			return err
		}
		user := false
		for _, p := range left {
			if p.ID == userPort.ID {
				user = true
				if p.DeviceID != "" || p.DeviceOwner != "" {
					return fmt.Errorf("user port still bound: device %q owner %q", p.DeviceID, p.DeviceOwner)
				}
			} else if p.DeviceID == srv.ID || strings.HasPrefix(p.DeviceOwner, "compute:") {
				return fmt.Errorf("port %s (%v) left behind", p.ID, p.FixedIPs)
			}
		}
		if !user {
			return errors.New("the user's port was deleted")
		}
		return nil
	})
}
