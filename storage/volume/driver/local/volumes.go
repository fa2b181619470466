package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/storage/volume/driver"
)

func volKey(id string) string  { return "volume/" + id }
func snapKey(id string) string { return "snapshot/" + id }

// lock2 takes two keys' locks in a fixed order, so that two calls taking
// the same pair never deadlock.
func (d *Local) lock2(a, b string) func() {
	if b < a {
		a, b = b, a
	}
	ra := d.locks.lock(a)
	rb := d.locks.lock(b)
	return func() { rb(); ra() }
}

func checkSize(v driver.Volume) error {
	if v.SizeGiB <= 0 {
		return fmt.Errorf("volume %s: size %d GiB: %w", v.ID, v.SizeGiB, driver.ErrTooSmall)
	}
	return nil
}

// Create implements driver.Driver: a thin qcow2 pool volume made by
// libvirt.
func (d *Local) Create(ctx context.Context, v driver.Volume) error {
	if err := checkID("volume", v.ID); err != nil {
		return err
	}
	if err := checkSize(v); err != nil {
		return err
	}
	defer d.locks.lock(volKey(v.ID))()
	return d.createVol(ctx, v, "")
}

// createVol has libvirt make volume v as a thin qcow2 file, an overlay on
// backing (a qcow2 file) when that is set. It does nothing when the volume
// exists. The caller holds the volume's lock.
func (d *Local) createVol(ctx context.Context, v driver.Volume, backing string) error {
	if ok, err := exists(d.VolumePath(v.ID)); err != nil || ok {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	def := libvirtxml.StorageVolume{
		Name:       volName(v.ID),
		Capacity:   &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: uint64(int64(v.SizeGiB) * driver.GiB)},
		Allocation: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: 0},
		Target: &libvirtxml.StorageVolumeTarget{
			Format:      &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"},
			Permissions: &libvirtxml.StorageVolumeTargetPermissions{Mode: "0600"},
		},
	}
	if backing != "" {
		// The backing format is given explicitly (qemu-img -F): qemu
		// must never probe it.
		def.BackingStore = &libvirtxml.StorageVolumeBackingStore{
			Path:   backing,
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"},
		}
	}
	x, err := def.Marshal()
	if err != nil {
		return err
	}
	p, err := d.pool()
	if err != nil {
		return err
	}
	defer p.Free()
	vol, err := p.StorageVolCreateXML(x, 0)
	if isLibvirtCode(err, libvirt.ERR_STORAGE_VOL_EXIST) {
		// libvirt remembers a file that was removed behind its back.
		if err = refresh(p); err == nil {
			vol, err = p.StorageVolCreateXML(x, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("create volume %s: %s", v.ID, message(err))
	}
	vol.Free()
	d.log.Info("volume created", "volume_id", v.ID, "size_gib", v.SizeGiB, "backing", backing)
	return nil
}

// copyInto makes dst a standalone thin qcow2 copy of the qcow2 file src,
// grown to sizeGiB: built in tmp/ and renamed into the pool when whole.
func (d *Local) copyInto(ctx context.Context, src, dst string, sizeGiB int) error {
	in, err := info(ctx, src)
	if err != nil {
		return err
	}
	size := int64(sizeGiB) * driver.GiB
	if in.VirtualSize > size {
		return fmt.Errorf("source is %d bytes, more than %d GiB: %w", in.VirtualSize, sizeGiB, driver.ErrTooSmall)
	}
	undo := revert.New()
	defer func() { _ = undo.Fail(context.WithoutCancel(ctx)) }()
	tmp := d.tmpFile("copy")
	undo.Add(func(context.Context) error { return removeIfExists(tmp) })
	if err := convert(ctx, d.cfg.CopyTimeout, src, in.Format, tmp, "qcow2"); err != nil {
		return err
	}
	if in.VirtualSize < size {
		if err := resize(ctx, tmp, size); err != nil {
			return err
		}
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := d.publish(tmp, dst); err != nil {
		return err
	}
	undo.Success()
	return nil
}

// CreateFromSnapshot implements driver.Driver with a full copy: the new
// volume does not depend on the snapshot, which may be deleted at once.
func (d *Local) CreateFromSnapshot(ctx context.Context, v driver.Volume, snapID string) error {
	if err := checkID("volume", v.ID); err != nil {
		return err
	}
	if err := checkID("snapshot", snapID); err != nil {
		return err
	}
	if err := checkSize(v); err != nil {
		return err
	}
	defer d.lock2(volKey(v.ID), snapKey(snapID))()
	if ok, err := exists(d.VolumePath(v.ID)); err != nil || ok {
		return err
	}
	src := d.SnapshotPath(snapID)
	if ok, err := exists(src); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("snapshot %s: %w", snapID, driver.ErrNotFound)
	}
	if err := d.copyInto(ctx, src, d.VolumePath(v.ID), v.SizeGiB); err != nil {
		return fmt.Errorf("volume %s from snapshot %s: %w", v.ID, snapID, err)
	}
	d.log.Info("volume created from snapshot", "volume_id", v.ID, "snapshot_id", snapID, "size_gib", v.SizeGiB)
	return nil
}

// Clone implements driver.Driver with a full copy (crash-consistent when
// the source is attached): the clone does not depend on its source.
func (d *Local) Clone(ctx context.Context, v driver.Volume, srcID string) error {
	if err := checkID("volume", v.ID); err != nil {
		return err
	}
	if err := checkID("volume", srcID); err != nil {
		return err
	}
	if err := checkSize(v); err != nil {
		return err
	}
	if srcID == v.ID {
		return fmt.Errorf("volume %s cannot be a clone of itself", v.ID)
	}
	defer d.lock2(volKey(v.ID), volKey(srcID))()
	if ok, err := exists(d.VolumePath(v.ID)); err != nil || ok {
		return err
	}
	src := d.VolumePath(srcID)
	if ok, err := exists(src); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("volume %s: %w", srcID, driver.ErrNotFound)
	}
	if err := d.copyInto(ctx, src, d.VolumePath(v.ID), v.SizeGiB); err != nil {
		return fmt.Errorf("clone volume %s as %s: %w", srcID, v.ID, err)
	}
	d.log.Info("volume cloned", "volume_id", v.ID, "source_volume_id", srcID, "size_gib", v.SizeGiB)
	return nil
}

