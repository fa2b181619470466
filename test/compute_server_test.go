package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// waitFor polls fn every 500 ms until it returns nil or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %s: %v", what, timeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// tinyServerImage uploads kumo-tiny as a public image for the test.
func tinyServerImage(t testing.TB, c *Cloud, pc *gophercloud.ProviderClient) string {
	t.Helper()
	path := kumoTinyImage(t)
	ic := imageClient(t, pc)
	img := createImage(t, ic, images.CreateOpts{Name: uniq("kumo-tiny"), ContainerFormat: "bare", DiskFormat: "qcow2",
		Visibility: ptr(images.ImageVisibilityPublic)})
	if err := uploadFile(t, ic, img.ID, path); err != nil {
		t.Fatalf("upload kumo-tiny: %v", err)
	}
	return img.ID
}

// testFlavor creates a flavor deleted when the test ends.
func testFlavor(t testing.TB, cc *gophercloud.ServiceClient, ram, vcpus, disk int) string {
	t.Helper()
	name := uniq("flavor")
	f, err := flavors.Create(context.Background(), cc, flavors.CreateOpts{ID: name, Name: name, RAM: ram, VCPUs: vcpus, Disk: &disk}).Extract()
	if err != nil {
		t.Fatalf("create flavor: %v", err)
	}
	t.Cleanup(func() { _ = flavors.Delete(context.Background(), cc, f.ID).ExtractErr() })
	return f.ID
}

// waitStatus waits until the server has status want; ERROR (unless
// wanted) fails at once with the fault.
func waitStatus(t testing.TB, cc *gophercloud.ServiceClient, id, want string, timeout time.Duration) *servers.Server {
	t.Helper()
	var s *servers.Server
	waitFor(t, timeout, "server "+id+" "+want, func() error {
		var err error
		if s, err = servers.Get(context.Background(), cc, id).Extract(); err != nil {
			return err
		}
		if s.Status == "ERROR" && want != "ERROR" {
			t.Fatalf("server %s went to ERROR: %+v", id, s.Fault)
		}
		if s.Status != want {
			return fmt.Errorf("status %s", s.Status)
		}
		return nil
	})
	return s
}

// waitBoots waits until the server's console shows n READY markers, one
// per boot of the guest, fails if it shows more, and returns the console.
func waitBoots(t testing.TB, cc *gophercloud.ServiceClient, id, name string, n int) string {
	t.Helper()
	var console string
	waitFor(t, 3*time.Minute, fmt.Sprintf("READY marker number %d", n), func() error {
		out, err := servers.ShowConsoleOutput(context.Background(), cc, id, servers.ShowConsoleOutputOpts{}).Extract()
		if err != nil {
			return err
		}
		console = out
		switch got := strings.Count(out, "KUMO-TINY READY "+name); {
		case got > n:
			t.Fatalf("%d READY markers, want %d; console:\n%s", got, n, tailLines(out, 40))
		case got < n:
			return fmt.Errorf("%d READY markers; console tail: %q", got, tailLines(out, 5))
		}
		return nil
	})
	return console
}

