package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/uuid"
	"libvirt.org/go/libvirt"

	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/storage/volume/driver"
)

func TestPoolIsDefinedIdempotently(t *testing.T) {
	dir := t.TempDir()
	d := newDriver(t, Config{Dir: dir})
	again, err := New(context.Background(), Config{Dir: dir}, testLogger(t))
	if err != nil {
		t.Fatalf("second New on the same directory: %v", err)
	}
	again.Close()
	if again.PoolName() != d.PoolName() {
		t.Fatalf("pool names differ: %s and %s", d.PoolName(), again.PoolName())
	}

	lc, err := libvirt.NewConnect(DefaultURI)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	p, err := lc.LookupStoragePoolByName(d.PoolName())
	if err != nil {
		t.Fatalf("pool %s not defined: %v", d.PoolName(), err)
	}
	defer p.Free()
	if active, err := p.IsActive(); err != nil || !active {
		t.Fatalf("pool active = %v, %v", active, err)
	}
	if auto, err := p.GetAutostart(); err != nil || !auto {
		t.Fatalf("pool autostart = %v, %v", auto, err)
	}

	// A pool stopped behind the driver's back is started again.
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
	c, err := d.Capacity(context.Background())
	if err != nil {
		t.Fatalf("Capacity after the pool was stopped: %v", err)
	}
	if c.TotalGiB <= 0 || c.FreeGiB <= 0 || c.FreeGiB > c.TotalGiB {
		t.Fatalf("capacity %+v", c)
	}

	// The configured name serving another directory is refused.
	if other, err := New(context.Background(), Config{Dir: t.TempDir(), PoolName: d.PoolName()}, testLogger(t)); err == nil {
		other.Close()
		t.Fatalf("New took pool %s for another directory", d.PoolName())
	}
}