// Extend implements driver.Driver through libvirt's volume resize. Growing
// to the current size succeeds; shrinking is refused with ErrTooSmall. An
// attached volume cannot be extended here (the guest holds the file's
// write lock): that is a block resize through the domain.
func (d *Local) Extend(ctx context.Context, id string, newGiB int) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	defer d.locks.lock(volKey(id))()
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.pool()
	if err != nil {
		return err
	}
	defer p.Free()
	vol, err := lookupVol(p, volName(id))
	if err != nil {
		return err
	}
	if vol == nil {
		return fmt.Errorf("volume %s: %w", id, driver.ErrNotFound)
	}
	defer vol.Free()
	vi, err := vol.GetInfo()
	if err != nil {
		return fmt.Errorf("volume %s: %s", id, message(err))
	}
	size := uint64(int64(newGiB) * driver.GiB)
	switch {
	case newGiB <= 0 || size < vi.Capacity:
		return fmt.Errorf("volume %s is %d bytes, cannot shrink to %d GiB: %w", id, vi.Capacity, newGiB, driver.ErrTooSmall)
	case size == vi.Capacity:
		return nil
	}
	if err := vol.Resize(size, 0); err != nil {
		return fmt.Errorf("extend volume %s: %s", id, message(err))
	}
	d.log.Info("volume extended", "volume_id", id, "size_gib", newGiB)
	return nil
}

// Delete implements driver.Driver. The image base the volume backed onto
// is removed with it when no other volume uses it.
func (d *Local) Delete(ctx context.Context, id string) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	release := d.locks.lock(volKey(id))
	hdr, err := readQcow2Header(d.VolumePath(id))
	if err == nil {
		err = d.deleteFile(ctx, volName(id))
	}
	release()
	if err != nil {
		return fmt.Errorf("delete volume %s: %w", id, err)
	}
	if hdr.backing != "" {
		if err := d.evictIfUnused(ctx, hdr.backing); err != nil {
			d.log.Warn("image cache cleanup failed", "base", hdr.backing, "error", err)
		}
	}
	return nil
}

