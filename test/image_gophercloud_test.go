package test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imageimport"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// The image tests drive kumo's Glance v2 API with gophercloud's image
// packages, and with raw HTTP where gophercloud has no call (actions,
// ranges, error bodies).

// imageClient is an image v2 client for a provider.
func imageClient(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewImageV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// createImage creates an image that is deleted (unprotected first) when the
// test ends.
func createImage(t testing.TB, ic *gophercloud.ServiceClient, opts images.CreateOpts) *images.Image {
	t.Helper()
	if opts.Name == "" {
		opts.Name = uniq("image")
	}
	img, err := images.Create(context.Background(), ic, opts).Extract()
	if err != nil {
		t.Fatalf("create image %s: %v", opts.Name, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = images.Update(ctx, ic, img.ID, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: false}}).Extract()
		err := images.Delete(ctx, ic, img.ID).ExtractErr()
		if err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete image %s: %v", img.ID, err)
		}
	})
	return img
}

func getImage(t testing.TB, ic *gophercloud.ServiceClient, id string) *images.Image {
	t.Helper()
	img, err := images.Get(context.Background(), ic, id).Extract()
	if err != nil {
		t.Fatalf("get image %s: %v", id, err)
	}
	return img
}

// uploadFile uploads a file's bytes as an image's data with gophercloud.
func uploadFile(t testing.TB, ic *gophercloud.ServiceClient, id, path string) error {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return imagedata.Upload(context.Background(), ic, id, f).ExtractErr()
}

func downloadBytes(t testing.TB, ic *gophercloud.ServiceClient, id string) ([]byte, http.Header) {
	t.Helper()
	res := imagedata.Download(context.Background(), ic, id)
	body, err := res.Extract()
	if err != nil {
		t.Fatalf("download image %s: %v", id, err)
	}
	defer body.Close()
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("download image %s: %v", id, err)
	}
	return raw, res.Header
}

// randomFile writes n random bytes to a new file in dir.
func randomFile(t testing.TB, dir string, n int) string {
	t.Helper()
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	path := filepath.Join(dir, uniq("raw")+".raw")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// qemuImg runs qemu-img and fails the test on error.
func qemuImg(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// qcow2File makes a real qcow2 holding some random data.
func qcow2File(t testing.TB, dir string) string {
	t.Helper()
	raw := randomFile(t, dir, 3<<20)
	out := filepath.Join(dir, uniq("disk")+".qcow2")
	qemuImg(t, "convert", "-f", "raw", "-O", "qcow2", raw, out)
	return out
}

func fileDigests(t testing.TB, path string) (md5hex, sha512hex string, size int64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, s := md5.Sum(raw), sha512.Sum512(raw)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:]), int64(len(raw))
}

