package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// TestNetworkMetadata is the acceptance test of the metadata service from
// real guests: two kumo-tiny servers on a tenant network, created without
// a config drive (Nova's default) but with a key pair and user data, get
// their metadata from 169.254.169.254: the console says so, READY carries
// the right hostname, the user data runs, and each guest's own request for
// meta_data.json (even with a forged X-Forwarded-For naming the other
// guest) returns its own UUID.
func TestNetworkMetadata(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ctx := context.Background()
	m := newMember(t, c.Identity(t, admin))
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	nc := networkClient(t, pc)
	cc := compute(t, pc, "2.37")
	imageID := tinyServerImage(t, c, admin)
	flavorID := testFlavor(t, compute(t, admin, ""), 96, 1, 1)
	tnet, _ := testNetwork(t, nc, "10.84.0.0/24")
	kp := must[*keypairs.KeyPair](t, "create key pair")(keypairs.Create(ctx, cc, keypairs.CreateOpts{Name: uniq("md-key")}).Extract())
	t.Cleanup(func() { _ = keypairs.Delete(ctx, cc, kp.Name, nil).ExtractErr() })

	addrs := []string{"10.84.0.10", "10.84.0.11"}
	var ids, names []string
	start := time.Now()
	for i, addr := range addrs {
		name := tinyName("md")
		srv := must[*servers.Server](t, "create server")(servers.Create(ctx, cc, keypairs.CreateOptsExt{
			CreateOptsBuilder: servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorID,
				Networks: []servers.Network{{UUID: tnet.ID, FixedIP: addr}}, UserData: []byte(metadataUserData(addrs[1-i]))},
			KeyName: kp.Name}, nil).Extract())
		ids, names = append(ids, srv.ID), append(names, name)
	}
	t.Cleanup(func() { deleteServers(t, cc, ids...) })
	for i, id := range ids {
		s := waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
		if s.ConfigDrive {
			t.Errorf("server %s config_drive = %v, want none", id, s.ConfigDrive)
		}
		if _, err := os.Stat(filepath.Join(c.StateDir, "instances", id, "disk.config")); !os.IsNotExist(err) {
			t.Errorf("server %s has a config drive on the host: %v", id, err)
		}
		console := waitBoots(t, cc, id, names[i], 1)
		if !strings.Contains(console, "kumo-tiny: metadata from metadata service") {
			t.Errorf("server %s did not get its metadata from the metadata service:\n%s", id, tailLines(console, 20))
		}
		if !strings.Contains(console, "KUMO-TINY READY "+names[i]+" "+addrs[i]) {
			t.Errorf("server %s: no READY line with hostname %s and %s:\n%s", id, names[i], addrs[i], tailLines(console, 20))
		}
	}
	t.Logf("FIGURE metadata-boot: two servers READY from the metadata service in %s", time.Since(start).Round(time.Millisecond))
	uuidRe := regexp.MustCompile(`user_data: (MD|FORGED)-UUID (\S*)`)
	for i, id := range ids {
		out := waitConsole(t, cc, id, "user_data: MD-DONE", "", 2*time.Minute)
		got := map[string]string{}
		for _, m := range uuidRe.FindAllStringSubmatch(out, -1) {
			got[m[1]] = m[2]
		}
		if got["MD"] != id || got["FORGED"] != id {
			t.Errorf("server %s saw uuid %q, and %q with X-Forwarded-For %s; want its own:\n%s", id, got["MD"], got["FORGED"], addrs[1-i], tailLines(out, 20))
		}
		if !strings.Contains(out, "user_data: KEY "+kp.Name+" ok") {
			t.Errorf("server %s: key pair %s not in its authorized_keys:\n%s", id, kp.Name, tailLines(out, 20))
		}
	}
	deleteServers(t, cc, ids...)
}

// metadataUserData is a user_data script that asks the metadata service
// for meta_data.json, plainly and with X-Forwarded-For naming other, and
// prints the UUID each answer carries, then checks the key pair reached
// authorized_keys. It speaks HTTP through busybox nc (the image's wget
// crashes).
func metadataUserData(other string) string {
	return fmt.Sprintf(`#!/bin/sh
get() { printf 'GET /openstack/latest/meta_data.json HTTP/1.0\r\nHost: 169.254.169.254\r\n%%s\r\n' "$1" | nc -w 5 169.254.169.254 80; }
uuid() { sed -n 's/.*"uuid": *"\([^"]*\)".*/\1/p' "$1"; }
get "" >/tmp/md.json
echo "MD-UUID $(uuid /tmp/md.json)"
get "X-Forwarded-For: %s
" >/tmp/forged.json
echo "FORGED-UUID $(uuid /tmp/forged.json)"
k=$(sed -n 's/.*"public_keys": *{ *"\([^"]*\)".*/\1/p' /tmp/md.json)
if [ -n "$k" ] && grep -q . /root/.ssh/authorized_keys; then echo "KEY $k ok"; fi
echo MD-DONE
`, other)
}