func TestVolumeLifecycle(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	vol := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	path := d.VolumePath(vol.ID)

	for i := 0; i < 2; i++ { // the second create finds the volume
		if err := d.Create(ctx, vol); err != nil {
			t.Fatalf("Create #%d: %v", i+1, err)
		}
	}
	in := mustInfo(t, path)
	if in.Format != "qcow2" || in.VirtualSize != driver.GiB || in.BackingFilename != "" {
		t.Fatalf("new volume: %+v", in)
	}
	if !poolHasVolume(t, d, volName(vol.ID)) {
		t.Fatalf("libvirt does not list %s", volName(vol.ID))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 4*MiB {
		t.Fatalf("1 GiB volume takes %d bytes: not thin", st.Size())
	}
	writePattern(t, path, 0, MiB, 0xa1)
	writePattern(t, path, driver.GiB-MiB, MiB, 0xa2)

	t.Run("connect", func(t *testing.T) {
		ci, err := d.Connect(ctx, vol.ID, rpc.Connector{Host: "h1"})
		if err != nil {
			t.Fatal(err)
		}
		want := rpc.ConnectionInfo{DriverVolumeType: rpc.ConnFile, Data: rpc.ConnectionData{
			VolumeID: vol.ID, DevicePath: path, Format: "qcow2", AccessMode: "rw"}}
		if !reflect.DeepEqual(ci, want) || !filepath.IsAbs(ci.Data.DevicePath) {
			t.Fatalf("Connect = %+v, want %+v", ci, want)
		}
		if err := d.Disconnect(ctx, vol.ID, rpc.Connector{Host: "h1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Connect(ctx, uuid.NewString(), rpc.Connector{}); !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("Connect of a missing volume: %v, want ErrNotFound", err)
		}
	})

	t.Run("extend", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if err := d.Extend(ctx, vol.ID, 2); err != nil {
				t.Fatalf("Extend #%d: %v", i+1, err)
			}
		}
		if in := mustInfo(t, path); in.VirtualSize != 2*driver.GiB {
			t.Fatalf("extended volume is %d bytes", in.VirtualSize)
		}
		if err := d.Extend(ctx, vol.ID, 1); !errors.Is(err, driver.ErrTooSmall) {
			t.Fatalf("shrink: %v, want ErrTooSmall", err)
		}
		if err := d.Extend(ctx, uuid.NewString(), 3); !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("Extend of a missing volume: %v, want ErrNotFound", err)
		}
		checkPattern(t, path, 0, MiB, 0xa1)
		checkPattern(t, path, driver.GiB-MiB, MiB, 0xa2)
	})

	snapID := uuid.NewString()
	t.Run("snapshot", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if err := d.CreateSnapshot(ctx, vol.ID, snapID); err != nil {
				t.Fatalf("CreateSnapshot #%d: %v", i+1, err)
			}
		}
		snap := d.SnapshotPath(snapID)
		if in := mustInfo(t, snap); in.BackingFilename != "" || in.VirtualSize != 2*driver.GiB {
			t.Fatalf("snapshot: %+v", in)
		}
		// Writing the volume after the snapshot does not change it.
		writePattern(t, path, 0, MiB, 0xb1)
		checkPattern(t, snap, 0, MiB, 0xa1)
		checkPattern(t, snap, driver.GiB-MiB, MiB, 0xa2)
		if err := d.CreateSnapshot(ctx, uuid.NewString(), uuid.NewString()); !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("snapshot of a missing volume: %v, want ErrNotFound", err)
		}
	})

	fromSnap := driver.Volume{ID: uuid.NewString(), SizeGiB: 3}
	t.Run("from snapshot", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if err := d.CreateFromSnapshot(ctx, fromSnap, snapID); err != nil {
				t.Fatalf("CreateFromSnapshot #%d: %v", i+1, err)
			}
		}
		p := d.VolumePath(fromSnap.ID)
		if in := mustInfo(t, p); in.BackingFilename != "" || in.VirtualSize != 3*driver.GiB {
			t.Fatalf("volume from snapshot: %+v", in)
		}
		checkPattern(t, p, 0, MiB, 0xa1)
		if err := d.CreateFromSnapshot(ctx, driver.Volume{ID: uuid.NewString(), SizeGiB: 1}, snapID); !errors.Is(err, driver.ErrTooSmall) {
			t.Fatalf("1 GiB volume from a 2 GiB snapshot: %v, want ErrTooSmall", err)
		}
		if err := d.CreateFromSnapshot(ctx, driver.Volume{ID: uuid.NewString(), SizeGiB: 1}, uuid.NewString()); !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("volume from a missing snapshot: %v, want ErrNotFound", err)
		}
		// The snapshot goes; the volume made from it stays whole.
		for i := 0; i < 2; i++ {
			if err := d.DeleteSnapshot(ctx, snapID); err != nil {
				t.Fatalf("DeleteSnapshot #%d: %v", i+1, err)
			}
		}
		if _, err := os.Stat(d.SnapshotPath(snapID)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("snapshot file after delete: %v", err)
		}
		checkPattern(t, p, 0, MiB, 0xa1)
		checkPattern(t, p, driver.GiB-MiB, MiB, 0xa2)
	})

	clone := driver.Volume{ID: uuid.NewString(), SizeGiB: 2}
	t.Run("clone", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if err := d.Clone(ctx, clone, vol.ID); err != nil {
				t.Fatalf("Clone #%d: %v", i+1, err)
			}
		}
		p := d.VolumePath(clone.ID)
		if in := mustInfo(t, p); in.BackingFilename != "" || in.VirtualSize != 2*driver.GiB {
			t.Fatalf("clone: %+v", in)
		}
		checkPattern(t, p, 0, MiB, 0xb1)
		writePattern(t, p, MiB, MiB, 0xc1)
		checkPattern(t, path, MiB, MiB, 0x00) // the source does not see the clone's writes
		if err := d.Clone(ctx, driver.Volume{ID: uuid.NewString(), SizeGiB: 1}, uuid.NewString()); !errors.Is(err, driver.ErrNotFound) {
			t.Fatalf("clone of a missing volume: %v, want ErrNotFound", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if err := d.Delete(ctx, vol.ID); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("volume file after delete: %v", err)
		}
		if poolHasVolume(t, d, volName(vol.ID)) {
			t.Fatalf("libvirt still lists %s", volName(vol.ID))
		}
		checkPattern(t, d.VolumePath(clone.ID), 0, MiB, 0xb1) // the clone outlives its source
		for _, id := range []string{clone.ID, fromSnap.ID} {
			if err := d.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if names := dirNames(t, d.poolDir()); len(names) != 0 {
			t.Fatalf("pool directory holds %v after every delete", names)
		}
		if names := dirNames(t, d.tmpDir()); len(names) != 0 {
			t.Fatalf("tmp holds %v", names)
		}
	})
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	vol := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	if err := d.Create(ctx, vol); err != nil {
		t.Fatal(err)
	}
	writePattern(t, d.VolumePath(vol.ID), 3*MiB, MiB, 0x5a)

	raw := &patternChecker{from: 3 * MiB, to: 4 * MiB, b: 0x5a}
	if err := d.Export(ctx, vol.ID, "raw", raw); err != nil {
		t.Fatalf("Export raw: %v", err)
	}
	if raw.n != driver.GiB || raw.bad >= 0 {
		t.Fatalf("raw export: %d bytes, first unexpected byte at %d", raw.n, raw.bad)
	}

	out := filepath.Join(t.TempDir(), "export.qcow2")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Export(ctx, vol.ID, "qcow2", f); err != nil {
		t.Fatalf("Export qcow2: %v", err)
	}
	f.Close()
	if in := mustInfo(t, out); in.Format != "qcow2" || in.BackingFilename != "" || in.VirtualSize != driver.GiB {
		t.Fatalf("qcow2 export: %+v", in)
	}
	checkPattern(t, out, 3*MiB, MiB, 0x5a)

	if err := d.Export(ctx, vol.ID, "vmdk", io.Discard); err == nil {
		t.Fatal("Export to vmdk succeeded")
	}
	if err := d.Export(ctx, uuid.NewString(), "raw", io.Discard); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Export of a missing volume: %v, want ErrNotFound", err)
	}
	if names := dirNames(t, d.tmpDir()); len(names) != 0 {
		t.Fatalf("tmp holds %v after exports", names)
	}
}

