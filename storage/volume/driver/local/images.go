package local

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/storage/volume/driver"
)

// baseExt ends every image base's file name.
const baseExt = ".qcow2"

func baseKey(path string) string { return "image/" + filepath.Base(path) }

// basePath is where the base of img is cached. The name carries the
// image's checksum, so a base whose image data changed is never used
// again: a new one is fetched beside it, and the stale one is evicted as
// soon as no volume backs onto it.
func (d *Local) basePath(img driver.Image) string {
	name := img.ID
	if sum := strings.ToLower(img.Checksum); sum != "" {
		name += "-" + sum[:min(16, len(sum))]
	}
	return filepath.Join(d.imageDir(), name+baseExt)
}

// CreateFromImage implements driver.Driver. The image is fetched once
// into the cache (converted to a standalone qcow2 base) and the volume is
// a copy-on-write qcow2 overlay on it, grown to v.SizeGiB, or with
// Config.FullCopy a full copy of it.
func (d *Local) CreateFromImage(ctx context.Context, v driver.Volume, img driver.Image) error {
	if err := checkID("volume", v.ID); err != nil {
		return err
	}
	if err := checkID("image", img.ID); err != nil {
		return err
	}
	if err := checkSize(v); err != nil {
		return err
	}
	// The checksum names the cached base: it must be what it claims.
	if _, err := hex.DecodeString(img.Checksum); err != nil {
		return fmt.Errorf("image %s checksum %q is not hexadecimal: %w", img.ID, img.Checksum, driver.ErrBadImage)
	}
	defer d.locks.lock(volKey(v.ID))()
	if ok, err := exists(d.VolumePath(v.ID)); err != nil || ok {
		return err
	}
	base := d.basePath(img)
	// The base's lock is held until the overlay exists, so an eviction
	// cannot remove the base between the two.
	defer d.locks.lock(baseKey(base))()
	undo := revert.New()
	defer func() { _ = undo.Fail(context.WithoutCancel(ctx)) }()
	fetched, err := d.ensureBase(ctx, img, base)
	if err != nil {
		return fmt.Errorf("volume %s from image %s: %w", v.ID, img.ID, err)
	}
	if fetched {
		undo.Add(func(ctx context.Context) error { return d.evictLocked(base) })
	}
	if d.cfg.FullCopy {
		err = d.copyInto(ctx, base, d.VolumePath(v.ID), v.SizeGiB)
	} else {
		err = d.overlay(ctx, v, base)
	}
	if err != nil {
		return fmt.Errorf("volume %s from image %s: %w", v.ID, img.ID, err)
	}
	undo.Success()
	d.log.Info("volume created from image", "volume_id", v.ID, "image_id", img.ID, "full_copy", d.cfg.FullCopy)
	return nil
}

// overlay makes v a copy-on-write overlay on base, refusing a volume
// smaller than the image.
func (d *Local) overlay(ctx context.Context, v driver.Volume, base string) error {
	in, err := info(ctx, base)
	if err != nil {
		return err
	}
	if in.VirtualSize > int64(v.SizeGiB)*driver.GiB {
		return fmt.Errorf("image is %d bytes, more than %d GiB: %w", in.VirtualSize, v.SizeGiB, driver.ErrTooSmall)
	}
	return d.createVol(ctx, v, base)
}

// ensureBase fetches img into base unless it is cached, saying whether it
// fetched it. The caller holds the base's lock. The data is checked
// against the image's checksum and declared format, converted to qcow2 in
// tmp/ and renamed into the cache when whole.
func (d *Local) ensureBase(ctx context.Context, img driver.Image, base string) (bool, error) {
	if ok, err := exists(base); err != nil || ok {
		return false, err
	}
	if img.DiskFormat != "raw" && img.DiskFormat != "qcow2" {
		return false, fmt.Errorf("disk_format %q is not supported by the %s driver (raw or qcow2): %w", img.DiskFormat, Name, driver.ErrBadImage)
	}
	if img.Open == nil {
		return false, fmt.Errorf("image %s has no data source", img.ID)
	}
	download := d.tmpFile("download")
	defer func() { _ = removeIfExists(download) }()
	if err := d.download(ctx, img, download); err != nil {
		return false, err
	}
	if err := checkImage(ctx, download, img.DiskFormat); err != nil {
		return false, err
	}
	tmp := d.tmpFile("image")
	defer func() { _ = removeIfExists(tmp) }()
	if err := convert(ctx, d.cfg.CopyTimeout, download, img.DiskFormat, tmp, "qcow2"); err != nil {
		return false, err
	}
	if err := syncFile(tmp); err != nil {
		return false, err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, base); err != nil {
		return false, err
	}
	syncDir(d.imageDir())
	d.log.Info("image cached", "image_id", img.ID, "base", filepath.Base(base))
	d.evictStale(img.ID, base)
	return true, nil
}

