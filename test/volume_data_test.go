package test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/attachments"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// TestVolumeData checks volume bytes through the driver path: a volume
// made from kumo-tiny holds the image (qemu-img compare through the
// connection info a host gets), so does a volume made from its snapshot,
// and uploading the volume to the image service yields an active image
// with the same content.
func TestVolumeData(t *testing.T) {
	c, idc := adminIdentity(t)
	ctx := t.Context()
	adminPC := c.AdminClient(t)
	imageID := tinyServerImage(t, c, adminPC)
	tiny := kumoTinyImage(t)
	m := newMember(t, idc)
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	bs := blockStorage(t, pc, "3.44")

	start := time.Now()
	v := createVolume(t, bs, volumes.CreateOpts{Size: 1, ImageID: imageID})
	t.Logf("volume from kumo-tiny available in %s", time.Since(start).Round(time.Millisecond))
	if v.Bootable != "true" || v.VolumeImageMetadata["image_id"] != imageID || v.VolumeImageMetadata["disk_format"] != "qcow2" {
		t.Fatalf("volume from image: bootable %q, image metadata %v", v.Bootable, v.VolumeImageMetadata)
	}
	sameAs(t, tiny, "qcow2", bs, v.ID)

	t.Run("a volume from its snapshot holds the same bytes", func(t *testing.T) {
		sn, err := snapshots.Create(ctx, bs, snapshots.CreateOpts{VolumeID: v.ID}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		waitSnapshot(t, bs, sn.ID, "available")
		from := createVolume(t, bs, volumes.CreateOpts{SnapshotID: sn.ID, Size: 2})
		if from.Bootable != "true" || from.Size != 2 {
			t.Fatalf("volume from snapshot %+v", from)
		}
		sameAs(t, tiny, "qcow2", bs, from.ID)
	})

	t.Run("an image larger than the volume is 400", func(t *testing.T) {
		ic := imageClient(t, pc)
		big := filepath.Join(t.TempDir(), "big.qcow2")
		if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", big, "2G").CombinedOutput(); err != nil {
			t.Fatalf("qemu-img create: %v: %s", err, out)
		}
		img := createImage(t, ic, images.CreateOpts{ContainerFormat: "bare", DiskFormat: "qcow2"})
		if err := uploadFile(t, ic, img.ID, big); err != nil {
			t.Fatal(err)
		}
		_, err := volumes.Create(ctx, bs, volumes.CreateOpts{Size: 1, ImageID: img.ID}, nil).Extract()
		wantStatus(t, err, 400, "a 2 GiB image into a 1 GiB volume")
		_, err = volumes.Create(ctx, bs, volumes.CreateOpts{Size: 1, ImageID: uuid.NewString()}, nil).Extract()
		wantStatus(t, err, 400, "an unknown image")
	})

	t.Run("upload to image", func(t *testing.T) {
		ic := imageClient(t, pc)
		up, err := volumes.UploadImage(ctx, bs, v.ID, volumes.UploadImageOpts{ImageName: uniq("from-volume"),
			DiskFormat: "qcow2", ContainerFormat: "bare"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = images.Delete(context.Background(), ic, up.ImageID).ExtractErr() })
		if up.Status != "uploading" || up.ImageID == "" || up.VolumeID != v.ID || up.DiskFormat != "qcow2" {
			t.Fatalf("upload reply %+v", up)
		}
		waitVolume(t, bs, v.ID, "available", 3*time.Minute)
		waitFor(t, 3*time.Minute, "image active", func() error {
			img, err := images.Get(ctx, ic, up.ImageID).Extract()
			if err != nil {
				return err
			}
			if img.Status != images.ImageStatusActive {
				return &statusErr{string(img.Status)}
			}
			return nil
		})
		body, err := imagedata.Download(ctx, ic, up.ImageID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		path := filepath.Join(t.TempDir(), "uploaded.qcow2")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, body); err != nil {
			t.Fatal(err)
		}
		f.Close()
		compare(t, tiny, "qcow2", path, "qcow2")
	})
}

type statusErr struct{ s string }

func (e *statusErr) Error() string { return "status " + e.s }

// sameAs compares a file with a volume's data, reached through the
// connection info of an attachment to a throw-away instance (removed
// again, leaving the volume available).
func sameAs(t *testing.T, file, format string, bs *gophercloud.ServiceClient, volumeID string) {
	t.Helper()
	ctx := t.Context()
	host, _ := os.Hostname()
	a, err := attachments.Create(ctx, bs, attachments.CreateOpts{VolumeUUID: volumeID, InstanceUUID: uuid.NewString(),
		Connector: map[string]any{"host": host}}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := attachments.Delete(ctx, bs, a.ID).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete attachment: %v", err)
		}
	}()
	data, _ := a.ConnectionInfo["data"].(map[string]any)
	path, _ := data["device_path"].(string)
	volFormat, _ := data["format"].(string)
	if path == "" || volFormat == "" {
		t.Fatalf("connection info %v", a.ConnectionInfo)
	}
	compare(t, file, format, path, volFormat)
}

// compare runs qemu-img compare (which also requires the larger image's
// extra space to read as zeros).
func compare(t *testing.T, a, aFormat, b, bFormat string) {
	t.Helper()
	out, err := exec.Command("qemu-img", "compare", "-U", "-f", aFormat, "-F", bFormat, a, b).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img compare %s %s: %v: %s", a, b, err, out)
	}
}
