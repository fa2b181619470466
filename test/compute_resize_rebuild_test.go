package test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// memTotalUserData prints the guest's memory on every boot.
const memTotalUserData = "#!/bin/sh\ngrep MemTotal /proc/meminfo\n"

var memTotalRE = regexp.MustCompile(`user_data: MemTotal:\s+(\d+) kB`)

// waitBootMemory waits until the server's console shows at least n boots (READY
// lines and the MemTotal lines its user data prints) and returns the last
// MemTotal in kB and the last READY line.
func waitBootMemory(t *testing.T, cc *gophercloud.ServiceClient, id string, n int) (int, string) {
	t.Helper()
	var mem int
	var ready string
	waitFor(t, 4*time.Minute, fmt.Sprintf("boot %d of %s", n, id), func() error {
		out, err := servers.ShowConsoleOutput(context.Background(), cc, id, servers.ShowConsoleOutputOpts{}).Extract()
		if err != nil {
			return err
		}
		var readies []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "KUMO-TINY READY ") {
				readies = append(readies, strings.TrimSpace(l))
			}
		}
		mems := memTotalRE.FindAllStringSubmatch(out, -1)
		if len(readies) < n || len(mems) < n {
			return fmt.Errorf("%d READY and %d MemTotal lines; tail: %q", len(readies), len(mems), tailLines(out, 4))
		}
		mem, _ = strconv.Atoi(mems[len(mems)-1][1])
		ready = readies[len(readies)-1]
		return nil
	})
	return mem, ready
}

// allocated is what a placement consumer holds, summed over providers.
func allocated(t *testing.T, c *Cloud, tok, consumer string) map[string]int {
	t.Helper()
	code, _, body := rawCompute(t, "GET", c.URL+"/placement/allocations/"+consumer, tok,
		map[string]string{"OpenStack-API-Version": "placement 1.28"}, nil)
	if code != 200 {
		t.Fatalf("allocations of %s: %d %v", consumer, code, body)
	}
	out := map[string]int{}
	allocs, _ := body["allocations"].(map[string]any)
	for _, a := range allocs {
		res, _ := a.(map[string]any)["resources"].(map[string]any)
		for rc, n := range res {
			out[rc] += int(n.(float64))
		}
	}
	return out
}

// providerUsages sums the usages of every resource provider.
func providerUsages(t *testing.T, c *Cloud, tok string) map[string]int {
	t.Helper()
	h := map[string]string{"OpenStack-API-Version": "placement 1.28"}
	code, _, body := rawCompute(t, "GET", c.URL+"/placement/resource_providers", tok, h, nil)
	if code != 200 {
		t.Fatalf("resource providers: %d %v", code, body)
	}
	out := map[string]int{}
	rps, _ := body["resource_providers"].([]any)
	for _, rp := range rps {
		id := rp.(map[string]any)["uuid"].(string)
		code, _, u := rawCompute(t, "GET", c.URL+"/placement/resource_providers/"+id+"/usages", tok, h, nil)
		if code != 200 {
			t.Fatalf("usages of %s: %d %v", id, code, u)
		}
		for rc, n := range u["usages"].(map[string]any) {
			out[rc] += int(n.(float64))
		}
	}
	return out
}

// wantMem checks a guest's MemTotal (kB) fits a flavor of ramMB: more than
// 64 MiB below it (the kernel keeps some) and not above it.
func wantMem(t *testing.T, what string, memKB, ramMB int) {
	t.Helper()
	if memKB > ramMB*1024 || memKB <= (ramMB-64)*1024 {
		t.Errorf("%s: guest MemTotal %d kB does not fit a %d MiB flavor", what, memKB, ramMB)
	}
}