// imageCall is one raw request to the image API of the cloud.
func imageCall(t testing.TB, c *Cloud, method, path, token string, body io.Reader, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.URL+"/image"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// listAll lists images with gophercloud, following every next link, and
// returns them with the number of pages.
func listAll(t testing.TB, ic *gophercloud.ServiceClient, opts images.ListOpts) ([]images.Image, int) {
	t.Helper()
	var out []images.Image
	pages := 0
	err := images.List(ic, opts).EachPage(context.Background(), func(_ context.Context, p pagination.Page) (bool, error) {
		imgs, err := images.ExtractImages(p)
		if err != nil {
			return false, err
		}
		pages++
		out = append(out, imgs...)
		return true, nil
	})
	if err != nil {
		t.Fatalf("list images %+v: %v", opts, err)
	}
	return out, pages
}

func imageIDs(imgs []images.Image) []string {
	ids := make([]string, 0, len(imgs))
	for _, i := range imgs {
		ids = append(ids, i.ID)
	}
	return ids
}

// imageFiles lists the regular files under <state>/images.
func imageFiles(t testing.TB, c *Cloud) []string {
	t.Helper()
	var files []string
	root := filepath.Join(c.StateDir, "images")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, strings.TrimPrefix(path, root+"/"))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

// hasFileOf reports whether any file under <state>/images belongs to id.
func hasFileOf(files []string, id string) bool {
	return slices.ContainsFunc(files, func(f string) bool { return strings.Contains(f, id) })
}

func TestImageLifecycle(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ic := imageClient(t, admin)
	ctx := t.Context()
	dir := t.TempDir()

	qcow := qcow2File(t, dir)
	img := createImage(t, ic, images.CreateOpts{DiskFormat: "qcow2", ContainerFormat: "bare", Tags: []string{"lifecycle"},
		MinRAM: 64, Properties: map[string]string{"hw_disk_bus": "scsi", "os_distro": "debian"}})
	if img.Status != images.ImageStatusQueued || img.Visibility != images.ImageVisibilityShared {
		t.Fatalf("new image: status %s visibility %s", img.Status, img.Visibility)
	}
	if img.Owner == "" || img.Properties["hw_disk_bus"] != "scsi" || img.Properties["os_distro"] != "debian" || img.MinRAMMegabytes != 64 {
		t.Fatalf("new image: %+v", img)
	}
	// Downloading an image without data is 204.
	if resp, _ := imageCall(t, c, "GET", "/v2/images/"+img.ID+"/file", admin.Token(), nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("download of a queued image: %d, want 204", resp.StatusCode)
	}

	if err := uploadFile(t, ic, img.ID, qcow); err != nil {
		t.Fatalf("upload qcow2: %v", err)
	}
	md5hex, shaHex, size := fileDigests(t, qcow)
	got := getImage(t, ic, img.ID)
	if got.Status != images.ImageStatusActive || got.SizeBytes != size || got.Checksum != md5hex ||
		got.Properties["os_hash_algo"] != "sha512" || got.Properties["os_hash_value"] != shaHex || got.VirtualSize != 3<<20 {
		t.Fatalf("after upload: status %s size %d (want %d) checksum %s (want %s) hash %v/%v virtual %d",
			got.Status, got.SizeBytes, size, got.Checksum, md5hex, got.Properties["os_hash_algo"], got.Properties["os_hash_value"], got.VirtualSize)
	}
	data, hdr := downloadBytes(t, ic, img.ID)
	want, _ := os.ReadFile(qcow)
	if !bytes.Equal(data, want) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(data), len(want))
	}
	if hdr.Get("Content-MD5") != md5hex {
		t.Errorf("Content-MD5 = %q, want %q", hdr.Get("Content-MD5"), md5hex)
	}
	// A second upload to an active image conflicts.
	if err := uploadFile(t, ic, img.ID, qcow); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Fatalf("second upload: %v, want 409", err)
	}
	// Byte ranges.
	resp, part := imageCall(t, c, "GET", "/v2/images/"+img.ID+"/file", admin.Token(), nil, map[string]string{"Range": "bytes=100-1123"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, want[100:1124]) ||
		resp.Header.Get("Content-Range") != "bytes 100-1123/"+strconv.FormatInt(size, 10) {
		t.Fatalf("range: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(part))
	}

	// A raw image.
	rawPath := randomFile(t, dir, 1<<20+123)
	rawImg := createImage(t, ic, images.CreateOpts{DiskFormat: "raw", ContainerFormat: "bare"})
	if err := uploadFile(t, ic, rawImg.ID, rawPath); err != nil {
		t.Fatalf("upload raw: %v", err)
	}
	rawWant, _ := os.ReadFile(rawPath)
	if data, _ := downloadBytes(t, ic, rawImg.ID); !bytes.Equal(data, rawWant) {
		t.Fatalf("raw download differs")
	}
	if g := getImage(t, ic, rawImg.ID); g.SizeBytes != int64(len(rawWant)) || g.VirtualSize < int64(len(rawWant)) {
		t.Fatalf("raw image sizes: %d/%d", g.SizeBytes, g.VirtualSize)
	}

	// PATCH.
	upd, err := images.Update(ctx, ic, img.ID, images.UpdateOpts{
		images.ReplaceImageName{NewName: "renamed"},
		images.ReplaceImageMinDisk{NewMinDisk: 2},
		images.ReplaceImageTags{NewTags: []string{"a", "b"}},
		images.UpdateImageProperty{Op: images.AddOp, Name: "hw_vif_model", Value: "virtio"},
		images.UpdateImageProperty{Op: images.ReplaceOp, Name: "os_distro", Value: "ubuntu"},
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "hw_disk_bus"},
	}).Extract()
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if upd.Name != "renamed" || upd.MinDiskGigabytes != 2 || !slices.Equal(upd.Tags, []string{"a", "b"}) ||
		upd.Properties["hw_vif_model"] != "virtio" || upd.Properties["os_distro"] != "ubuntu" || upd.Properties["hw_disk_bus"] != nil {
		t.Fatalf("after update: %+v", upd)
	}
	patch := func(body string, ct string) int {
		resp, raw := imageCall(t, c, "PATCH", "/v2/images/"+img.ID, admin.Token(), strings.NewReader(body), map[string]string{"Content-Type": ct})
		if resp.StatusCode >= 400 && !strings.Contains(string(raw), "message") {
			t.Errorf("error body without a message: %s", raw)
		}
		return resp.StatusCode
	}
	const jp = "application/openstack-images-v2.1-json-patch"
	for _, tc := range []struct {
		name, body, ct string
		want           int
	}{
		{"plain json is refused", `[{"op":"replace","path":"/name","value":"x"}]`, "application/json", 415},
		{"status is read-only", `[{"op":"replace","path":"/status","value":"active"}]`, jp, 403},
		{"checksum is read-only", `[{"op":"replace","path":"/checksum","value":"x"}]`, jp, 403},
		{"disk_format only while queued", `[{"op":"replace","path":"/disk_format","value":"raw"}]`, jp, 403},
		{"bad visibility", `[{"op":"replace","path":"/visibility","value":"everyone"}]`, jp, 400},
		{"non-string property", `[{"op":"add","path":"/hw_x","value":5}]`, jp, 400},
		{"replace a missing property", `[{"op":"replace","path":"/nope","value":"x"}]`, jp, 409},
		{"bad op", `[{"op":"move","path":"/name","value":"x"}]`, jp, 400},
		{"os_hidden", `[{"op":"replace","path":"/os_hidden","value":true}]`, jp, 200},
		{"os_hidden back", `[{"op":"replace","path":"/os_hidden","value":false}]`, jp, 200},
	} {
		if got := patch(tc.body, tc.ct); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// Tags.
	for _, step := range []struct {
		method string
		tag    string
		want   int
	}{{"PUT", "x1", 204}, {"PUT", "x1", 204}, {"DELETE", "a", 204}, {"DELETE", "missing", 404}} {
		if resp, raw := imageCall(t, c, step.method, "/v2/images/"+img.ID+"/tags/"+step.tag, admin.Token(), nil, nil); resp.StatusCode != step.want {
			t.Errorf("%s tag %s: %d %s, want %d", step.method, step.tag, resp.StatusCode, raw, step.want)
		}
	}
	if g := getImage(t, ic, img.ID); !slices.Equal(g.Tags, []string{"b", "x1"}) {
		t.Errorf("tags = %v, want [b x1]", g.Tags)
	}

	// Protected images cannot be deleted.
	if _, err := images.Update(ctx, ic, img.ID, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: true}}).Extract(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, images.Delete(ctx, ic, img.ID).ExtractErr(), http.StatusForbidden, "delete a protected image")
	if _, err := images.Update(ctx, ic, img.ID, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: false}}).Extract(); err != nil {
		t.Fatal(err)
	}

	// Deactivate and reactivate (admin).
	if resp, raw := imageCall(t, c, "POST", "/v2/images/"+img.ID+"/actions/deactivate", admin.Token(), nil, nil); resp.StatusCode != 204 {
		t.Fatalf("deactivate: %d %s", resp.StatusCode, raw)
	}
	if g := getImage(t, ic, img.ID); g.Status != images.ImageStatusDeactivated {
		t.Fatalf("after deactivate: %s", g.Status)
	}
	if resp, raw := imageCall(t, c, "POST", "/v2/images/"+img.ID+"/actions/reactivate", admin.Token(), nil, nil); resp.StatusCode != 204 {
		t.Fatalf("reactivate: %d %s", resp.StatusCode, raw)
	}
	if g := getImage(t, ic, img.ID); g.Status != images.ImageStatusActive {
		t.Fatalf("after reactivate: %s", g.Status)
	}

	// Delete removes the row and the data.
	if err := images.Delete(ctx, ic, img.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, images.Get(ctx, ic, img.ID).Err, http.StatusNotFound, "get a deleted image")
	if hasFileOf(imageFiles(t, c), img.ID) {
		t.Fatalf("data of deleted image %s is still under %s/images: %v", img.ID, c.StateDir, imageFiles(t, c))
	}
}