// deleteFile removes a pool volume through libvirt; a file libvirt does
// not know (even after a refresh) is gone already.
func (d *Local) deleteFile(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.pool()
	if err != nil {
		return err
	}
	defer p.Free()
	vol, err := lookupVol(p, name)
	if err != nil || vol == nil {
		return err
	}
	defer vol.Free()
	if err := vol.Delete(0); err != nil {
		return fmt.Errorf("%s", message(err))
	}
	d.log.Info("deleted", "file", name)
	return nil
}

// CreateSnapshot implements driver.Driver: a standalone thin qcow2 copy
// of the volume as it is now. It depends on nothing, so the volume can be
// written, extended or deleted. Of an attached volume it is a copy read
// beside the running guest (qemu-img -U): what the guest has flushed, as
// after a crash; a quiesced copy would need the domain (a libvirt block
// copy) and is compute's to offer.
func (d *Local) CreateSnapshot(ctx context.Context, volID, snapID string) error {
	if err := checkID("volume", volID); err != nil {
		return err
	}
	if err := checkID("snapshot", snapID); err != nil {
		return err
	}
	defer d.lock2(volKey(volID), snapKey(snapID))()
	if ok, err := exists(d.SnapshotPath(snapID)); err != nil || ok {
		return err
	}
	src := d.VolumePath(volID)
	if ok, err := exists(src); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("volume %s: %w", volID, driver.ErrNotFound)
	}
	in, err := info(ctx, src)
	if err != nil {
		return err
	}
	if err := d.copyInto(ctx, src, d.SnapshotPath(snapID), int((in.VirtualSize+driver.GiB-1)/driver.GiB)); err != nil {
		return fmt.Errorf("snapshot %s of volume %s: %w", snapID, volID, err)
	}
	d.log.Info("snapshot created", "snapshot_id", snapID, "volume_id", volID)
	return nil
}

// DeleteSnapshot implements driver.Driver.
func (d *Local) DeleteSnapshot(ctx context.Context, snapID string) error {
	if err := checkID("snapshot", snapID); err != nil {
		return err
	}
	defer d.locks.lock(snapKey(snapID))()
	if err := d.deleteFile(ctx, snapName(snapID)); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", snapID, err)
	}
	return nil
}

// Export implements driver.Driver: the volume's data, flattened (no
// backing file) in format raw or qcow2, is built in tmp/ and copied to w.
func (d *Local) Export(ctx context.Context, id, format string, w io.Writer) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	if format != "raw" && format != "qcow2" {
		return fmt.Errorf("export volume %s: format %q is not raw or qcow2", id, format)
	}
	tmp := d.tmpFile("export")
	defer func() { _ = removeIfExists(tmp) }()
	err := func() error {
		defer d.locks.lock(volKey(id))()
		src := d.VolumePath(id)
		if ok, err := exists(src); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("volume %s: %w", id, driver.ErrNotFound)
		}
		return convert(ctx, d.cfg.CopyTimeout, src, "qcow2", tmp, format)
	}()
	if err != nil {
		return fmt.Errorf("export volume %s: %w", id, err)
	}
	if err := copySparse(ctx, w, tmp); err != nil {
		return fmt.Errorf("export volume %s: %w", id, err)
	}
	return nil
}

// copySparse copies a file to w, writing its holes as zeros from memory
// instead of reading them: a raw export of a thin volume is mostly holes.
func copySparse(ctx context.Context, w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	zeros := make([]byte, len(buf))
	size := st.Size()
	for off := int64(0); off < size; {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = size // only a hole is left
		} else if err != nil {
			data = off // no hole support: copy everything
		}
		for off < data {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(int64(len(zeros)), data-off)
			if _, err := w.Write(zeros[:n]); err != nil {
				return err
			}
			off += n
		}
		if off >= size {
			break
		}
		hole, err := unix.Seek(int(f.Fd()), off, unix.SEEK_HOLE)
		if err != nil {
			hole = size
		}
		if _, err := io.CopyBuffer(w, ctxReader{ctx, io.NewSectionReader(f, off, hole-off)}, buf); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