// serverMigrations lists a server's migrations, newest first, through the
// admin's os-migrations at 2.80.
func serverMigrations(t *testing.T, c *Cloud, tok, id string) []map[string]any {
	t.Helper()
	code, _, body := rawCompute(t, "GET", c.URL+"/compute/v2.1/os-migrations?instance_uuid="+id, tok,
		map[string]string{"OpenStack-API-Version": "compute 2.80"}, nil)
	if code != 200 {
		t.Fatalf("os-migrations: %d %v", code, body)
	}
	var out []map[string]any
	for _, m := range body["migrations"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestComputeResizeRebuildSnapshot(t *testing.T) {
	c := sharedCloud(t)
	pc := c.AdminClient(t)
	tok := pc.Token()
	cc := compute(t, pc, "2.47")
	ctx := context.Background()
	imageID := tinyServerImage(t, c, pc)
	flavorA := testFlavor(t, cc, 128, 1, 1)
	flavorB := testFlavor(t, cc, 192, 1, 2)
	flavorC := testFlavor(t, cc, 160, 1, 2)
	beforeQuota := usage(t, cc)
	beforePlacement := providerUsages(t, c, tok)

	name := strings.ToLower(strings.ReplaceAll(uniq("rsz"), "_", "-"))
	created, err := servers.Create(ctx, cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorA,
		Networks: "none", UserData: []byte(memTotalUserData)}, nil).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	id := created.ID
	t.Cleanup(func() { _ = servers.Delete(context.Background(), cc, id).ExtractErr() })
	waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
	mem, _ := waitBootMemory(t, cc, id, 1)
	wantMem(t, "flavor A", mem, 128)
	boots := 1

	t.Run("negative", func(t *testing.T) {
		url := c.URL + "/compute/v2.1/servers/" + id + "/action"
		for _, tc := range []struct {
			name string
			body map[string]any
			code int
		}{
			{"resize to the same flavor", map[string]any{"resize": map[string]any{"flavorRef": flavorA}}, 400},
			{"resize to an unknown flavor", map[string]any{"resize": map[string]any{"flavorRef": "no-such-flavor"}}, 400},
			{"resize without flavorRef", map[string]any{"resize": map[string]any{}}, 400},
			{"confirmResize when not resized", map[string]any{"confirmResize": nil}, 409},
			{"revertResize when not resized", map[string]any{"revertResize": nil}, 409},
			{"rebuild from an unknown image", map[string]any{"rebuild": map[string]any{"imageRef": uuid.NewString()}}, 400},
			{"rebuild from a bad imageRef", map[string]any{"rebuild": map[string]any{"imageRef": "nope"}}, 400},
			{"createImage without a name", map[string]any{"createImage": map[string]any{}}, 400},
		} {
			code, _, body := rawCompute(t, "POST", url, tok, nil, tc.body)
			if code != tc.code {
				t.Errorf("%s: %d %v, want %d", tc.name, code, body, tc.code)
			}
		}
		code, _, body := rawCompute(t, "POST", url, tok, nil, map[string]any{"resize": map[string]any{"flavorRef": flavorA}})
		if msg := fmt.Sprint(body["badRequest"]); code != 400 || !strings.Contains(msg, "Resize requires a flavor change.") {
			t.Errorf("same flavor: %d %v", code, body)
		}
		missing := uuid.NewString()
		_, err := servers.Create(ctx, cc, servers.CreateOpts{Name: "x", ImageRef: missing, FlavorRef: flavorA, Networks: "none"}, nil).Extract()
		if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "Image "+missing+" could not be found.") {
			t.Errorf("create from an unknown image: %v", err)
		}
		// More RAM than the project's quota: 403, nothing changes.
		err = servers.Resize(ctx, cc, id, servers.ResizeOpts{FlavorRef: testFlavor(t, cc, 60000, 1, 1)}).ExtractErr()
		if !gophercloud.ResponseCodeIs(err, http.StatusForbidden) || !strings.Contains(err.Error(), "Quota exceeded for ram") {
			t.Errorf("resize over the RAM quota: %v", err)
		}
		// No host has the disk: the resize ends at once in error and the
		// server stays as it was.
		huge := testFlavor(t, cc, 128, 1, 1000000)
		if err := servers.Resize(ctx, cc, id, servers.ResizeOpts{FlavorRef: huge}).ExtractErr(); err != nil {
			t.Fatalf("resize to a huge disk: %v", err)
		}
		if ms := serverMigrations(t, c, tok, id); len(ms) != 1 || ms[0]["status"] != "error" {
			t.Errorf("migration of a resize no host fits: %v", ms)
		}
		if s := waitStatus(t, cc, id, "ACTIVE", time.Minute); s.Flavor["original_name"] != flavorA {
			t.Errorf("flavor after a resize no host fits: %v", s.Flavor)
		}
		if u := usage(t, cc); u[2] != beforeQuota[2]+128 {
			t.Errorf("quota after a resize no host fits: %v", u)
		}
		// Another project's server does not exist for its members.
		m := newMember(t, c.Identity(t, pc))
		mc := compute(t, c.Client(t, m.authOpts(c, m.Project.ID)), "")
		_, err = servers.CreateImage(ctx, mc, id, servers.CreateImageOpts{Name: "stolen"}).ExtractImageID()
		if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("createImage of another project's server: %v, want 404", err)
		}
		err = servers.Resize(ctx, mc, id, servers.ResizeOpts{FlavorRef: flavorB}).ExtractErr()
		if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("resize of another project's server: %v, want 404", err)
		}
	})

	t.Run("resize and confirm", func(t *testing.T) {
		start := time.Now()
		if err := servers.Resize(ctx, cc, id, servers.ResizeOpts{FlavorRef: flavorB}).ExtractErr(); err != nil {
			t.Fatalf("resize: %v", err)
		}
		s := waitStatus(t, cc, id, "VERIFY_RESIZE", 3*time.Minute)
		t.Logf("figure: resize to VERIFY_RESIZE %.1fs", time.Since(start).Seconds())
		if s.Flavor["ram"] != float64(192) || s.Flavor["disk"] != float64(2) || s.Flavor["original_name"] != flavorB {
			t.Errorf("flavor in VERIFY_RESIZE: %v", s.Flavor)
		}
		// Conflicting actions wait for the resize to end.
		if _, err := servers.Rebuild(ctx, cc, id, servers.RebuildOpts{ImageRef: imageID}).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			t.Errorf("rebuild in VERIFY_RESIZE: %v, want 409", err)
		}
		ms := serverMigrations(t, c, tok, id)
		if len(ms) != 2 || ms[0]["status"] != "finished" || ms[0]["migration_type"] != "resize" || ms[0]["source_compute"] != ms[0]["dest_compute"] {
			t.Fatalf("migrations: %v", ms)
		}
		mig := ms[0]["uuid"].(string)
		if got := allocated(t, c, tok, id); got["MEMORY_MB"] != 192 || got["DISK_GB"] != 2 {
			t.Errorf("server allocation in VERIFY_RESIZE: %v", got)
		}
		if got := allocated(t, c, tok, mig); got["MEMORY_MB"] != 128 || got["DISK_GB"] != 1 {
			t.Errorf("migration allocation in VERIFY_RESIZE: %v", got)
		}
		if u := usage(t, cc); u != [3]int{beforeQuota[0] + 1, beforeQuota[1] + 1, beforeQuota[2] + 192} {
			t.Errorf("quota in VERIFY_RESIZE %v, want %v + (1, 1, 192)", u, beforeQuota)
		}
		boots++
		mem, _ := waitBootMemory(t, cc, id, boots)
		wantMem(t, "flavor B before confirm", mem, 192)

		if err := servers.ConfirmResize(ctx, cc, id).ExtractErr(); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		waitStatus(t, cc, id, "ACTIVE", 2*time.Minute)
		if got := allocated(t, c, tok, mig); len(got) != 0 {
			t.Errorf("migration still holds %v after confirm", got)
		}
		if ms := serverMigrations(t, c, tok, id); ms[0]["status"] != "confirmed" {
			t.Errorf("migration after confirm: %v", ms[0])
		}
	})

	t.Run("resize that cannot shrink the disk rolls back", func(t *testing.T) {
		if err := servers.Resize(ctx, cc, id, servers.ResizeOpts{FlavorRef: flavorA}).ExtractErr(); err != nil {
			t.Fatalf("resize: %v", err)
		}
		waitFor(t, 2*time.Minute, "resize to fail", func() error {
			ms := serverMigrations(t, c, tok, id)
			if ms[0]["status"] != "error" {
				return fmt.Errorf("migration %v", ms[0]["status"])
			}
			return nil
		})
		s := waitStatus(t, cc, id, "ACTIVE", time.Minute)
		if s.Flavor["ram"] != float64(192) {
			t.Errorf("flavor after a failed resize: %v", s.Flavor)
		}
		if u := usage(t, cc); u[2] != beforeQuota[2]+192 {
			t.Errorf("quota after a failed resize %v", u)
		}
	})

	t.Run("resize and revert", func(t *testing.T) {
		if err := servers.Resize(ctx, cc, id, servers.ResizeOpts{FlavorRef: flavorC}).ExtractErr(); err != nil {
			t.Fatalf("resize: %v", err)
		}
		waitStatus(t, cc, id, "VERIFY_RESIZE", 3*time.Minute)
		boots++
		mem, _ := waitBootMemory(t, cc, id, boots)
		wantMem(t, "flavor C", mem, 160)
		// A smaller flavor is charged at the larger size until confirmed.
		if u := usage(t, cc); u[2] != beforeQuota[2]+192 {
			t.Errorf("quota while downsized %v", u)
		}
		start := time.Now()
		if err := servers.RevertResize(ctx, cc, id).ExtractErr(); err != nil {
			t.Fatalf("revert: %v", err)
		}
		s := waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
		t.Logf("figure: revert resize to ACTIVE %.1fs", time.Since(start).Seconds())
		if s.Flavor["ram"] != float64(192) || s.Flavor["original_name"] != flavorB {
			t.Errorf("flavor after revert: %v", s.Flavor)
		}
		boots++
		mem, _ = waitBootMemory(t, cc, id, boots)
		wantMem(t, "flavor B after revert", mem, 192)
		if got := allocated(t, c, tok, id); got["MEMORY_MB"] != 192 {
			t.Errorf("allocation after revert: %v", got)
		}
		if ms := serverMigrations(t, c, tok, id); ms[0]["status"] != "reverted" {
			t.Errorf("migration after revert: %v", ms[0])
		}
		if u := usage(t, cc); u != [3]int{beforeQuota[0] + 1, beforeQuota[1] + 1, beforeQuota[2] + 192} {
			t.Errorf("quota after revert %v", u)
		}
	})

	t.Run("rebuild", func(t *testing.T) {
		start := time.Now()
		newName := name + "-rb"
		s, err := servers.Rebuild(ctx, cc, id, servers.RebuildOpts{ImageRef: imageID, Name: newName, AdminPass: "s3cret-Pass",
			Metadata: map[string]string{"rebuilt": "yes"}}).Extract()
		if err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		if s.ID != id || s.AdminPass != "s3cret-Pass" || s.Status != "REBUILD" || s.Name != newName || s.Metadata["rebuilt"] != "yes" {
			t.Errorf("rebuild reply: %+v", s)
		}
		waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
		boots++
		_, ready := waitBootMemory(t, cc, id, boots)
		t.Logf("figure: rebuild to READY %.1fs", time.Since(start).Seconds())
		if !strings.HasPrefix(ready, "KUMO-TINY READY "+newName) {
			t.Errorf("after rebuild the guest says %q", ready)
		}
	})

	var snapID string
	ic := imageClient(t, pc)
	parent := t
	t.Run("createImage", func(t *testing.T) {
		start := time.Now()
		snapID, err = servers.CreateImage(ctx, compute(t, pc, "2.45"), id, servers.CreateImageOpts{Name: uniq("snap"),
			Metadata: map[string]string{"purpose": "e2e"}}).ExtractImageID()
		if err != nil {
			t.Fatalf("createImage: %v", err)
		}
		// The snapshot outlives this subtest: the next one boots from it.
		parent.Cleanup(func() { _ = images.Delete(context.Background(), ic, snapID).ExtractErr() })
		var img *images.Image
		waitFor(t, 3*time.Minute, "snapshot active", func() error {
			if img, err = images.Get(ctx, ic, snapID).Extract(); err != nil {
				return err
			}
			if img.Status != images.ImageStatusActive {
				return fmt.Errorf("status %s", img.Status)
			}
			return nil
		})
		waitStatus(t, cc, id, "ACTIVE", time.Minute)
		t.Logf("figure: createImage to active image %.1fs (%d bytes)", time.Since(start).Seconds(), img.SizeBytes)
		p := img.Properties
		if p["image_type"] != "snapshot" || p["instance_uuid"] != id || p["base_image_ref"] != imageID || p["purpose"] != "e2e" ||
			img.MinDiskGigabytes != 2 || img.DiskFormat != "qcow2" || img.Visibility != images.ImageVisibilityPrivate {
			t.Errorf("snapshot image: %+v", img)
		}
		// The server still runs: the snapshot saved and restored it.
		s, _ := servers.Get(ctx, cc, id).Extract()
		if s.PowerState != servers.RUNNING || s.TaskState != "" {
			t.Errorf("server after snapshot: power %v task %q", s.PowerState, s.TaskState)
		}
		// Before 2.45 the image is named by the Location header.
		code, h, _ := rawCompute(t, "POST", c.URL+"/compute/v2.1/servers/"+id+"/action", tok, nil,
			map[string]any{"createImage": map[string]any{"name": uniq("snap-loc")}})
		loc := h.Get("Location")
		if code != 202 || !strings.Contains(loc, "/image/images/") {
			t.Fatalf("createImage at 2.1: %d Location %q", code, loc)
		}
		locID := loc[strings.LastIndex(loc, "/")+1:]
		t.Cleanup(func() { _ = images.Delete(context.Background(), ic, locID).ExtractErr() })
		waitStatus(t, cc, id, "ACTIVE", time.Minute)
		waitFor(t, 2*time.Minute, "server idle after the second snapshot", func() error {
			s, err := servers.Get(ctx, cc, id).Extract()
			if err != nil || s.TaskState != "" {
				return fmt.Errorf("task %q %v", s.TaskState, err)
			}
			return nil
		})
	})

	t.Run("boot from the snapshot", func(t *testing.T) {
		if snapID == "" {
			t.Fatal("no snapshot to boot from")
		}
		name2 := name + "-2"
		s2, err := servers.Create(ctx, cc, servers.CreateOpts{Name: name2, ImageRef: snapID, FlavorRef: flavorB,
			Networks: "none", UserData: []byte(memTotalUserData)}, nil).Extract()
		if err != nil {
			t.Fatalf("create from snapshot: %v", err)
		}
		waitStatus(t, cc, s2.ID, "ACTIVE", 3*time.Minute)
		_, ready := waitBootMemory(t, cc, s2.ID, 1)
		if !strings.HasPrefix(ready, "KUMO-TINY READY "+name2) {
			t.Errorf("server from snapshot says %q", ready)
		}
		// The snapshot is a 2 GB disk: a 1 GB flavor is refused.
		_, err = servers.Create(ctx, cc, servers.CreateOpts{Name: "small", ImageRef: snapID, FlavorRef: flavorA, Networks: "none"}, nil).Extract()
		if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "Flavor's disk is") {
			t.Errorf("create from snapshot on a too small disk: %v", err)
		}
		// Its image must fit the flavor a resize asks for.
		err = servers.Resize(ctx, cc, s2.ID, servers.ResizeOpts{FlavorRef: flavorA}).ExtractErr()
		if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "Flavor's disk is") {
			t.Errorf("resize below the snapshot's disk: %v", err)
		}
		// Deleting a server awaiting resize confirmation settles the resize
		// (the end of the test checks nothing leaked).
		if err := servers.Resize(ctx, cc, s2.ID, servers.ResizeOpts{FlavorRef: flavorC}).ExtractErr(); err != nil {
			t.Fatalf("resize: %v", err)
		}
		waitStatus(t, cc, s2.ID, "VERIFY_RESIZE", 3*time.Minute)
		if err := servers.Delete(ctx, cc, s2.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitGone(t, cc, s2.ID)
		if ms := serverMigrations(t, c, tok, s2.ID); len(ms) != 1 || ms[0]["status"] != "confirmed" {
			t.Errorf("migration of the deleted server: %v", ms)
		}
	})

	if err := servers.Delete(ctx, cc, id).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, cc, id)
	if u := usage(t, cc); u != beforeQuota {
		t.Errorf("quota usage %v at the end, want %v", u, beforeQuota)
	}
	if u := providerUsages(t, c, tok); fmt.Sprint(u) != fmt.Sprint(beforePlacement) {
		t.Errorf("placement usages %v at the end, want %v", u, beforePlacement)
	}
}

func waitGone(t *testing.T, cc *gophercloud.ServiceClient, id string) {
	t.Helper()
	waitFor(t, 2*time.Minute, "server "+id+" gone", func() error {
		if _, err := servers.Get(context.Background(), cc, id).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// TestOpenstackComputeServerTasks runs scripts/openstack-compute-servers.sh:
// the real openstack CLI resizes (confirm and revert), rebuilds and
// snapshots a kumo-tiny server.
func TestOpenstackComputeServerTasks(t *testing.T) {
	c := sharedCloud(t)
	runOpenstackScript(t, "openstack-compute-servers.sh", "IMAGE_ID="+tinyServerImage(t, c, c.AdminClient(t)))
}
