package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/services"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// putImageFile uploads a file with raw HTTP and returns the status and the
// error message of the Glance error body, if any.
func putImageFile(t *testing.T, c *Cloud, tok, id string, body io.Reader, length int64) (int, string) {
	t.Helper()
	req, err := http.NewRequest("PUT", c.URL+"/image/v2/images/"+id+"/file", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", id, err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &e)
	if resp.StatusCode >= 400 && e.Error.Message == "" {
		t.Errorf("upload %s: %d with no error message: %s", id, resp.StatusCode, raw)
	}
	return resp.StatusCode, e.Error.Message
}

func putFile(t *testing.T, c *Cloud, tok, id, path string) (int, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	return putImageFile(t, c, tok, id, f, st.Size())
}

// waitImageStatus waits until the image has the given status.
func waitImageStatus(t *testing.T, ic *gophercloud.ServiceClient, id string, want images.ImageStatus) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := getImage(t, ic, id).Status
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("image %s is %s after 30s, want %s", id, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noDataOf fails if any file under <state>/images belongs to the image.
func noDataOf(t *testing.T, c *Cloud, id string) {
	t.Helper()
	// An aborted upload is removed before the response is written; allow a
	// moment for a connection the client cut.
	deadline := time.Now().Add(10 * time.Second)
	for hasFileOf(imageFiles(t, c), id) {
		if time.Now().After(deadline) {
			t.Fatalf("files of image %s remain under %s/images: %v", id, c.StateDir, imageFiles(t, c))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestImageDangerousUploadsRefused uploads crafted images: each is refused
// with a reason naming the problem, the image is killed and nothing of it
// stays on disk.
func TestImageDangerousUploadsRefused(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ic := imageClient(t, admin)
	dir := t.TempDir()

	backing := filepath.Join(dir, "backing.qcow2")
	qemuImg(t, "create", "-f", "qcow2", "-u", "-b", "/etc/passwd", "-F", "raw", backing, "1M")
	external := filepath.Join(dir, "external.qcow2")
	qemuImg(t, "create", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "external.data"), external, "1M")
	plainQcow := filepath.Join(dir, "plain.qcow2")
	qemuImg(t, "create", "-f", "qcow2", plainQcow, "1M")
	vmdk := filepath.Join(dir, "flat.vmdk")
	descriptor := "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\n" +
		"# Extent description\nRW 2048 FLAT \"/etc/passwd\" 0\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n"
	if err := os.WriteFile(vmdk, []byte(descriptor), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := randomFile(t, dir, 1<<20)

	for _, tc := range []struct {
		name, file, diskFormat string
		reason                 []string // any of these in the message
	}{
		{"qcow2 with a backing file", backing, "qcow2", []string{"backing"}},
		{"qcow2 with an external data file", external, "qcow2", []string{"data file", "data_file", "data-file"}},
		{"raw carrying a qcow2 header", plainQcow, "raw", []string{"qcow2"}},
		{"vmdk flat descriptor", vmdk, "vmdk", []string{"descriptor", "vmdk", "extent", "monolithicFlat"}},
		{"raw labelled qcow2", raw, "qcow2", []string{"mislabelled", "raw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := createImage(t, ic, images.CreateOpts{DiskFormat: tc.diskFormat, ContainerFormat: "bare"})
			status, msg := putFile(t, c, admin.Token(), img.ID, tc.file)
			if status != http.StatusBadRequest {
				t.Fatalf("upload: %d %q, want 400", status, msg)
			}
			t.Logf("refused: %s", msg)
			found := false
			for _, r := range tc.reason {
				found = found || strings.Contains(strings.ToLower(msg), strings.ToLower(r))
			}
			if !found {
				t.Errorf("refusal %q names none of %v", msg, tc.reason)
			}
			if g := getImage(t, ic, img.ID); g.Status != images.ImageStatusKilled || g.SizeBytes != 0 || g.Checksum != "" {
				t.Errorf("refused image: status %s size %d checksum %q", g.Status, g.SizeBytes, g.Checksum)
			}
			noDataOf(t, c, img.ID)
			if files := imageFiles(t, c); len(files) > 0 {
				for _, f := range files {
					if !strings.HasPrefix(f, "data/") && !strings.HasPrefix(f, "import/data/") {
						t.Errorf("leftover file under images/: %s", f)
					}
				}
			}
		})
	}
}

// TestImageTruncatedUpload cuts an upload short on a raw TCP connection: the
// image goes back to queued with no data and accepts a full upload.
func TestImageTruncatedUpload(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ic := imageClient(t, admin)
	img := createImage(t, ic, images.CreateOpts{DiskFormat: "raw", ContainerFormat: "bare"})

	u, _ := url.Parse(c.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("PUT /image/v2/images/%s/file HTTP/1.1\r\nHost: %s\r\nX-Auth-Token: %s\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", img.ID, u.Host, admin.Token(), 1<<20)
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	// Wait until the server holds the upload (saving), then cut.
	waitImageStatus(t, ic, img.ID, images.ImageStatusSaving)
	conn.Close()

	waitImageStatus(t, ic, img.ID, images.ImageStatusQueued)
	noDataOf(t, c, img.ID)
	if g := getImage(t, ic, img.ID); g.SizeBytes != 0 || g.Checksum != "" {
		t.Fatalf("after a cut upload: size %d checksum %q", g.SizeBytes, g.Checksum)
	}
	// The image is usable again: a complete upload activates it.
	if status, msg := putImageFile(t, c, admin.Token(), img.ID, strings.NewReader("short"), 5); status != 204 {
		t.Fatalf("full upload after the cut one: %d %s", status, msg)
	}
	if g := getImage(t, ic, img.ID); g.Status != images.ImageStatusActive || g.SizeBytes != 5 {
		t.Fatalf("after a full upload: %s size %d", g.Status, g.SizeBytes)
	}
}

// TestImageSizeQuota limits a project's image_size_total through Keystone's
// /v3/limits: an upload over it is refused with 413 and leaves nothing.
func TestImageSizeQuota(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	id := c.Identity(t, admin)
	m := newImageMember(t, c)

	page, err := services.List(id, services.ListOpts{ServiceType: "image"}).AllPages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := services.ExtractServices(page)
	if len(svcs) != 1 {
		t.Fatalf("image services: %+v", svcs)
	}
	const limit = 1 << 20
	code, body := call(t, "POST", c.AuthURL()+"/limits", admin.Token(), map[string]any{"limits": []map[string]any{{
		"project_id": m.Project.ID, "service_id": svcs[0].ID, "resource_name": "image_size_total", "resource_limit": limit,
	}}})
	if code != 201 {
		t.Fatalf("create limit: %d %v", code, body)
	}
	dir := t.TempDir()

	// Declared too large: refused before any byte is stored.
	big := createImage(t, m.ic, images.CreateOpts{DiskFormat: "raw", ContainerFormat: "bare"})
	if status, msg := putFile(t, c, m.tok, big.ID, randomFile(t, dir, limit+1)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload over quota: %d %s, want 413", status, msg)
	}
	// Unknown length (chunked): refused while streaming.
	f, _ := os.Open(randomFile(t, dir, 2*limit))
	defer f.Close()
	if status, msg := putImageFile(t, c, m.tok, big.ID, struct{ io.Reader }{f}, -1); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked upload over quota: %d %s, want 413", status, msg)
	}
	if g := getImage(t, m.ic, big.ID); g.Status != images.ImageStatusQueued || g.SizeBytes != 0 {
		t.Fatalf("image refused for quota: %s size %d", g.Status, g.SizeBytes)
	}
	noDataOf(t, c, big.ID)

	// Within the quota it works, and the quota then counts that size.
	small := createImage(t, m.ic, images.CreateOpts{DiskFormat: "raw", ContainerFormat: "bare"})
	if status, msg := putFile(t, c, m.tok, small.ID, randomFile(t, dir, limit-4096)); status != 204 {
		t.Fatalf("upload within quota: %d %s", status, msg)
	}
	if status, msg := putFile(t, c, m.tok, big.ID, randomFile(t, dir, 8192)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload past the remaining quota: %d %s, want 413", status, msg)
	}
	// Deleting releases it.
	if err := images.Delete(t.Context(), m.ic, small.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if status, msg := putFile(t, c, m.tok, big.ID, randomFile(t, dir, 8192)); status != 204 {
		t.Fatalf("upload after releasing quota: %d %s", status, msg)
	}
}

// TestImageOtherProjectPrivate checks that another project's private image
// is 404 for every operation, never 403.
func TestImageOtherProjectPrivate(t *testing.T) {
	c := sharedCloud(t)
	owner, other := newImageMember(t, c), newImageMember(t, c)
	img := createImage(t, owner.ic, images.CreateOpts{DiskFormat: "raw", ContainerFormat: "bare",
		Visibility: ptr(images.ImageVisibilityPrivate)})
	if status, msg := putFile(t, c, owner.tok, img.ID, randomFile(t, t.TempDir(), 4096)); status != 204 {
		t.Fatalf("upload: %d %s", status, msg)
	}
	jp := map[string]string{"Content-Type": "application/openstack-images-v2.1-json-patch"}
	for _, r := range []struct {
		method, path, body string
		headers            map[string]string
	}{
		{"GET", "", "", nil},
		{"GET", "/file", "", nil},
		{"PATCH", "", `[{"op":"replace","path":"/name","value":"x"}]`, jp},
		{"DELETE", "", "", nil},
		{"PUT", "/file", "data", map[string]string{"Content-Type": "application/octet-stream"}},
		{"PUT", "/tags/x", "", nil},
		{"GET", "/members", "", nil},
		{"POST", "/members", `{"member":"x"}`, map[string]string{"Content-Type": "application/json"}},
		{"POST", "/actions/deactivate", "", nil},
	} {
		resp, raw := imageCall(t, c, r.method, "/v2/images/"+img.ID+r.path, other.tok, strings.NewReader(r.body), r.headers)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s by another project: %d %s, want 404", r.method, r.path, resp.StatusCode, raw)
		}
	}
	if g := getImage(t, owner.ic, img.ID); g.Status != images.ImageStatusActive || g.Name != img.Name {
		t.Fatalf("the owner's image changed: %+v", g)
	}
}