// patternChecker is a writer that expects byte b in [from, to) and zeros
// elsewhere; bad is the offset of the first other byte, -1 if none.
type patternChecker struct {
	from, to, n, bad int64
	b                byte
}

func (p *patternChecker) Write(buf []byte) (int, error) {
	if p.n == 0 {
		p.bad = -1
	}
	start, end := p.n, p.n+int64(len(buf))
	p.n = end
	// The buffer is three spans: before, in and after the pattern.
	spans := []struct {
		lo, hi int64
		want   byte
	}{
		{start, min(end, p.from), 0},
		{max(start, p.from), min(end, p.to), p.b},
		{max(start, p.to), end, 0},
	}
	for _, sp := range spans {
		if p.bad >= 0 || sp.lo >= sp.hi {
			continue
		}
		seg := buf[sp.lo-start : sp.hi-start]
		if bytes.Count(seg, []byte{sp.want}) == len(seg) {
			continue
		}
		for i, c := range seg {
			if c != sp.want {
				p.bad = sp.lo + int64(i)
				break
			}
		}
	}
	return len(buf), nil
}

func TestBadRequestsLeaveNothing(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	id := uuid.NewString()
	cases := []struct {
		name string
		call func() error
	}{
		{"not a uuid", func() error { return d.Create(ctx, driver.Volume{ID: "../x", SizeGiB: 1}) }},
		{"size 0", func() error { return d.Create(ctx, driver.Volume{ID: id, SizeGiB: 0}) }},
		{"cancelled create", func() error { return d.Create(cancelled, driver.Volume{ID: id, SizeGiB: 1}) }},
		{"clone of itself", func() error { return d.Clone(ctx, driver.Volume{ID: id, SizeGiB: 1}, id) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil {
				t.Fatal("succeeded")
			}
			if names := dirNames(t, d.poolDir()); len(names) != 0 {
				t.Fatalf("pool holds %v", names)
			}
		})
	}
}

