package local

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/storage/volume/driver"
)

func TestCreateFromImageCopyOnWrite(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	src, sum := rawImage(t, 64*MiB, 0x11, 0, 63*MiB)
	var opens atomic.Int32
	img := fileImage(src, "raw", sum, &opens)

	v1 := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	v2 := driver.Volume{ID: uuid.NewString(), SizeGiB: 2}
	for _, v := range []driver.Volume{v1, v1, v2} {
		if err := d.CreateFromImage(ctx, v, img); err != nil {
			t.Fatalf("CreateFromImage %s: %v", v.ID, err)
		}
	}
	if n := opens.Load(); n != 1 {
		t.Fatalf("image data read %d times, want once (cached)", n)
	}
	base := d.basePath(img)
	if in := mustInfo(t, base); in.Format != "qcow2" || in.BackingFilename != "" || in.VirtualSize != 64*MiB {
		t.Fatalf("base: %+v", in)
	}
	for _, v := range []driver.Volume{v1, v2} {
		p := d.VolumePath(v.ID)
		file, format := backingOf(t, p)
		if file != base || format != "qcow2" {
			t.Fatalf("volume %s backs onto %q (%q), want %s (qcow2)", v.ID, file, format, base)
		}
		if in := mustInfo(t, p); in.VirtualSize != int64(v.SizeGiB)*driver.GiB {
			t.Fatalf("volume %s is %d bytes", v.ID, in.VirtualSize)
		}
		checkPattern(t, p, 0, MiB, 0x11)
		checkPattern(t, p, 63*MiB, MiB, 0x11)
		checkPattern(t, p, MiB, MiB, 0x00)
	}
	// Volumes of one base are independent.
	writePattern(t, d.VolumePath(v1.ID), 0, MiB, 0x22)
	checkPattern(t, d.VolumePath(v2.ID), 0, MiB, 0x11)

	// A snapshot and a clone of an overlay stand alone.
	snapID := uuid.NewString()
	if err := d.CreateSnapshot(ctx, v1.ID, snapID); err != nil {
		t.Fatal(err)
	}
	if file, _ := backingOf(t, d.SnapshotPath(snapID)); file != "" {
		t.Fatalf("snapshot of an overlay backs onto %s", file)
	}
	checkPattern(t, d.SnapshotPath(snapID), 0, MiB, 0x22)
	checkPattern(t, d.SnapshotPath(snapID), 63*MiB, MiB, 0x11)

	// The base stays while a volume backs onto it, and goes with the last.
	if err := d.Delete(ctx, v1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(base); err != nil {
		t.Fatalf("base removed while volume %s uses it: %v", v2.ID, err)
	}
	if err := d.EvictUnusedImages(ctx); err != nil {
		t.Fatal(err)
	}
	checkPattern(t, d.VolumePath(v2.ID), 63*MiB, MiB, 0x11)
	if err := d.Delete(ctx, v2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(base); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("base after its last volume was deleted: %v", err)
	}
	checkPattern(t, d.SnapshotPath(snapID), 63*MiB, MiB, 0x11)
}

func TestCreateFromImageFullCopy(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{FullCopy: true})
	raw, _ := rawImage(t, 32*MiB, 0x33, 5*MiB)
	qcow := filepath.Join(t.TempDir(), "image.qcow2")
	if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	img := fileImage(qcow, "qcow2", fileSHA256(t, qcow), nil)
	v := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	if err := d.CreateFromImage(ctx, v, img); err != nil {
		t.Fatal(err)
	}
	p := d.VolumePath(v.ID)
	if in := mustInfo(t, p); in.BackingFilename != "" || in.VirtualSize != driver.GiB {
		t.Fatalf("full copy: %+v", in)
	}
	checkPattern(t, p, 5*MiB, MiB, 0x33)
	if !poolHasVolume(t, d, volName(v.ID)) {
		t.Fatalf("libvirt does not list %s", volName(v.ID))
	}
	// Nothing backs onto the base, so the cache may drop it; the volume
	// does not care.
	if err := d.EvictUnusedImages(ctx); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, d.imageDir()); len(names) != 0 {
		t.Fatalf("unused bases kept: %v", names)
	}
	checkPattern(t, p, 5*MiB, MiB, 0x33)
}

// A checksum the cached base was made for that differs from the image's
// now means the cached data is stale: it is fetched again, and the old
// base goes once nothing uses it.
func TestStaleBaseIsRefetched(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	oldData, oldSum := rawImage(t, 16*MiB, 0x44, 0)
	newData, newSum := rawImage(t, 16*MiB, 0x55, 0)
	img := fileImage(oldData, "raw", oldSum, nil)
	v1 := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	if err := d.CreateFromImage(ctx, v1, img); err != nil {
		t.Fatal(err)
	}
	oldBase := d.basePath(img)

	img.Checksum = newSum
	img.Open = func(context.Context) (io.ReadCloser, error) { return os.Open(newData) }
	v2 := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	if err := d.CreateFromImage(ctx, v2, img); err != nil {
		t.Fatal(err)
	}
	checkPattern(t, d.VolumePath(v2.ID), 0, MiB, 0x55)
	checkPattern(t, d.VolumePath(v1.ID), 0, MiB, 0x44)
	if _, err := os.Stat(oldBase); err != nil {
		t.Fatalf("stale base removed while in use: %v", err)
	}
	if err := d.Delete(ctx, v1.ID); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, d.imageDir()); len(names) != 1 || names[0] != filepath.Base(d.basePath(img)) {
		t.Fatalf("image cache holds %v, want only the current base", names)
	}
}