// download streams the image into path, checking its checksum.
func (d *Local) download(ctx context.Context, img driver.Image, path string) error {
	h, err := checksumHash(img.Checksum)
	if err != nil {
		return err
	}
	rc, err := img.Open(ctx)
	if err != nil {
		return fmt.Errorf("open image %s: %w", img.ID, err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	var w io.Writer = f
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	_, err = io.Copy(w, ctxReader{ctx, rc})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download image %s: %w", img.ID, err)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(img.Checksum) {
			return fmt.Errorf("image %s data has checksum %s, want %s: %w", img.ID, got, img.Checksum, driver.ErrBadImage)
		}
	}
	return nil
}

// checksumHash picks the hash of a hex checksum by its length (md5, sha1,
// sha256 or sha512: Glance's checksum and os_hash_value); nil when the
// image has no checksum.
func checksumHash(sum string) (hash.Hash, error) {
	switch len(sum) {
	case 0:
		return nil, nil
	case 32:
		return md5.New(), nil
	case 40:
		return sha1.New(), nil
	case 64:
		return sha256.New(), nil
	case 128:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("image checksum %q is of no known algorithm: %w", sum, driver.ErrBadImage)
}

// checkImage refuses data that is not of the declared format or that
// would make qemu open other files (a qcow2 backing or external data
// file). The image service checked it at upload; a volume built from it
// runs in guests, so it is checked again here.
func checkImage(ctx context.Context, path, diskFormat string) error {
	hdr, err := readQcow2Header(path)
	if err != nil {
		return fmt.Errorf("%w: %v", driver.ErrBadImage, err)
	}
	if hdr.backing != "" || hdr.externalData {
		return fmt.Errorf("image refers to other files (backing or external data file): %w", driver.ErrBadImage)
	}
	in, err := info(ctx, path)
	if err != nil {
		return err
	}
	if in.Format != diskFormat {
		return fmt.Errorf("image data is %s, not its disk_format %s: %w", in.Format, diskFormat, driver.ErrBadImage)
	}
	if in.BackingFilename != "" || (in.FormatSpecific != nil && in.FormatSpecific.Data.DataFile != nil) {
		return fmt.Errorf("image refers to other files (backing or external data file): %w", driver.ErrBadImage)
	}
	return nil
}

// EvictUnusedImages removes every cached image base no volume backs onto
// (New runs it; the volume service may run it from time to time, as
// bases used only by full copies are kept until then).
func (d *Local) EvictUnusedImages(ctx context.Context) error {
	entries, err := os.ReadDir(d.imageDir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !strings.HasSuffix(e.Name(), baseExt) {
			continue
		}
		if err := d.evictIfUnused(ctx, filepath.Join(d.imageDir(), e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// evictIfUnused removes the base at path when no volume backs onto it;
// paths outside the image cache are left alone.
func (d *Local) evictIfUnused(ctx context.Context, path string) error {
	if filepath.Dir(path) != d.imageDir() {
		return nil
	}
	defer d.locks.lock(baseKey(path))()
	return d.evictLocked(path)
}

// evictLocked is evictIfUnused with the base's lock held.
func (d *Local) evictLocked(path string) error {
	users, err := d.baseUsers(path)
	if err != nil || users > 0 {
		return err
	}
	if err := removeIfExists(path); err != nil {
		return err
	}
	d.log.Info("evicted unused image base", "base", filepath.Base(path))
	return nil
}

// evictStale removes the unused bases of imageID other than current:
// cached copies of data the image no longer has.
func (d *Local) evictStale(imageID, current string) {
	matches, _ := filepath.Glob(filepath.Join(d.imageDir(), imageID+"*"+baseExt))
	for _, m := range matches {
		if m == current {
			continue
		}
		// A base in use by another call is skipped (it may be waiting
		// for this base's lock); the next eviction finds it.
		release, ok := d.locks.tryLock(baseKey(m))
		if !ok {
			continue
		}
		if err := d.evictLocked(m); err != nil {
			d.log.Warn("stale image base cleanup failed", "base", filepath.Base(m), "error", err)
		}
		release()
	}
}

// baseUsers counts the pool files whose qcow2 backing file is path. It is
// read from the files' headers, so it needs no bookkeeping and survives a
// restart.
func (d *Local) baseUsers(path string) (int, error) {
	entries, err := os.ReadDir(d.poolDir())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		hdr, err := readQcow2Header(filepath.Join(d.poolDir(), e.Name()))
		if err != nil {
			return 0, err
		}
		if hdr.backing == path {
			n++
		}
	}
	return n, nil
}