func usage(t testing.TB, cc *gophercloud.ServiceClient) [3]int {
	t.Helper()
	l, err := limits.Get(context.Background(), cc, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	return [3]int{l.Absolute.TotalInstancesUsed, l.Absolute.TotalCoresUsed, l.Absolute.TotalRAMUsed}
}

func TestComputeServerLifecycle(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	cc := compute(t, pc, "")
	ctx := context.Background()
	imageID := tinyServerImage(t, c, pc)
	flavorID := testFlavor(t, cc, 128, 1, 1)
	kp, err := keypairs.Create(ctx, cc, keypairs.CreateOpts{Name: uniq("key")}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keypairs.Delete(context.Background(), cc, kp.Name, nil).ExtractErr() })
	before := usage(t, cc)

	name := strings.ToLower(strings.ReplaceAll(uniq("tiny"), "_", "-"))
	created, err := servers.Create(ctx, cc, keypairs.CreateOptsExt{
		CreateOptsBuilder: servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorID, Networks: "none",
			UserData: []byte("#!/bin/sh\necho USERDATA-OK\n"), Metadata: map[string]string{"purpose": "e2e"}},
		KeyName: kp.Name,
	}, nil).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	id := created.ID
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = servers.Delete(context.Background(), cc, id).ExtractErr()
		}
	})
	if created.AdminPass == "" {
		t.Errorf("no adminPass in the create response")
	}

	s := waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
	if s.Name != name || s.KeyName != kp.Name || s.Metadata["purpose"] != "e2e" || s.Image["id"] != imageID || s.Flavor["id"] != flavorID {
		t.Errorf("server view: %+v", s)
	}
	if len(s.Addresses) != 0 {
		t.Errorf("addresses: %v", s.Addresses)
	}
	if u := usage(t, cc); u != [3]int{before[0] + 1, before[1] + 1, before[2] + 128} {
		t.Errorf("quota usage %v, want %v + (1, 1, 128)", u, before)
	}

	// The guest booted from its own disk, read the config drive and ran the
	// user data.
	waitFor(t, 3*time.Minute, "KUMO-TINY READY and the user data's output on the console", func() error {
		out, err := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{}).Extract()
		if err != nil {
			return err
		}
		if !strings.Contains(out, "KUMO-TINY READY "+name) {
			return fmt.Errorf("no marker yet; console tail: %q", tailLines(out, 5))
		}
		// kumo-tiny runs user data in the background: its output may
		// follow the READY line.
		if !strings.Contains(out, "user_data: USERDATA-OK") {
			return fmt.Errorf("user data has not printed yet; console tail: %q", tailLines(out, 5))
		}
		return nil
	})
	out, err := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{Length: 3}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Split(strings.TrimRight(out, "\n"), "\n")); n > 3 {
		t.Errorf("console with length 3 has %d lines", n)
	}

	t.Run("other project cannot see it", func(t *testing.T) {
		m := newMember(t, c.Identity(t, pc))
		mc := compute(t, c.Client(t, m.authOpts(c, m.Project.ID)), "")
		if _, err := servers.Get(ctx, mc, id).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("GET another project's server: %v, want 404", err)
		}
		if err := servers.Delete(ctx, mc, id).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("DELETE another project's server: %v, want 404", err)
		}
		pages, err := servers.List(mc, nil).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := servers.ExtractServers(pages)
		for _, s := range all {
			if s.ID == id {
				t.Errorf("another project lists the server")
			}
		}
	})

	pages, err := servers.List(cc, servers.ListOpts{Name: "^" + name + "$"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := servers.ExtractServers(pages); len(all) != 1 || all[0].ID != id {
		t.Errorf("list by name: %+v", all)
	}

	// Every boot adds a READY marker to the console log (it is appended
	// to across restarts of the domain); each step waits for the guest to
	// be up again, so the next one does not hit a guest still booting.
	boots := 1
	if err := servers.Stop(ctx, cc, id).ExtractErr(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	waitStatus(t, cc, id, "SHUTOFF", 2*time.Minute)
	if err := servers.Start(ctx, cc, id).ExtractErr(); err != nil {
		t.Fatalf("start: %v", err)
	}
	waitStatus(t, cc, id, "ACTIVE", 2*time.Minute)
	boots++
	waitBoots(t, cc, id, name, boots)
	if err := servers.Reboot(ctx, cc, id, servers.RebootOpts{Type: servers.HardReboot}).ExtractErr(); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	waitStatus(t, cc, id, "ACTIVE", 2*time.Minute)
	boots++
	waitBoots(t, cc, id, name, boots)
	// A soft reboot is a clean shutdown of the guest and a fresh boot.
	if err := servers.Reboot(ctx, cc, id, servers.RebootOpts{Type: servers.SoftReboot}).ExtractErr(); err != nil {
		t.Fatalf("soft reboot: %v", err)
	}
	if s, err := servers.Get(ctx, cc, id).Extract(); err != nil || s.Status != "REBOOT" {
		t.Errorf("status right after a soft reboot: %v %v, want REBOOT", s, err)
	}
	waitStatus(t, cc, id, "ACTIVE", 2*time.Minute)
	boots++
	// busybox init says this when the guest shuts down cleanly: on the
	// stop, and now on the soft reboot (not a fallback to a hard one).
	if n := strings.Count(waitBoots(t, cc, id, name, boots), "The system is going down NOW!"); n != 2 {
		t.Errorf("%d clean shutdowns on the console, want 2 (stop, soft reboot)", n)
	}
	for _, step := range []struct {
		name string
		call func() error
		want string
	}{
		{"pause", func() error { return servers.Pause(ctx, cc, id).ExtractErr() }, "PAUSED"},
		{"unpause", func() error { return servers.Unpause(ctx, cc, id).ExtractErr() }, "ACTIVE"},
		{"suspend", func() error { return servers.Suspend(ctx, cc, id).ExtractErr() }, "SUSPENDED"},
		{"resume", func() error { return servers.Resume(ctx, cc, id).ExtractErr() }, "ACTIVE"},
	} {
		if err := step.call(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		waitStatus(t, cc, id, step.want, 2*time.Minute)
	}
	// An action the state does not allow is a conflict.
	if err := servers.Unpause(ctx, cc, id).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Errorf("unpause of an active server: %v, want 409", err)
	}

	// Admins see where it runs; from 2.47 the flavor is embedded.
	code, _, body := rawCompute(t, "GET", c.URL+"/compute/v2.1/servers/"+id, pc.Token(),
		map[string]string{"OpenStack-API-Version": "compute 2.47"}, nil)
	srv, _ := body["server"].(map[string]any)
	fl, _ := srv["flavor"].(map[string]any)
	if code != 200 || srv["OS-EXT-SRV-ATTR:host"] == nil || srv["OS-EXT-SRV-ATTR:instance_name"] != "instance-"+id ||
		srv["OS-EXT-STS:vm_state"] != "active" || srv["OS-EXT-STS:power_state"] != float64(1) || fl["ram"] != float64(128) {
		t.Errorf("admin view at 2.47: %d %v", code, body)
	}

	if err := servers.Delete(ctx, cc, id).ExtractErr(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	deleted = true
	waitFor(t, 2*time.Minute, "server gone", func() error {
		_, err := servers.Get(ctx, cc, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	raw, err := exec.Command("virsh", "-c", "qemu:///system", "list", "--all", "--name").CombinedOutput()
	if err != nil {
		t.Fatalf("virsh: %v\n%s", err, raw)
	}
	if strings.Contains(string(raw), id) {
		t.Errorf("libvirt domain of %s remains:\n%s", id, raw)
	}
	if _, err := os.Stat(filepath.Join(c.StateDir, "instances", id)); !os.IsNotExist(err) {
		t.Errorf("instance dir remains: %v", err)
	}
	if a, ok := placementGet(t, c, pc.Token(), "/allocations/"+id)["allocations"].(map[string]any); !ok || len(a) != 0 {
		t.Errorf("placement allocations of the deleted server: %v", a)
	}
	if u := usage(t, cc); u != before {
		t.Errorf("quota usage %v after delete, want %v", u, before)
	}
}

func TestComputeServerNoValidHost(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	cc := compute(t, pc, "")
	ctx := context.Background()
	flavorID := testFlavor(t, cc, 128, 1, 1000000)
	imageID := tinyServerImage(t, c, pc)
	created, err := servers.Create(ctx, cc, servers.CreateOpts{Name: uniq("huge"), ImageRef: imageID,
		FlavorRef: flavorID, Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	s := waitStatus(t, cc, created.ID, "ERROR", time.Minute)
	if !strings.Contains(s.Fault.Message, "No valid host was found") {
		t.Errorf("fault: %+v", s.Fault)
	}
	if err := servers.Delete(ctx, cc, created.ID).ExtractErr(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitFor(t, time.Minute, "server gone", func() error {
		if _, err := servers.Get(ctx, cc, created.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

func TestComputeServerRequestValidation(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	tok := pc.Token()
	url := c.URL + "/compute/v2.1/servers"
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"networks auto", map[string]any{"name": "x", "imageRef": "00000000-0000-4000-8000-000000000001", "flavorRef": "1", "networks": "auto"}},
		{"no name", map[string]any{"imageRef": "00000000-0000-4000-8000-000000000001", "flavorRef": "1"}},
		{"bad image", map[string]any{"name": "x", "imageRef": "nope", "flavorRef": "1"}},
		{"unknown flavor", map[string]any{"name": "x", "imageRef": "00000000-0000-4000-8000-000000000001", "flavorRef": "nope"}},
		{"min_count over max_count", map[string]any{"name": "x", "imageRef": "00000000-0000-4000-8000-000000000001", "flavorRef": "1", "min_count": 3, "max_count": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := rawCompute(t, "POST", url, tok, nil, map[string]any{"server": tc.body})
			if code != 400 || body["badRequest"] == nil {
				t.Errorf("%d %v, want 400 badRequest", code, body)
			}
		})
	}
	code, _, body := rawCompute(t, "GET", url+"/00000000-0000-4000-8000-000000000009", tok, nil, nil)
	if code != 404 || body["itemNotFound"] == nil {
		t.Errorf("GET unknown server: %d %v", code, body)
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