func TestCreateFromBadImageLeavesNothing(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	raw, sum := rawImage(t, 8*MiB, 0x66, 0)
	tmp := t.TempDir()
	qcow := filepath.Join(tmp, "image.qcow2")
	big := filepath.Join(tmp, "big.qcow2")
	overlay := filepath.Join(tmp, "overlay.qcow2")
	dataFile := filepath.Join(tmp, "datafile.qcow2")
	for _, args := range [][]string{
		{"convert", "-f", "raw", "-O", "qcow2", raw, qcow},
		{"create", "-f", "qcow2", big, "2G"},
		{"create", "-f", "qcow2", "-b", qcow, "-F", "qcow2", overlay},
		{"create", "-f", "qcow2", "-o", "data_file=" + filepath.Join(tmp, "data.raw"), dataFile, "8M"},
	} {
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v: %s", args, err, out)
		}
	}
	failing := fileImage(raw, "raw", "", nil)
	failing.Open = func(context.Context) (io.ReadCloser, error) {
		f, err := os.Open(raw)
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(io.LimitReader(f, MiB), errReader{}), f}, err
	}
	cases := []struct {
		name string
		img  driver.Image
		want error
	}{
		{"checksum mismatch", fileImage(raw, "raw", strings.Repeat("0", 64), nil), driver.ErrBadImage},
		{"checksum not hexadecimal", fileImage(raw, "raw", "../../../../../../tmp/x/"+strings.Repeat("0", 40), nil), driver.ErrBadImage},
		{"checksum of unknown length", fileImage(raw, "raw", strings.Repeat("0", 10), nil), driver.ErrBadImage},
		{"unsupported disk_format", fileImage(raw, "vmdk", sum, nil), driver.ErrBadImage},
		{"qcow2 data labelled raw", fileImage(qcow, "raw", "", nil), driver.ErrBadImage},
		{"raw data labelled qcow2", fileImage(raw, "qcow2", sum, nil), driver.ErrBadImage},
		{"qcow2 with a backing file", fileImage(overlay, "qcow2", "", nil), driver.ErrBadImage},
		{"qcow2 with an external data file", fileImage(dataFile, "qcow2", "", nil), driver.ErrBadImage},
		{"image larger than the volume", fileImage(big, "qcow2", fileSHA256(t, big), nil), driver.ErrTooSmall},
		{"read fails midway", failing, errBroken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := d.CreateFromImage(ctx, driver.Volume{ID: uuid.NewString(), SizeGiB: 1}, tc.img)
			if !errors.Is(err, tc.want) {
				t.Fatalf("CreateFromImage: %v, want %v", err, tc.want)
			}
			for _, dir := range []string{d.poolDir(), d.imageDir(), d.tmpDir()} {
				if names := dirNames(t, dir); len(names) != 0 {
					t.Fatalf("%s holds %v", dir, names)
				}
			}
		})
	}
}

var errBroken = errors.New("connection reset")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// A restart clears half-built files and bases no volume uses, and keeps
// those in use.
func TestRestartClearsLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := newDriver(t, Config{Dir: dir})
	raw, sum := rawImage(t, 8*MiB, 0x77, 0)
	img := fileImage(raw, "raw", sum, nil)
	v := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	if err := d.CreateFromImage(ctx, v, img); err != nil {
		t.Fatal(err)
	}
	used := d.basePath(img)
	unused := filepath.Join(d.imageDir(), uuid.NewString()+baseExt)
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", unused, "8M").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	half := d.tmpFile("copy")
	if err := os.WriteFile(half, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Close()

	d2, err := New(ctx, Config{Dir: dir}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if names := dirNames(t, d2.tmpDir()); len(names) != 0 {
		t.Fatalf("tmp holds %v after a restart", names)
	}
	if names := dirNames(t, d2.imageDir()); len(names) != 1 || names[0] != filepath.Base(used) {
		t.Fatalf("image cache holds %v, want only %s", names, filepath.Base(used))
	}
	checkPattern(t, d2.VolumePath(v.ID), 0, MiB, 0x77)
}

// Volumes of one image created and deleted at the same time fetch the
// image once and never lose their base.
func TestConcurrentCreatesFromOneImage(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	raw, sum := rawImage(t, 32*MiB, 0x88, 0, 31*MiB)
	var opens atomic.Int32
	img := fileImage(raw, "raw", sum, &opens)

	first := make([]driver.Volume, 4)
	for i := range first {
		first[i] = driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	}
	same := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for _, v := range append(first, same, same, same) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.CreateFromImage(ctx, v, img)
		}()
	}
	wg.Wait()
	if n := opens.Load(); n != 1 {
		t.Fatalf("image data read %d times, want once", n)
	}

	// Deletes race with new creates: every volume left must read the image.
	second := make([]driver.Volume, 4)
	for i := range second {
		second[i] = driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	}
	for i := range first {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- d.Delete(ctx, first[i].ID)
		}()
		go func() {
			defer wg.Done()
			errs <- d.CreateFromImage(ctx, second[i], img)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range append(second, same) {
		checkPattern(t, d.VolumePath(v.ID), 31*MiB, MiB, 0x88)
	}
	if names := dirNames(t, d.poolDir()); len(names) != len(second)+1 {
		t.Fatalf("pool holds %v", names)
	}
}
