package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"libvirt.org/go/libvirt"

	"github.com/kumo-cloud/kumo/storage/volume/driver"
)

// The tests drive the real libvirtd at DefaultURI (deploy/host-setup.sh
// starts it) and real qemu-img/qemu-io; each test has its own directory
// and pool, destroyed and undefined when it ends.

const MiB = int64(1) << 20

// newDriver starts a driver on a fresh directory whose pool is removed
// when the test ends.
func newDriver(t testing.TB, cfg Config) *Local {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	d, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	name := d.PoolName()
	t.Cleanup(func() {
		d.Close()
		removePool(t, name)
	})
	return d
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// removePool destroys and undefines a pool, leaving its files to the
// test's temporary directory cleanup.
func removePool(t testing.TB, name string) {
	t.Helper()
	lc, err := libvirt.NewConnect(DefaultURI)
	if err != nil {
		t.Errorf("libvirt: %v", err)
		return
	}
	defer lc.Close()
	p, err := lc.LookupStoragePoolByName(name)
	if err != nil {
		return
	}
	defer p.Free()
	if active, _ := p.IsActive(); active {
		if err := p.Destroy(); err != nil {
			t.Errorf("destroy pool %s: %v", name, err)
		}
	}
	if err := p.Undefine(); err != nil {
		t.Errorf("undefine pool %s: %v", name, err)
	}
}

// poolHasVolume asks libvirt (after a refresh) whether the pool has a
// volume of that file name.
func poolHasVolume(t testing.TB, d *Local, name string) bool {
	t.Helper()
	p, err := d.pool()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Free()
	if err := refresh(p); err != nil {
		t.Fatal(err)
	}
	v, err := p.LookupStorageVolByName(name)
	if err != nil {
		return false
	}
	v.Free()
	return true
}

func mustInfo(t testing.TB, path string) imageInfo {
	t.Helper()
	in, err := info(context.Background(), path)
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	return in
}

// backingOf returns qemu-img's view of a file's backing file and its format.
func backingOf(t testing.TB, path string) (file, format string) {
	t.Helper()
	in := mustInfo(t, path)
	return in.BackingFilename, in.BackingFormat
}

// qemuIO runs qemu-io commands on a qcow2 file and fails the test when
// qemu-io reports an error or a pattern mismatch (its exit status does not
// always say so).
func qemuIO(t testing.TB, path string, cmds ...string) {
	t.Helper()
	args := []string{"-f", "qcow2"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("qemu-io", append(args, path)...).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("failed")) || bytes.Contains(out, []byte("error")) {
		t.Fatalf("qemu-io %v %s: %v\n%s", cmds, path, err, out)
	}
}

// checkPattern fails the test unless n bytes at off in the qcow2 file are
// all b.
func checkPattern(t testing.TB, path string, off, n int64, b byte) {
	t.Helper()
	qemuIO(t, path, "read -P "+hexByte(b)+" "+itoa(off)+" "+itoa(n))
}

// writePattern writes n bytes of b at off into the qcow2 file.
func writePattern(t testing.TB, path string, off, n int64, b byte) {
	t.Helper()
	qemuIO(t, path, "write -P "+hexByte(b)+" "+itoa(off)+" "+itoa(n))
}

func hexByte(b byte) string { return "0x" + hex.EncodeToString([]byte{b}) }
func itoa(n int64) string   { return strconv.FormatInt(n, 10) }

// rawImage writes a sparse raw image of size bytes with a MiB of b at
// every offset in at, and returns its path and sha256.
func rawImage(t testing.TB, size int64, b byte, at ...int64) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{b}, int(MiB))
	for _, off := range at {
		if _, err := f.WriteAt(chunk, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, fileSHA256(t, path)
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileImage is an image whose data is a local file; opens counts the
// reads of its data.
func fileImage(path, format, checksum string, opens *atomic.Int32) driver.Image {
	return driver.Image{
		ID:         uuid.NewString(),
		Checksum:   checksum,
		DiskFormat: format,
		Open: func(context.Context) (io.ReadCloser, error) {
			if opens != nil {
				opens.Add(1)
			}
			return os.Open(path)
		},
	}
}

// dirNames lists a directory's entries.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
