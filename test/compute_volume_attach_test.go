package test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/remoteconsoles"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
)

// volumeGone waits until a volume is deleted.
func volumeGone(t testing.TB, bc *gophercloud.ServiceClient, id string) {
	t.Helper()
	waitFor(t, 2*time.Minute, "volume "+id+" deleted", func() error {
		v, err := volumes.Get(context.Background(), bc, id).Extract()
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("status %s", v.Status)
	})
}

// volumeIDs lists the IDs of the volumes bc's project sees, sorted.
func volumeIDs(t testing.TB, bc *gophercloud.ServiceClient) string {
	t.Helper()
	pages, err := volumes.List(bc, volumes.ListOpts{}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vs, err := volumes.ExtractVolumes(pages)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(vs))
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

// domainXML is the live (or, with inactive, the persistent) XML of a
// server's domain.
func domainXML(t testing.TB, id string, inactive bool) string {
	t.Helper()
	args := []string{"dumpxml", id}
	if inactive {
		args = append(args, "--inactive")
	}
	out, err := virsh(args...)
	if err != nil {
		t.Fatalf("virsh dumpxml %s: %v %s", id, err, out)
	}
	return out
}

// guestConsole opens a serial console on a running server (2.6).
func guestConsole(t *testing.T, cc *gophercloud.ServiceClient, id string) *serialConsole {
	t.Helper()
	ctx := context.Background()
	sc := *cc
	sc.Microversion = "2.6"
	rc, err := remoteconsoles.Create(ctx, &sc, id, remoteconsoles.CreateOpts{Protocol: remoteconsoles.ConsoleProtocolSerial,
		Type: remoteconsoles.ConsoleTypeSerial}).Extract()
	if err != nil {
		t.Fatalf("serial console: %v", err)
	}
	con, _, err := dialSerial(ctx, rc.URL)
	if err != nil {
		t.Fatalf("dial serial console: %v", err)
	}
	t.Cleanup(func() { con.ws.CloseNow() })
	return con
}

// volumesAttached is a server's os-extended-volumes:volumes_attached, as
// volume ID → delete_on_termination.
func volumesAttached(t testing.TB, c *Cloud, tok, id string) map[string]any {
	t.Helper()
	code, _, body := rawCompute(t, "GET", c.URL+"/compute/v2.1/servers/"+id, tok, map[string]string{"OpenStack-API-Version": "compute 2.79"}, nil)
	if code != http.StatusOK {
		t.Fatalf("show server %s: %d %v", id, code, body)
	}
	srv, _ := body["server"].(map[string]any)
	out := map[string]any{}
	list, _ := srv["os-extended-volumes:volumes_attached"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		out[fmt.Sprint(m["id"])] = m["delete_on_termination"]
	}
	return out
}

// TestComputeVolumeAttach drives os-volume_attachments with gophercloud's
// volumeattach against the real volume service, on one kumo-tiny server
// booted from an image and one booted from a volume: hot-plug into the
// running guest (which sees the volume ID as the disk serial and writes a
// pattern that the other server reads back after the volume moved), the
// volume in-use with the attachment, refusals (attached twice, in use by the
// other server, unknown, another project's, locked server), unplug from
// the running and from the stopped server, and the server deletes that
// detach their volumes and delete those marked delete_on_termination.
func TestComputeVolumeAttach(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ctx := context.Background()
	idc := c.Identity(t, admin)
	m := newMember(t, idc)
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	cc := compute(t, pc, "2.79")
	bc := blockStorage(t, pc, "")
	imageID := tinyServerImage(t, c, admin)
	flavor := testFlavor(t, compute(t, admin, "2.1"), 128, 1, 1)

	name := tinyName("vol-a")
	srv, err := servers.Create(ctx, cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavor, Networks: "none"}, nil).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	a := srv.ID
	t.Cleanup(func() { deleteServerWait(t, cc, a) })

	// Server B boots from a volume made from kumo-tiny (flavor disk 0).
	bfvFlavor := testFlavor(t, compute(t, admin, "2.1"), 128, 1, 0)
	bName := tinyName("vol-b")
	created, err := servers.Create(ctx, cc, servers.CreateOpts{Name: bName, FlavorRef: bfvFlavor, Networks: "none",
		BlockDevice: []servers.BlockDevice{{SourceType: servers.SourceImage, UUID: imageID, DestinationType: servers.DestinationVolume,
			VolumeSize: 1, BootIndex: 0, DeleteOnTermination: false}}}, nil).Extract()
	if err != nil {
		t.Fatalf("create server from volume: %v", err)
	}
	b := created.ID
	bDeleted := false
	t.Cleanup(func() {
		if !bDeleted {
			va := volumesAttached(t, c, pc.Token(), b)
			deleteServerWait(t, cc, b)
			for root := range va {
				deleteVolume(t, bc, root)
			}
		}
	})

	waitStatus(t, cc, a, "ACTIVE", 4*time.Minute)
	waitBoots(t, cc, a, name, 1)
	nonce := strings.TrimPrefix(uniq("p"), "t-p-")
	vol := createVolume(t, bc, volumes.CreateOpts{Size: 1}).ID

	t.Run("attach to the running server", func(t *testing.T) {
		start := time.Now()
		att, err := volumeattach.Create(ctx, cc, a, volumeattach.CreateOpts{VolumeID: vol, Tag: "data"}).Extract()
		if err != nil {
			t.Fatalf("attach: %v", err)
		}
		if att.Device != "/dev/vdb" || att.VolumeID != vol || att.ServerID != a || att.ID != vol {
			t.Errorf("attachment = %+v", att)
		}
		v := waitVolume(t, bc, vol, "in-use", 2*time.Minute)
		t.Logf("attach to in-use: %s", time.Since(start).Round(10*time.Millisecond))
		if len(v.Attachments) != 1 || v.Attachments[0].ServerID != a {
			t.Errorf("volume attachments = %+v", v.Attachments)
		}
		live, config := domainXML(t, a, false), domainXML(t, a, true)
		for what, x := range map[string]string{"live": live, "persistent": config} {
			if !strings.Contains(x, "<serial>"+vol+"</serial>") || !strings.Contains(x, "dev='vdb' bus='virtio'") {
				t.Errorf("%s domain XML has no virtio vdb with serial %s:\n%s", what, vol, x)
			}
		}
		// The guest sees the volume ID (its first 20 characters) as the
		// disk's serial, so /dev/disk/by-id/virtio-<serial> names it.
		con := guestConsole(t, cc, a)
		out := con.command(t, "cat /sys/block/vdb/serial; echo SERIAL-END", vol[:20], 2*time.Minute)
		if !strings.Contains(out, vol[:20]) {
			t.Errorf("guest serial of vdb: %q", out)
		}
		// The guest writes a pattern on the volume, read back on the other
		// server after the detach.
		con.command(t, fmt.Sprintf("printf 'KUMO-DATA-%%s-%%d' %s $((6*7)) > /dev/vdb && sync && echo WROTE-$((1+1))", nonce), "WROTE-2", time.Minute)

		// 2.89 lists the attachment and BDM IDs instead of "id".
		c89 := compute(t, pc, "2.89")
		list, err := volumeattach.List(c89, a).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			VolumeAttachments []map[string]any `json:"volumeAttachments"`
		}
		if err := list.(volumeattach.VolumeAttachmentPage).ExtractInto(&body); err != nil {
			t.Fatal(err)
		}
		if len(body.VolumeAttachments) != 1 {
			t.Fatalf("list = %v", body.VolumeAttachments)
		}
		e := body.VolumeAttachments[0]
		if _, hasID := e["id"]; hasID || e["attachment_id"] != v.Attachments[0].AttachmentID || e["bdm_uuid"] == nil || e["tag"] != "data" || e["delete_on_termination"] != false {
			t.Errorf("2.89 attachment = %v (volume's attachment %s)", e, v.Attachments[0].AttachmentID)
		}
		got, err := volumeattach.Get(ctx, cc, a, vol).Extract()
		if err != nil || got.Device != "/dev/vdb" {
			t.Errorf("get attachment = %+v, %v", got, err)
		}
		if va := volumesAttached(t, c, pc.Token(), a); len(va) != 1 || va[vol] != false {
			t.Errorf("volumes_attached = %v", va)
		}
	})

	t.Run("boot from volume", func(t *testing.T) {
		s := waitStatus(t, cc, b, "ACTIVE", 8*time.Minute)
		waitBoots(t, cc, b, bName, 1)
		if s.Image != nil && len(s.Image) != 0 {
			t.Errorf("image of a server booted from a volume = %v, want \"\"", s.Image)
		}
		va := volumesAttached(t, c, pc.Token(), b)
		if len(va) != 1 {
			t.Fatalf("volumes_attached = %v", va)
		}
		var root string
		for id := range va {
			root = id
		}
		v := waitVolume(t, bc, root, "in-use", time.Minute)
		if v.Size != 1 || len(v.Attachments) != 1 || v.Attachments[0].ServerID != b {
			t.Errorf("boot volume = %+v", v)
		}
		x := domainXML(t, b, false)
		if !strings.Contains(x, "<serial>"+root+"</serial>") || !strings.Contains(x, "dev='vda'") || strings.Contains(x, "/instances/"+b+"/disk'") {
			t.Errorf("domain of the server booted from a volume:\n%s", x)
		}
		allocs, _ := placementGet(t, c, admin.Token(), "/allocations/"+b)["allocations"].(map[string]any)
		for _, al := range allocs {
			if res, _ := al.(map[string]any)["resources"].(map[string]any); res["DISK_GB"] != nil {
				t.Errorf("a server booted from a volume claims DISK_GB: %v", res)
			}
		}
		// Not supported for a volume root: a clear 409.
		code, _, body := rawCompute(t, "POST", c.URL+"/compute/v2.1/servers/"+b+"/action", pc.Token(), nil,
			map[string]any{"rebuild": map[string]any{"imageRef": imageID}})
		if code != http.StatusConflict || !strings.Contains(fmt.Sprint(body), "booted from a volume") {
			t.Errorf("rebuild of a volume-backed server: %d %v", code, body)
		}
		// The root volume cannot be detached.
		err := volumeattach.Delete(ctx, cc, b, root).ExtractErr()
		if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
			t.Errorf("detach of the root volume: %v", err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		code := func(err error) int {
			if err == nil {
				return 200
			}
			var e gophercloud.ErrUnexpectedResponseCode
			if errors.As(err, &e) {
				return e.Actual
			}
			return -1
		}
		_, err := volumeattach.Create(ctx, cc, a, volumeattach.CreateOpts{VolumeID: vol}).Extract()
		if code(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "already attached") {
			t.Errorf("attach twice: %v", err)
		}
		_, err = volumeattach.Create(ctx, cc, b, volumeattach.CreateOpts{VolumeID: vol}).Extract()
		if code(err) != http.StatusBadRequest {
			t.Errorf("attach a volume in use by another server: %v", err)
		}
		_, err = volumeattach.Create(ctx, cc, a, volumeattach.CreateOpts{VolumeID: "0b7f9b1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b"}).Extract()
		if code(err) != http.StatusNotFound {
			t.Errorf("attach an unknown volume: %v", err)
		}
		other := newMember(t, idc)
		opc := c.Client(t, other.authOpts(c, other.Project.ID))
		foreign := createVolume(t, blockStorage(t, opc, ""), volumes.CreateOpts{Size: 1}).ID
		_, err = volumeattach.Create(ctx, cc, a, volumeattach.CreateOpts{VolumeID: foreign}).Extract()
		if code(err) != http.StatusNotFound {
			t.Errorf("attach another project's volume: %v", err)
		}
		if _, err := volumeattach.Get(ctx, compute(t, opc, "2.79"), a, vol).Extract(); code(err) != http.StatusNotFound {
			t.Errorf("another project reads the attachment: %v", err)
		}
		if err := servers.Lock(ctx, cc, a).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err = volumeattach.Create(ctx, cc, a, volumeattach.CreateOpts{VolumeID: foreign}).Extract()
		derr := volumeattach.Delete(ctx, cc, a, vol).ExtractErr()
		if err := servers.Unlock(ctx, cc, a).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if code(err) != http.StatusConflict || code(derr) != http.StatusConflict {
			t.Errorf("attach/detach on a locked server: %v / %v", err, derr)
		}
		if v, _ := volumes.Get(ctx, bc, vol).Extract(); v == nil || v.Status != "in-use" {
			t.Errorf("the refusals changed the volume: %+v", v)
		}

		// Boot from volume refusals: nothing is created.
		before := volumeIDs(t, bc)
		for _, tc := range []struct {
			what string
			bdm  servers.BlockDevice
			want int
		}{
			{"an image without volume_size", servers.BlockDevice{SourceType: servers.SourceImage, UUID: imageID, DestinationType: servers.DestinationVolume}, 400},
			{"an unknown volume", servers.BlockDevice{SourceType: servers.SourceVolume, UUID: "0b7f9b1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b", DestinationType: servers.DestinationVolume}, 400},
			{"a volume in use", servers.BlockDevice{SourceType: servers.SourceVolume, UUID: vol, DestinationType: servers.DestinationVolume}, 400},
			{"another project's volume", servers.BlockDevice{SourceType: servers.SourceVolume, UUID: foreign, DestinationType: servers.DestinationVolume}, 400},
			{"an unknown image", servers.BlockDevice{SourceType: servers.SourceImage, UUID: "0b7f9b1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b", DestinationType: servers.DestinationVolume, VolumeSize: 1}, 400},
		} {
			_, err := servers.Create(ctx, cc, servers.CreateOpts{Name: tinyName("bad-bfv"), FlavorRef: bfvFlavor, Networks: "none",
				BlockDevice: []servers.BlockDevice{tc.bdm}}, nil).Extract()
			if code(err) != tc.want {
				t.Errorf("boot from %s: %v, want %d", tc.what, err, tc.want)
			}
		}
		if after := volumeIDs(t, bc); after != before {
			t.Errorf("refused boots from volume left volumes: %s, before %s", after, before)
		}
		list, err := servers.List(cc, servers.ListOpts{Name: "bad-bfv"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if left, _ := servers.ExtractServers(list); len(left) != 0 {
			t.Errorf("refused boots from volume left servers: %+v", left)
		}
	})

	t.Run("detach from the running server", func(t *testing.T) {
		if err := volumeattach.Delete(ctx, cc, a, vol).ExtractErr(); err != nil {
			t.Fatalf("detach: %v", err)
		}
		v := waitVolume(t, bc, vol, "available", 2*time.Minute)
		if len(v.Attachments) != 0 {
			t.Errorf("attachments after detach: %+v", v.Attachments)
		}
		for _, inactive := range []bool{false, true} {
			if x := domainXML(t, a, inactive); strings.Contains(x, vol) {
				t.Errorf("domain XML (inactive %t) still has the volume", inactive)
			}
		}
		con := guestConsole(t, cc, a)
		// The marker is computed, so the echo of the typed line is not it.
		out := con.command(t, "ls /sys/block/; [ -e /sys/block/vdb ] || echo VDB-$((40+2))-GONE", "VDB-42-GONE", time.Minute)
		if !strings.Contains(out, "vda") {
			t.Errorf("the guest's disks after the detach: %q", out)
		}
		if va := volumesAttached(t, c, pc.Token(), a); len(va) != 0 {
			t.Errorf("volumes_attached after detach = %v", va)
		}
	})

	t.Run("the data moves to the other server", func(t *testing.T) {
		att, err := volumeattach.Create(ctx, cc, b, volumeattach.CreateOpts{VolumeID: vol}).Extract()
		if err != nil {
			t.Fatalf("attach to the server booted from a volume: %v", err)
		}
		if att.Device != "/dev/vdb" {
			t.Errorf("device on the server booted from a volume: %s", att.Device)
		}
		waitVolume(t, bc, vol, "in-use", 2*time.Minute)
		con := guestConsole(t, cc, b)
		want := "KUMO-DATA-" + nonce + "-42"
		con.command(t, "head -c 64 /dev/vdb; echo", want, time.Minute)
		if err := volumeattach.Delete(ctx, cc, b, vol).ExtractErr(); err != nil {
			t.Fatalf("detach: %v", err)
		}
		waitVolume(t, bc, vol, "available", 2*time.Minute)
	})

	t.Run("stopped server and delete", func(t *testing.T) {
		if err := servers.Stop(ctx, cc, a).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, cc, a, "SHUTOFF", 2*time.Minute)
		// Attach while shut off: the persistent definition only.
		if _, err := volumeattach.Create(ctx, cc, a, volumeattach.CreateOpts{VolumeID: vol}).Extract(); err != nil {
			t.Fatalf("attach to a stopped server: %v", err)
		}
		waitVolume(t, bc, vol, "in-use", 2*time.Minute)
		if x := domainXML(t, a, true); !strings.Contains(x, "<serial>"+vol+"</serial>") {
			t.Errorf("persistent XML has no volume after an attach while stopped")
		}
		if err := volumeattach.Delete(ctx, cc, a, vol).ExtractErr(); err != nil {
			t.Fatalf("detach from a stopped server: %v", err)
		}
		waitVolume(t, bc, vol, "available", 2*time.Minute)
		if x := domainXML(t, a, true); strings.Contains(x, vol) {
			t.Errorf("persistent XML still has the volume after a detach while stopped")
		}

		// Delete with one volume kept and one deleted on termination (set
		// after the attach with 2.85's PUT).
		drop := createVolume(t, bc, volumes.CreateOpts{Size: 1}).ID
		for _, o := range []volumeattach.CreateOpts{{VolumeID: vol}, {VolumeID: drop}} {
			if _, err := volumeattach.Create(ctx, cc, a, o).Extract(); err != nil {
				t.Fatalf("attach %s: %v", o.VolumeID, err)
			}
			waitVolume(t, bc, o.VolumeID, "in-use", 2*time.Minute)
		}
		put := func(mv string, body map[string]any) (int, map[string]any) {
			code, _, out := rawCompute(t, "PUT", c.URL+"/compute/v2.1/servers/"+a+"/os-volume_attachments/"+drop, pc.Token(),
				map[string]string{"OpenStack-API-Version": "compute " + mv}, map[string]any{"volumeAttachment": body})
			return code, out
		}
		if code, out := put("2.85", map[string]any{"volumeId": drop, "delete_on_termination": true}); code != http.StatusAccepted {
			t.Errorf("PUT delete_on_termination: %d %v", code, out)
		}
		if code, out := put("2.85", map[string]any{"volumeId": drop, "device": "/dev/vdz"}); code != http.StatusBadRequest {
			t.Errorf("PUT another device: %d %v", code, out)
		}
		if code, out := put("2.85", map[string]any{"volumeId": vol}); code != http.StatusForbidden {
			t.Errorf("a member's swap: %d %v", code, out)
		}
		if va := volumesAttached(t, c, pc.Token(), a); va[vol] != false || va[drop] != true {
			t.Errorf("volumes_attached = %v", va)
		}
		deleteServerWait(t, cc, a)
		waitVolume(t, bc, vol, "available", 2*time.Minute)
		volumeGone(t, bc, drop)
	})

	t.Run("delete the server booted from a volume", func(t *testing.T) {
		va := volumesAttached(t, c, pc.Token(), b)
		deleteServerWait(t, cc, b)
		bDeleted = true
		for root := range va {
			waitVolume(t, bc, root, "available", 2*time.Minute)
			if err := volumes.Delete(ctx, bc, root, nil).ExtractErr(); err != nil {
				t.Errorf("delete the boot volume: %v", err)
			}
		}
	})
}
