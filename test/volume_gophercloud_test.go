package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/attachments"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/services"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumetypes"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// TestVolumeAPI drives the block storage v3 API with gophercloud as a
// project member (and an admin for types and quotas): volumes, filters and
// pagination, extend, snapshots, types, quotas, limits, zones and the
// attachments API, against the real manager and local driver.
func TestVolumeAPI(t *testing.T) {
	c, idc := adminIdentity(t)
	ctx := t.Context()
	admin := blockStorage(t, c.AdminClient(t), "3.70")
	m := newMember(t, idc)
	bs := blockStorage(t, c.Client(t, m.authOpts(c, m.Project.ID)), "3.70")

	prefix := uniq("v")
	vols := make([]*volumes.Volume, 3)
	for i := range vols {
		vols[i] = createVolume(t, bs, volumes.CreateOpts{Size: 1, Name: fmt.Sprintf("%s-%d", prefix, i),
			Metadata: map[string]string{"group": prefix, "n": fmt.Sprint(i)}})
	}

	t.Run("show is Cinder's volume", func(t *testing.T) {
		v, err := volumes.Get(ctx, bs, vols[0].ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if v.Size != 1 || v.Status != "available" || v.Bootable != "false" || v.VolumeType != "__DEFAULT__" ||
			v.AvailabilityZone != "nova" || v.TenantID != m.Project.ID || v.Metadata["group"] != prefix || len(v.Attachments) != 0 {
			t.Fatalf("volume %+v", v)
		}
		if v.Host != "" {
			t.Errorf("a member sees os-vol-host-attr:host %q", v.Host)
		}
		av, err := volumes.Get(ctx, admin, vols[0].ID).Extract()
		if err != nil || !strings.Contains(av.Host, "@local#local") {
			t.Fatalf("admin view host %q: %v", av.Host, err)
		}
	})

	t.Run("list filters, sorts and pages", func(t *testing.T) {
		all, err := volumes.List(bs, volumes.ListOpts{Metadata: map[string]string{"group": prefix}, Sort: "name:asc"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := volumes.ExtractVolumes(all)
		if len(got) != 3 || got[0].Name != prefix+"-0" || got[2].Name != prefix+"-2" {
			t.Fatalf("metadata filter sorted by name: %v", volNames(got))
		}
		one, err := volumes.List(bs, volumes.ListOpts{Name: prefix + "-1"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := volumes.ExtractVolumes(one); len(got) != 1 || got[0].ID != vols[1].ID {
			t.Fatalf("name filter: %v", volNames(got))
		}
		// limit=1 pages through volumes_links.
		var paged []string
		err = volumes.List(bs, volumes.ListOpts{Metadata: map[string]string{"group": prefix}, Sort: "name:desc", Limit: 1}).
			EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
				vs, err := volumes.ExtractVolumes(p)
				if len(vs) > 1 {
					return false, fmt.Errorf("page of %d", len(vs))
				}
				for _, v := range vs {
					paged = append(paged, v.Name)
				}
				return true, err
			})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(paged, ",") != fmt.Sprintf("%s-2,%s-1,%s-0", prefix, prefix, prefix) {
			t.Fatalf("pages %v", paged)
		}
		code, _, body := rawCompute(t, "GET", c.URL+"/volume/v3/"+m.Project.ID+"/volumes?sort=bogus:asc", bs.Token(), nil, nil)
		if code != 400 || body["badRequest"] == nil {
			t.Fatalf("bad sort key: %d %v", code, body)
		}
	})

	t.Run("update and set bootable", func(t *testing.T) {
		name, desc := uniq("renamed"), "described"
		v, err := volumes.Update(ctx, bs, vols[2].ID, volumes.UpdateOpts{Name: &name, Description: &desc,
			Metadata: map[string]string{"k": "v"}}).Extract()
		if err != nil || v.Name != name || v.Description != desc || v.Metadata["k"] != "v" || len(v.Metadata) != 1 {
			t.Fatalf("update: %+v %v", v, err)
		}
		if err := volumes.SetBootable(ctx, bs, vols[2].ID, volumes.BootableOpts{Bootable: true}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v, _ := volumes.Get(ctx, bs, vols[2].ID).Extract(); v.Bootable != "true" {
			t.Fatalf("bootable %q", v.Bootable)
		}
	})

	t.Run("extend grows, never shrinks", func(t *testing.T) {
		if err := volumes.ExtendSize(ctx, bs, vols[1].ID, volumes.ExtendSizeOpts{NewSize: 2}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v := waitVolume(t, bs, vols[1].ID, "available", 2*time.Minute); v.Size != 2 {
			t.Fatalf("size %d after extend", v.Size)
		}
		err := volumes.ExtendSize(ctx, bs, vols[1].ID, volumes.ExtendSizeOpts{NewSize: 1}).ExtractErr()
		wantStatus(t, err, 400, "extend to a smaller size")
		err = volumes.ExtendSize(ctx, bs, vols[1].ID, volumes.ExtendSizeOpts{NewSize: 2}).ExtractErr()
		wantStatus(t, err, 400, "extend to the same size")
	})

	t.Run("bad sizes are 400", func(t *testing.T) {
		url := c.URL + "/volume/v3/" + m.Project.ID + "/volumes"
		for _, size := range []any{0, -1, "abc", 1.5, nil} {
			code, _, body := rawCompute(t, "POST", url, bs.Token(), nil, map[string]any{"volume": map[string]any{"size": size}})
			fault, _ := body["badRequest"].(map[string]any)
			if code != 400 || fault == nil || fault["code"] != float64(400) || fault["message"] == "" {
				t.Errorf("size %v: %d %v", size, code, body)
			}
		}
	})

	t.Run("another project's volume is 404, forged headers change nothing", func(t *testing.T) {
		other := newMember(t, idc)
		obs := blockStorage(t, c.Client(t, other.authOpts(c, other.Project.ID)), "3.70")
		_, err := volumes.Get(ctx, obs, vols[0].ID).Extract()
		wantStatus(t, err, 404, "get another project's volume")
		err = volumes.Delete(ctx, obs, vols[0].ID, nil).ExtractErr()
		wantStatus(t, err, 404, "delete another project's volume")
		hdr := map[string]string{"X-Project-Id": m.Project.ID, "X-Roles": "admin", "X-Tenant-Id": m.Project.ID}
		code, _, _ := rawCompute(t, "GET", c.URL+"/volume/v3/"+other.Project.ID+"/volumes/"+vols[0].ID, obs.Token(), hdr, nil)
		if code != 404 {
			t.Fatalf("forged headers: %d", code)
		}
		code, _, _ = rawCompute(t, "GET", c.URL+"/volume/v3/"+m.Project.ID+"/volumes", obs.Token(), hdr, nil)
		if code != 404 {
			t.Fatalf("another project's URL: %d", code)
		}
		all, err := volumes.List(obs, volumes.ListOpts{AllTenants: true}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := volumes.ExtractVolumes(all); len(got) != 0 {
			t.Fatalf("a member with all_tenants sees %v", volNames(got))
		}
	})

	t.Run("snapshots and volumes from them", func(t *testing.T) {
		sn, err := snapshots.Create(ctx, bs, snapshots.CreateOpts{VolumeID: vols[0].ID, Name: uniq("snap")}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		sn = waitSnapshot(t, bs, sn.ID, "available")
		if sn.Size != 1 || sn.VolumeID != vols[0].ID {
			t.Fatalf("snapshot %+v", sn)
		}
		err = volumes.Delete(ctx, bs, vols[0].ID, nil).ExtractErr()
		wantStatus(t, err, 400, "delete a volume with snapshots")
		from := createVolume(t, bs, volumes.CreateOpts{SnapshotID: sn.ID})
		if from.Size != 1 || from.SnapshotID != sn.ID {
			t.Fatalf("volume from snapshot %+v", from)
		}
		bigger := createVolume(t, bs, volumes.CreateOpts{SnapshotID: sn.ID, Size: 2})
		if bigger.Size != 2 {
			t.Fatalf("size %d", bigger.Size)
		}
		clone := createVolume(t, bs, volumes.CreateOpts{SourceVolID: vols[0].ID})
		if clone.SourceVolID != vols[0].ID || clone.Size != 1 {
			t.Fatalf("clone %+v", clone)
		}
		list, err := snapshots.List(bs, snapshots.ListOpts{VolumeID: vols[0].ID}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := snapshots.ExtractSnapshots(list); len(got) != 1 || got[0].ID != sn.ID {
			t.Fatalf("snapshots %+v", got)
		}
		if err := snapshots.Delete(ctx, bs, sn.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Minute, "snapshot gone", func() error {
			_, err := snapshots.Get(ctx, bs, sn.ID).Extract()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil
			}
			return fmt.Errorf("still there: %v", err)
		})
	})

	t.Run("types with extra specs", func(t *testing.T) {
		name := uniq("type")
		vt, err := volumetypes.Create(ctx, admin, volumetypes.CreateOpts{Name: name, IsPublic: ptr(true),
			ExtraSpecs: map[string]string{"volume_backend_name": "local"}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = volumetypes.Delete(context.Background(), admin, vt.ID).ExtractErr() })
		if _, err := volumetypes.CreateExtraSpecs(ctx, admin, vt.ID, volumetypes.ExtraSpecsOpts{"speed": "fast"}).Extract(); err != nil {
			t.Fatal(err)
		}
		specs, err := volumetypes.ListExtraSpecs(ctx, admin, vt.ID).Extract()
		if err != nil || specs["speed"] != "fast" || specs["volume_backend_name"] != "local" {
			t.Fatalf("extra specs %v %v", specs, err)
		}
		if err := volumetypes.DeleteExtraSpec(ctx, admin, vt.ID, "speed").ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err = volumetypes.GetExtraSpec(ctx, admin, vt.ID, "speed").Extract()
		wantStatus(t, err, 404, "deleted extra spec")
		_, err = volumetypes.Create(ctx, bs, volumetypes.CreateOpts{Name: uniq("type")}).Extract()
		wantStatus(t, err, 403, "a member creates a type")
		all, err := volumetypes.List(bs, nil).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := volumetypes.ExtractVolumeTypes(all)
		seen := map[string]bool{}
		for _, x := range got {
			seen[x.Name] = true
		}
		if !seen[name] || !seen["__DEFAULT__"] {
			t.Fatalf("types %v", seen)
		}
		code, _, body := rawCompute(t, "GET", c.URL+"/volume/v3/"+m.Project.ID+"/types/default", bs.Token(), nil, nil)
		if vtd, _ := body["volume_type"].(map[string]any); code != 200 || vtd["name"] != "__DEFAULT__" {
			t.Fatalf("default type: %d %v", code, body)
		}
		typed := createVolume(t, bs, volumes.CreateOpts{Size: 1, VolumeType: name})
		if typed.VolumeType != name {
			t.Fatalf("volume type %q", typed.VolumeType)
		}
		err = volumetypes.Delete(ctx, admin, vt.ID).ExtractErr()
		wantStatus(t, err, 400, "delete a type in use")
		_, err = volumes.Create(ctx, bs, volumes.CreateOpts{Size: 1, VolumeType: uniq("missing")}, nil).Extract()
		wantStatus(t, err, 404, "create with an unknown type")
	})

	t.Run("a private type is for the projects given access", func(t *testing.T) {
		vt, err := volumetypes.Create(ctx, admin, volumetypes.CreateOpts{Name: uniq("private"), IsPublic: ptr(false)}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = volumetypes.Delete(context.Background(), admin, vt.ID).ExtractErr() })
		visible := func() bool {
			all, err := volumetypes.List(bs, nil).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := volumetypes.ExtractVolumeTypes(all)
			for _, x := range got {
				if x.ID == vt.ID {
					return true
				}
			}
			return false
		}
		if visible() {
			t.Fatal("a member sees a private type")
		}
		_, err = volumes.Create(ctx, bs, volumes.CreateOpts{Size: 1, VolumeType: vt.ID}, nil).Extract()
		wantStatus(t, err, 404, "create with a private type")
		err = volumetypes.AddAccess(ctx, bs, vt.ID, volumetypes.AddAccessOpts{Project: m.Project.ID}).ExtractErr()
		wantStatus(t, err, 403, "a member gives itself access")
		if err := volumetypes.AddAccess(ctx, admin, vt.ID, volumetypes.AddAccessOpts{Project: m.Project.ID}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		err = volumetypes.AddAccess(ctx, admin, vt.ID, volumetypes.AddAccessOpts{Project: m.Project.ID}).ExtractErr()
		wantStatus(t, err, 409, "access given twice")
		pages, err := volumetypes.ListAccesses(admin, vt.ID).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if acc, _ := volumetypes.ExtractAccesses(pages); len(acc) != 1 || acc[0].ProjectID != m.Project.ID {
			t.Fatalf("access list %+v", acc)
		}
		if !visible() {
			t.Fatal("a project given access does not see the type")
		}
		v := createVolume(t, bs, volumes.CreateOpts{Size: 1, VolumeType: vt.ID})
		if v.VolumeType != vt.Name {
			t.Fatalf("volume type %q", v.VolumeType)
		}
		deleteVolume(t, bs, v.ID)
		if err := volumetypes.RemoveAccess(ctx, admin, vt.ID, volumetypes.RemoveAccessOpts{Project: m.Project.ID}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if visible() {
			t.Fatal("a member still sees the type after its access was removed")
		}
		def, err := volumetypes.Get(ctx, admin, "default").Extract()
		if err != nil {
			t.Fatal(err)
		}
		err = volumetypes.AddAccess(ctx, admin, def.ID, volumetypes.AddAccessOpts{Project: m.Project.ID}).ExtractErr()
		wantStatus(t, err, 400, "access to a public type")
	})

	t.Run("attachments move the volume through reserved, attaching, in-use", func(t *testing.T) {
		bs27 := blockStorage(t, c.Client(t, m.authOpts(c, m.Project.ID)), "3.44")
		server := uuid.NewString()
		host, _ := os.Hostname()
		a, err := attachments.Create(ctx, bs27, attachments.CreateOpts{VolumeUUID: vols[2].ID, InstanceUUID: server}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != "reserved" {
			t.Fatalf("attachment %+v", a)
		}
		if v, _ := volumes.Get(ctx, bs, vols[2].ID).Extract(); v.Status != "reserved" {
			t.Fatalf("volume %s after reserve", v.Status)
		}
		again, err := attachments.Create(ctx, bs27, attachments.CreateOpts{VolumeUUID: vols[2].ID, InstanceUUID: server}).Extract()
		if err != nil || again.ID != a.ID {
			t.Fatalf("repeated create: %+v %v", again, err)
		}
		_, err = attachments.Create(ctx, bs27, attachments.CreateOpts{VolumeUUID: vols[2].ID, InstanceUUID: uuid.NewString()}).Extract()
		wantStatus(t, err, 400, "a second server on a reserved volume")
		a, err = attachments.Update(ctx, bs27, a.ID, attachments.UpdateOpts{Connector: map[string]any{"host": host, "ip": "127.0.0.1"}}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := a.ConnectionInfo["data"].(map[string]any)
		path, _ := data["device_path"].(string)
		if a.ConnectionInfo["driver_volume_type"] != "file" || path == "" {
			t.Fatalf("connection info %v", a.ConnectionInfo)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("device path: %v", err)
		}
		if v, _ := volumes.Get(ctx, bs, vols[2].ID).Extract(); v.Status != "attaching" {
			t.Fatalf("volume %s after update", v.Status)
		}
		if err := attachments.Complete(ctx, bs27, a.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		v, _ := volumes.Get(ctx, bs, vols[2].ID).Extract()
		if v.Status != "in-use" || len(v.Attachments) != 1 || v.Attachments[0].ServerID != server ||
			v.Attachments[0].AttachmentID != a.ID || v.Attachments[0].HostName != host {
			t.Fatalf("in-use volume %+v", v)
		}
		err = volumes.Delete(ctx, bs, vols[2].ID, nil).ExtractErr()
		wantStatus(t, err, 400, "delete an in-use volume")
		_, err = attachments.Create(ctx, bs27, attachments.CreateOpts{VolumeUUID: vols[2].ID, InstanceUUID: uuid.NewString()}).Extract()
		wantStatus(t, err, 400, "a second server on an in-use volume")
		list, err := attachments.List(bs27, attachments.ListOpts{VolumeID: vols[2].ID}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := attachments.ExtractAttachments(list); len(got) != 1 || got[0].ID != a.ID {
			t.Fatalf("attachments %+v", got)
		}
		if err := attachments.Delete(ctx, bs27, a.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v, _ := volumes.Get(ctx, bs, vols[2].ID).Extract(); v.Status != "available" || len(v.Attachments) != 0 {
			t.Fatalf("volume %s %v after detach", v.Status, v.Attachments)
		}
		_, err = attachments.Get(ctx, bs27, a.ID).Extract()
		wantStatus(t, err, 404, "deleted attachment")
		old := blockStorage(t, c.Client(t, m.authOpts(c, m.Project.ID)), "3.26")
		_, err = attachments.Create(ctx, old, attachments.CreateOpts{VolumeUUID: vols[2].ID, InstanceUUID: server}).Extract()
		wantStatus(t, err, 404, "attachments below 3.27")
	})

	t.Run("legacy attach actions share the state machine", func(t *testing.T) {
		server := uuid.NewString()
		host, _ := os.Hostname()
		id := vols[2].ID
		if err := volumes.Reserve(ctx, bs, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v, _ := volumes.Get(ctx, bs, id).Extract(); v.Status != "attaching" {
			t.Fatalf("volume %s after os-reserve", v.Status)
		}
		info, err := volumes.InitializeConnection(ctx, bs, id, volumes.InitializeConnectionOpts{Host: host, IP: "127.0.0.1"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if data, _ := info["data"].(map[string]any); info["driver_volume_type"] != "file" || data["device_path"] == "" || data["volume_id"] != id {
			t.Fatalf("connection info %v", info)
		}
		if err := volumes.Attach(ctx, bs, id, volumes.AttachOpts{InstanceUUID: server, MountPoint: "/dev/vdc", HostName: host, Mode: volumes.ReadWrite}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		v, _ := volumes.Get(ctx, bs, id).Extract()
		if v.Status != "in-use" || len(v.Attachments) != 1 || v.Attachments[0].Device != "/dev/vdc" || v.Attachments[0].ServerID != server {
			t.Fatalf("after os-attach %+v", v)
		}
		if err := volumes.BeginDetaching(ctx, bs, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v, _ := volumes.Get(ctx, bs, id).Extract(); v.Status != "detaching" {
			t.Fatalf("volume %s after os-begin_detaching", v.Status)
		}
		if err := volumes.Detach(ctx, bs, id, volumes.DetachOpts{AttachmentID: v.Attachments[0].AttachmentID}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if err := volumes.TerminateConnection(ctx, bs, id, volumes.TerminateConnectionOpts{Host: host}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v, _ := volumes.Get(ctx, bs, id).Extract(); v.Status != "available" || len(v.Attachments) != 0 {
			t.Fatalf("after os-detach %+v", v)
		}
		if err := volumes.Reserve(ctx, bs, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if err := volumes.Unreserve(ctx, bs, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if v, _ := volumes.Get(ctx, bs, id).Extract(); v.Status != "available" {
			t.Fatalf("volume %s after os-unreserve", v.Status)
		}
	})

	t.Run("admin resets a status and force-deletes", func(t *testing.T) {
		v := createVolume(t, bs, volumes.CreateOpts{Size: 1})
		err := volumes.ResetStatus(ctx, bs, v.ID, volumes.ResetStatusOpts{Status: "error_deleting"}).ExtractErr()
		wantStatus(t, err, 403, "a member resets a status")
		if err := volumes.ResetStatus(ctx, admin, v.ID, volumes.ResetStatusOpts{Status: "error_deleting"}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		err = volumes.Delete(ctx, bs, v.ID, nil).ExtractErr()
		wantStatus(t, err, 400, "delete an error_deleting volume")
		err = volumes.ForceDelete(ctx, bs, v.ID).ExtractErr()
		wantStatus(t, err, 403, "a member force-deletes")
		if err := volumes.ForceDelete(ctx, admin, v.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Minute, "force-deleted volume gone", func() error {
			_, err := volumes.Get(ctx, bs, v.ID).Extract()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return nil
			}
			return fmt.Errorf("still there: %v", err)
		})
	})

	t.Run("a reader reads, never writes", func(t *testing.T) {
		pw := "pw-" + uniq("reader")
		u := createUser(t, idc, users.CreateOpts{DomainID: defaultDomain, Password: pw})
		assign(t, idc, roleID(t, idc, "reader"), roles.AssignOpts{UserID: u.ID, ProjectID: m.Project.ID})
		rbs := blockStorage(t, c.Client(t, gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL(), UserID: u.ID, Password: pw,
			Scope: &gophercloud.AuthScope{ProjectID: m.Project.ID}}), "3.70")
		if _, err := volumes.Get(ctx, rbs, vols[0].ID).Extract(); err != nil {
			t.Fatalf("a reader shows a volume: %v", err)
		}
		_, err := volumes.Create(ctx, rbs, volumes.CreateOpts{Size: 1}, nil).Extract()
		wantStatus(t, err, 403, "a reader creates a volume")
		err = volumes.Delete(ctx, rbs, vols[0].ID, nil).ExtractErr()
		wantStatus(t, err, 403, "a reader deletes a volume")
		err = volumes.ExtendSize(ctx, rbs, vols[0].ID, volumes.ExtendSizeOpts{NewSize: 5}).ExtractErr()
		wantStatus(t, err, 403, "a reader extends a volume")
	})

	t.Run("summary", func(t *testing.T) {
		url := c.URL + "/volume/v3/" + m.Project.ID + "/volumes/summary"
		code, _, body := rawCompute(t, "GET", url, bs.Token(), map[string]string{"OpenStack-API-Version": "volume 3.36"}, nil)
		sum, _ := body["volume-summary"].(map[string]any)
		md, _ := sum["metadata"].(map[string]any)
		if code != 200 || sum["total_count"].(float64) < 3 || sum["total_size"].(float64) < 4 || md["group"] == nil {
			t.Fatalf("summary: %d %v", code, body)
		}
		if code, _, _ := rawCompute(t, "GET", url, bs.Token(), map[string]string{"OpenStack-API-Version": "volume 3.11"}, nil); code != 404 {
			t.Fatalf("summary below 3.12: %d", code)
		}
	})

	t.Run("services", func(t *testing.T) {
		all, err := services.List(admin, services.ListOpts{Binary: "cinder-volume"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svcs, _ := services.ExtractServices(all)
		up := 0
		for _, sv := range svcs {
			if sv.Binary != "cinder-volume" || !strings.HasSuffix(sv.Host, "@local") {
				t.Fatalf("service %+v", sv)
			}
			if sv.State == "up" && sv.Status == "enabled" && sv.Zone == "nova" {
				up++
			}
		}
		if up != 1 {
			t.Fatalf("%d live volume services: %+v", up, svcs)
		}
		_, err = services.List(bs, nil).AllPages(ctx)
		wantStatus(t, err, 403, "a member lists services")
	})

	t.Run("zones", func(t *testing.T) {
		all, err := availabilityzones.List(bs).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		zones, _ := availabilityzones.ExtractAvailabilityZones(all)
		if len(zones) != 1 || zones[0].ZoneName != "nova" || !zones[0].ZoneState.Available {
			t.Fatalf("zones %+v", zones)
		}
	})
}

// TestVolumeQuotas checks quota sets, limits and the 413 of a create over
// the gigabytes quota, in a project of its own.
func TestVolumeQuotas(t *testing.T) {
	c, idc := adminIdentity(t)
	ctx := t.Context()
	admin := blockStorage(t, c.AdminClient(t), "3.70")
	m := newMember(t, idc)
	bs := blockStorage(t, c.Client(t, m.authOpts(c, m.Project.ID)), "3.70")

	defaults, err := quotasets.GetDefaults(ctx, bs, m.Project.ID).Extract()
	if err != nil || defaults.Volumes != 10 || defaults.Gigabytes != 1000 || defaults.Snapshots != 10 ||
		defaults.PerVolumeGigabytes != -1 || defaults.Backups != -1 {
		t.Fatalf("defaults %+v %v", defaults, err)
	}
	_, err = quotasets.Update(ctx, bs, m.Project.ID, quotasets.UpdateOpts{Gigabytes: ptr(5)}).Extract()
	wantStatus(t, err, 403, "a member updates its quota")
	qs, err := quotasets.Update(ctx, admin, m.Project.ID, quotasets.UpdateOpts{Gigabytes: ptr(2), Volumes: ptr(5)}).Extract()
	if err != nil || qs.Gigabytes != 2 || qs.Volumes != 5 {
		t.Fatalf("update %+v %v", qs, err)
	}
	v := createVolume(t, bs, volumes.CreateOpts{Size: 1})

	code, _, body := rawCompute(t, "POST", c.URL+"/volume/v3/"+m.Project.ID+"/volumes", bs.Token(), nil,
		map[string]any{"volume": map[string]any{"size": 5}})
	fault, _ := body["overLimit"].(map[string]any)
	want := "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5G, quota is 2G and 1G has been consumed."
	if code != 413 || fault == nil || fault["message"] != want || fault["retryAfter"] != "0" {
		t.Fatalf("over quota: %d %v", code, body)
	}
	err = volumes.ExtendSize(ctx, bs, v.ID, volumes.ExtendSizeOpts{NewSize: 3}).ExtractErr()
	wantStatus(t, err, 413, "extend over quota")

	usage, err := quotasets.GetUsage(ctx, bs, m.Project.ID).Extract()
	if err != nil || usage.Gigabytes.InUse != 1 || usage.Gigabytes.Limit != 2 || usage.Volumes.InUse != 1 {
		t.Fatalf("usage %+v %v", usage, err)
	}
	lim, err := limits.Get(ctx, bs).Extract()
	if err != nil || lim.Absolute.MaxTotalVolumeGigabytes != 2 || lim.Absolute.TotalGigabytesUsed != 1 ||
		lim.Absolute.TotalVolumesUsed != 1 || lim.Absolute.MaxTotalVolumes != 5 {
		t.Fatalf("limits %+v %v", lim, err)
	}
	deleteVolume(t, bs, v.ID)
	usage, err = quotasets.GetUsage(ctx, bs, m.Project.ID).Extract()
	if err != nil || usage.Gigabytes.InUse != 0 || usage.Volumes.InUse != 0 {
		t.Fatalf("usage after delete %+v %v", usage, err)
	}
	if err := quotasets.Delete(ctx, admin, m.Project.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if qs, err := quotasets.Get(ctx, bs, m.Project.ID).Extract(); err != nil || qs.Gigabytes != 1000 {
		t.Fatalf("after reset %+v %v", qs, err)
	}
}

// TestVolumeVersions checks the version documents and microversion
// negotiation.
func TestVolumeVersions(t *testing.T) {
	c := sharedCloud(t)
	tok := c.AdminClient(t).Token()
	code, _, body := rawCompute(t, "GET", c.URL+"/volume/", "", nil, nil)
	vs, _ := body["versions"].([]any)
	if code != 300 || len(vs) != 1 {
		t.Fatalf("GET /volume/: %d %v", code, body)
	}
	v3, _ := vs[0].(map[string]any)
	if v3["id"] != "v3.0" || v3["min_version"] != "3.0" || v3["version"] != "3.70" || v3["status"] != "CURRENT" {
		t.Fatalf("version %v", v3)
	}
	if code, _, _ := rawCompute(t, "GET", c.URL+"/volume/v3/", "", nil, nil); code != 200 {
		t.Fatalf("GET /volume/v3/: %d", code)
	}
	project := adminProjectID(t, c)
	for _, tc := range []struct {
		hdr    string
		status int
		want   string
	}{
		{"", 200, "3.0"}, {"volume 3.27", 200, "3.27"}, {"volume latest", 200, "3.70"},
		{"volume 3.999", 406, ""}, {"volume 2.0", 406, ""}, {"volume 3.x", 400, ""},
	} {
		hdr := map[string]string{}
		if tc.hdr != "" {
			hdr["OpenStack-API-Version"] = tc.hdr
		}
		code, h, body := rawCompute(t, "GET", c.URL+"/volume/v3/"+project+"/types", tok, hdr, nil)
		if code != tc.status {
			t.Fatalf("%q: %d %v", tc.hdr, code, body)
		}
		if tc.status == 200 && (h.Get("OpenStack-API-Version") != "volume "+tc.want || !strings.Contains(h.Get("Vary"), "OpenStack-API-Version")) {
			t.Fatalf("%q: headers %v", tc.hdr, h)
		}
	}
}

func volNames(vs []volumes.Volume) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}