func TestImageListFiltersAndPagination(t *testing.T) {
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	ic := imageClient(t, admin)
	run := uniq("list")
	names := []string{run + "-c", run + "-a", run + "-e", run + "-b", run + "-d"}
	var ids []string
	for _, n := range names {
		ids = append(ids, createImage(t, ic, images.CreateOpts{Name: n, DiskFormat: "raw", ContainerFormat: "bare", Tags: []string{run}}).ID)
	}
	hidden := createImage(t, ic, images.CreateOpts{Name: run + "-hidden", DiskFormat: "raw", ContainerFormat: "bare",
		Tags: []string{run}, Hidden: ptr(true)})
	sized := createImage(t, ic, images.CreateOpts{Name: run + "-sized", DiskFormat: "raw", ContainerFormat: "bare",
		Tags: []string{run + "-sized"}, Properties: map[string]string{"kumo_run": run}})
	if err := uploadFile(t, ic, sized.ID, randomFile(t, t.TempDir(), 4096)); err != nil {
		t.Fatal(err)
	}

	// Pagination: 5 images, 2 a page, sorted by name.
	got, pages := listAll(t, ic, images.ListOpts{Tags: []string{run}, Limit: 2, Sort: "name:asc"})
	wantNames := slices.Sorted(slices.Values(names))
	gotNames := []string{}
	for _, g := range got {
		gotNames = append(gotNames, g.Name)
	}
	if !slices.Equal(gotNames, wantNames) || pages != 3 {
		t.Fatalf("paged by 2: %v in %d pages, want %v in 3", gotNames, pages, wantNames)
	}
	got, _ = listAll(t, ic, images.ListOpts{Tags: []string{run}, SortKey: "name", SortDir: "desc", Limit: 4})
	if len(got) != 5 || got[0].Name != run+"-e" || got[4].Name != run+"-a" {
		t.Fatalf("sorted desc: %v", imageIDs(got))
	}
	// Default order: newest first.
	got, _ = listAll(t, ic, images.ListOpts{Tags: []string{run}, Limit: 3})
	if len(got) != 5 || got[0].ID != ids[4] || got[4].ID != ids[0] {
		t.Fatalf("default order: %v, want %v reversed", imageIDs(got), ids)
	}
	// The page body has first and schema, and next only when there is more.
	tok := admin.Token()
	resp, raw := imageCall(t, c, "GET", "/v2/images?limit=2&tag="+run, tok, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"first":"/v2/images?`) || !strings.Contains(string(raw), `"schema":"/v2/schemas/images"`) ||
		!strings.Contains(string(raw), `"next":"/v2/images?`) {
		t.Fatalf("page body: %d %s", resp.StatusCode, raw)
	}

	for _, tc := range []struct {
		name string
		opts images.ListOpts
		want []string
	}{
		{"name", images.ListOpts{Name: run + "-b"}, []string{ids[3]}},
		{"tag and status", images.ListOpts{Tags: []string{run}, Status: images.ImageStatusQueued, Name: run + "-a"}, []string{ids[1]}},
		{"hidden only with os_hidden", images.ListOpts{Tags: []string{run}, Hidden: true}, []string{hidden.ID}},
		{"status active", images.ListOpts{Tags: []string{run + "-sized"}, Status: images.ImageStatusActive}, []string{sized.ID}},
		{"two tags", images.ListOpts{Tags: []string{run, "nope"}}, nil},
		{"visibility shared", images.ListOpts{Tags: []string{run + "-sized"}, Visibility: images.ImageVisibilityShared}, []string{sized.ID}},
		{"visibility private", images.ListOpts{Tags: []string{run + "-sized"}, Visibility: images.ImageVisibilityPrivate}, nil},
	} {
		got, _ := listAll(t, ic, tc.opts)
		if ids := imageIDs(got); !slices.Equal(ids, tc.want) && !(len(ids) == 0 && len(tc.want) == 0) {
			t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
		}
	}
	// The hidden image is not in the default list.
	if got, _ := listAll(t, ic, images.ListOpts{Tags: []string{run}}); slices.Contains(imageIDs(got), hidden.ID) || len(got) != 5 {
		t.Errorf("default list has %d images (hidden included: %v)", len(got), slices.Contains(imageIDs(got), hidden.ID))
	}
	// Size bounds (gophercloud does not send its int64 size filters).
	for q, want := range map[string]bool{"size_min=4096": true, "size_min=4097": false, "size_max=4096": true, "size_max=4095": false} {
		resp, raw := imageCall(t, c, "GET", "/v2/images?tag="+run+"-sized&"+q, tok, nil, nil)
		if resp.StatusCode != 200 || strings.Contains(string(raw), sized.ID) != want {
			t.Errorf("?%s: %d %s, want the image listed: %v", q, resp.StatusCode, raw, want)
		}
	}
	// Any other parameter filters on a property.
	resp, raw = imageCall(t, c, "GET", "/v2/images?kumo_run="+run, tok, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), sized.ID) || strings.Contains(string(raw), ids[0]) {
		t.Errorf("property filter: %d %s", resp.StatusCode, raw)
	}
	for _, q := range []string{"marker=" + uniq("nope"), "sort_key=bogus", "sort_dir=sideways", "limit=-1", "visibility=everyone",
		"member_status=maybe", "size_min=big"} {
		if resp, raw := imageCall(t, c, "GET", "/v2/images?"+q, tok, nil, nil); resp.StatusCode != 400 {
			t.Errorf("list ?%s: %d %s, want 400", q, resp.StatusCode, raw)
		}
	}
}