// A file removed behind libvirt's back does not block a new volume of the
// same name, and one libvirt has not seen yet is still deleted.
func TestFilesChangedBehindLibvirt(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, Config{})
	v := driver.Volume{ID: uuid.NewString(), SizeGiB: 1}
	if err := d.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.VolumePath(v.ID)); err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, v); err != nil {
		t.Fatalf("Create after the file was removed behind libvirt: %v", err)
	}
	if in := mustInfo(t, d.VolumePath(v.ID)); in.VirtualSize != driver.GiB {
		t.Fatalf("recreated volume: %+v", in)
	}

	unseen := uuid.NewString()
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", d.VolumePath(unseen), "1G").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := d.Delete(ctx, unseen); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.VolumePath(unseen)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file libvirt had not seen survived Delete: %v", err)
	}
}

// A kumo volume pool whose directory was removed is cleaned up when a
// driver starts; one whose directory exists is left alone.
func TestOrphanPoolsAreRemoved(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "gone")
	orphan := newDriver(t, Config{Dir: gone})
	kept := newDriver(t, Config{})
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	newDriver(t, Config{})

	lc, err := libvirt.NewConnect(DefaultURI)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if p, err := lc.LookupStoragePoolByName(orphan.PoolName()); err == nil {
		p.Free()
		t.Fatalf("pool %s of a removed directory is still defined", orphan.PoolName())
	}
	p, err := lc.LookupStoragePoolByName(kept.PoolName())
	if err != nil {
		t.Fatalf("pool %s of an existing directory was removed: %v", kept.PoolName(), err)
	}
	defer p.Free()
	if active, _ := p.IsActive(); !active {
		t.Fatalf("pool %s of an existing directory was stopped", kept.PoolName())
	}
}

func TestPatternChecker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt int64
	}{{"clean", -1}, {"zero area", 10}, {"pattern area", 4*MiB + 7}, {"after", 6*MiB - 1}} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, 6*MiB)
			copy(data[4*MiB:5*MiB], bytes.Repeat([]byte{0x5a}, int(MiB)))
			if tc.corrupt >= 0 {
				data[tc.corrupt] ^= 0xff
			}
			p := &patternChecker{from: 4 * MiB, to: 5 * MiB, b: 0x5a}
			for off := 0; off < len(data); off += 300000 {
				_, _ = p.Write(data[off:min(off+300000, len(data))])
			}
			if p.bad != tc.corrupt || p.n != 6*MiB {
				t.Fatalf("bad = %d, n = %d; want %d, %d", p.bad, p.n, tc.corrupt, 6*MiB)
			}
		})
	}
}

// copySparse gives the same bytes as reading the whole file.
func TestCopySparse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(10*MiB + 5); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 3*MiB + 123, 7 * MiB, 10*MiB + 4} {
		if _, err := f.WriteAt(bytes.Repeat([]byte{0x9c}, 5000)[:min(5000, 10*MiB+5-off)], off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := copySparse(context.Background(), &got, path); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("copySparse gave %d bytes that differ from the file's %d", got.Len(), len(want))
	}
}

// With libvirtd unreachable the driver still starts; calls that need the
// pool fail until it answers.
func TestStartsWithoutLibvirt(t *testing.T) {
	ctx := context.Background()
	d, err := New(ctx, Config{Dir: t.TempDir(), URI: "qemu+unix:///system?socket=/nonexistent/libvirt-sock"}, testLogger(t))
	if err != nil {
		t.Fatalf("New without libvirt: %v", err)
	}
	defer d.Close()
	if err := d.Create(ctx, driver.Volume{ID: uuid.NewString(), SizeGiB: 1}); err == nil {
		t.Fatal("Create without libvirt succeeded")
	}
	if _, err := d.Check(ctx); err == nil {
		t.Fatal("Check without libvirt succeeded")
	}
	live := newDriver(t, Config{})
	detail, err := live.Check(ctx)
	if err != nil || detail["total_gib"].(float64) <= 0 {
		t.Fatalf("Check = %v, %v", detail, err)
	}
}