// imageMember is a project with a member user and its image client.
type imageMember struct {
	member
	ic  *gophercloud.ServiceClient
	tok string
}

func newImageMember(t *testing.T, c *Cloud) imageMember {
	t.Helper()
	m := newMember(t, c.Identity(t, c.AdminClient(t)))
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	return imageMember{member: m, ic: imageClient(t, pc), tok: pc.Token()}
}

func visibleIn(t *testing.T, ic *gophercloud.ServiceClient, opts images.ListOpts, id string) bool {
	t.Helper()
	got, _ := listAll(t, ic, opts)
	return slices.Contains(imageIDs(got), id)
}

func TestImageMembersAcrossProjects(t *testing.T) {
	c := sharedCloud(t)
	ctx := t.Context()
	owner, guest, stranger := newImageMember(t, c), newImageMember(t, c), newImageMember(t, c)
	dir := t.TempDir()

	img := createImage(t, owner.ic, images.CreateOpts{DiskFormat: "raw", ContainerFormat: "bare"})
	if img.Owner != owner.Project.ID || img.Visibility != images.ImageVisibilityShared {
		t.Fatalf("owner %s visibility %s", img.Owner, img.Visibility)
	}
	path := randomFile(t, dir, 64<<10)
	if err := uploadFile(t, owner.ic, img.ID, path); err != nil {
		t.Fatal(err)
	}
	// Before sharing, other projects do not see it at all.
	for _, m := range []imageMember{guest, stranger} {
		wantStatus(t, images.Get(ctx, m.ic, img.ID).Err, http.StatusNotFound, "get an unshared image")
	}
	// Only the owner shares it.
	wantStatus(t, members.Create(ctx, guest.ic, img.ID, guest.Project.ID).Err, http.StatusNotFound, "guest shares an image it cannot see")
	mem, err := members.Create(ctx, owner.ic, img.ID, guest.Project.ID).Extract()
	if err != nil || mem.Status != "pending" || mem.MemberID != guest.Project.ID || mem.ImageID != img.ID {
		t.Fatalf("share: %+v %v", mem, err)
	}
	wantStatus(t, members.Create(ctx, owner.ic, img.ID, guest.Project.ID).Err, http.StatusConflict, "share twice")

	// Pending: visible by ID and with member_status=pending, not by default.
	getImage(t, guest.ic, img.ID)
	if visibleIn(t, guest.ic, images.ListOpts{}, img.ID) {
		t.Fatal("a pending shared image is in the member's default list")
	}
	if !visibleIn(t, guest.ic, images.ListOpts{MemberStatus: images.ImageMemberStatusPending}, img.ID) {
		t.Fatal("a pending shared image is not listed with member_status=pending")
	}
	// The owner cannot accept for the member.
	wantStatus(t, members.Update(ctx, owner.ic, img.ID, guest.Project.ID, members.UpdateOpts{Status: "accepted"}).Err,
		http.StatusForbidden, "owner accepts for the member")
	acc, err := members.Update(ctx, guest.ic, img.ID, guest.Project.ID, members.UpdateOpts{Status: "accepted"}).Extract()
	if err != nil || acc.Status != "accepted" {
		t.Fatalf("accept: %+v %v", acc, err)
	}
	if !visibleIn(t, guest.ic, images.ListOpts{}, img.ID) {
		t.Fatal("an accepted shared image is not in the member's default list")
	}
	data, _ := downloadBytes(t, guest.ic, img.ID)
	if want, _ := os.ReadFile(path); !bytes.Equal(data, want) {
		t.Fatal("the member downloads different bytes")
	}
	// A member sees only its own membership and cannot change the image.
	page, err := members.List(guest.ic, img.ID).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := members.ExtractMembers(page)
	if len(ms) != 1 || ms[0].MemberID != guest.Project.ID {
		t.Fatalf("members seen by the member: %+v", ms)
	}
	_, err = images.Update(ctx, guest.ic, img.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "mine"}}).Extract()
	wantStatus(t, err, http.StatusForbidden, "member renames the image")
	wantStatus(t, images.Delete(ctx, guest.ic, img.ID).ExtractErr(), http.StatusForbidden, "member deletes the image")

	// A third project still sees nothing.
	wantStatus(t, images.Get(ctx, stranger.ic, img.ID).Err, http.StatusNotFound, "stranger gets the shared image")
	if visibleIn(t, stranger.ic, images.ListOpts{}, img.ID) || visibleIn(t, stranger.ic, images.ListOpts{MemberStatus: "all"}, img.ID) {
		t.Fatal("a stranger lists the shared image")
	}
	wantStatus(t, imagedata.Download(ctx, stranger.ic, img.ID).Err, http.StatusNotFound, "stranger downloads")

	// Rejecting hides it from the default list again; unsharing hides it.
	if _, err := members.Update(ctx, guest.ic, img.ID, guest.Project.ID, members.UpdateOpts{Status: "rejected"}).Extract(); err != nil {
		t.Fatal(err)
	}
	if visibleIn(t, guest.ic, images.ListOpts{}, img.ID) {
		t.Fatal("a rejected image is listed")
	}
	if err := members.Delete(ctx, owner.ic, img.ID, guest.Project.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, images.Get(ctx, guest.ic, img.ID).Err, http.StatusNotFound, "get after unsharing")

	// Private images have no members and stay invisible; publicizing is
	// admin-only; community images are seen by ID and on request.
	priv := createImage(t, owner.ic, images.CreateOpts{Visibility: ptr(images.ImageVisibilityPrivate)})
	wantStatus(t, members.Create(ctx, owner.ic, priv.ID, guest.Project.ID).Err, http.StatusForbidden, "share a private image")
	wantStatus(t, images.Get(ctx, guest.ic, priv.ID).Err, http.StatusNotFound, "get another project's private image")
	_, err = images.Update(ctx, owner.ic, priv.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: images.ImageVisibilityPublic}}).Extract()
	wantStatus(t, err, http.StatusForbidden, "member publicizes")
	comm := createImage(t, owner.ic, images.CreateOpts{Visibility: ptr(images.ImageVisibilityCommunity)})
	getImage(t, stranger.ic, comm.ID)
	if visibleIn(t, stranger.ic, images.ListOpts{}, comm.ID) {
		t.Fatal("another project's community image is in the default list")
	}
	if !visibleIn(t, stranger.ic, images.ListOpts{Visibility: images.ImageVisibilityCommunity}, comm.ID) {
		t.Fatal("a community image is not listed with visibility=community")
	}
	// The admin sees everything.
	ai := imageClient(t, c.AdminClient(t))
	getImage(t, ai, priv.ID)
}

func TestImageGlanceDirectImport(t *testing.T) {
	c := sharedCloud(t)
	ctx := t.Context()
	ic := imageClient(t, c.AdminClient(t))
	info, err := imageimport.Get(ctx, ic).Extract()
	if err != nil || !slices.Contains(info.ImportMethods.Value, "glance-direct") {
		t.Fatalf("import info: %+v %v", info, err)
	}
	qcow := qcow2File(t, t.TempDir())
	img := createImage(t, ic, images.CreateOpts{DiskFormat: "qcow2", ContainerFormat: "bare"})
	f, _ := os.Open(qcow)
	defer f.Close()
	if err := imagedata.Stage(ctx, ic, img.ID, f).ExtractErr(); err != nil {
		t.Fatalf("stage: %v", err)
	}
	if g := getImage(t, ic, img.ID); g.Status != images.ImageStatusUploading {
		t.Fatalf("after stage: %s", g.Status)
	}
	if err := imageimport.Create(ctx, ic, img.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr(); err != nil {
		t.Fatalf("import: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for getImage(t, ic, img.ID).Status != images.ImageStatusActive {
		if time.Now().After(deadline) {
			t.Fatalf("image still %s after 60s", getImage(t, ic, img.ID).Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	data, _ := downloadBytes(t, ic, img.ID)
	if want, _ := os.ReadFile(qcow); !bytes.Equal(data, want) {
		t.Fatal("imported bytes differ")
	}
}

func TestImageVersionsAndSchemas(t *testing.T) {
	c := sharedCloud(t)
	tok := c.AdminClient(t).Token()
	resp, raw := imageCall(t, c, "GET", "", "", nil, nil)
	if resp.StatusCode != http.StatusMultipleChoices || !strings.Contains(string(raw), `"CURRENT"`) ||
		!strings.Contains(string(raw), c.URL+"/image/v2/") {
		t.Fatalf("GET /image: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := imageCall(t, c, "GET", "/versions", "", nil, nil); resp.StatusCode != 200 || !strings.Contains(string(raw), `"versions"`) {
		t.Fatalf("GET /image/versions: %d %s", resp.StatusCode, raw)
	}
	for path, want := range map[string]string{
		"/v2/schemas/image":   `"additionalProperties":{"type":"string"}`,
		"/v2/schemas/images":  `"name":"images"`,
		"/v2/schemas/member":  `"name":"member"`,
		"/v2/schemas/members": `"name":"members"`,
		"/v2/info/import":     `"glance-direct"`,
		"/v2/info/stores":     `"default":true`,
		"/v2/info/usage":      `"image_size_total":{"limit":`,
	} {
		if resp, raw := imageCall(t, c, "GET", path, tok, nil, nil); resp.StatusCode != 200 || !strings.Contains(string(raw), want) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
	}
	if resp, _ := imageCall(t, c, "GET", "/v2/images", "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated list: %d, want 401", resp.StatusCode)
	}
}
