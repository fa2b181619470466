package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// baseDirName is the directory under the instances directory that caches
// images, one file per image ID, as Nova's _base. Its name is no UUID, so it
// is never taken for an instance directory.
const baseDirName = "_base"

// tmpPrefix marks a cache file still being copied.
const tmpPrefix = ".tmp-"

func (a *Agent) baseDir() string { return filepath.Join(a.cfg.InstancesDir, baseDirName) }

// imageLock serialises fetching, using and evicting one cached image.
func (a *Agent) imageLock(imageID string) func() { return a.lock(baseDirName + "/" + imageID) }

// withBaseImage runs fn with this host's cached copy of the image, fetched
// once from the ImageSource. The image's lock is held while fn runs, so an
// overlay fn creates on the file exists before a cache cleanup can look
// for users of it. Instance disks back onto the cache, never onto the image
// service's file, so deleting the image does not break servers.
func (a *Agent) withBaseImage(ctx context.Context, imageID string, fn func(path, format string) error) error {
	if !isUUID(imageID) {
		return fmt.Errorf("image %q is not a UUID", imageID)
	}
	defer a.imageLock(imageID)()
	path := filepath.Join(a.baseDir(), imageID)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := a.fetchImage(ctx, imageID, path); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	format, err := probeFormat(ctx, path)
	if err != nil {
		return err
	}
	return fn(path, format)
}

// fetchImage puts the image at dst: a hard link to the source when both are
// on one file system, else a copy written to a temporary file and renamed,
// so dst never holds half an image.
func (a *Agent) fetchImage(ctx context.Context, imageID, dst string) error {
	src, _, err := a.d.Images.Image(ctx, imageID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), tmpPrefix+imageID+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = io.Copy(tmp, readerCtx{ctx, in})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("cache image %s: %w", imageID, err)
	}
	return os.Rename(tmp.Name(), dst)
}

// readerCtx stops a copy when its context is done.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// cleanBaseImages removes cached images no instance disk backs onto any
// more and, when startup is set (nothing is being fetched then), the
// temporary files of fetches a crash interrupted.
func (a *Agent) cleanBaseImages(startup bool) {
	entries, err := os.ReadDir(a.baseDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(a.baseDir(), name)
		if strings.HasPrefix(name, tmpPrefix) {
			if startup {
				_ = os.Remove(path)
			}
			continue
		}
		if !isUUID(name) {
			continue
		}
		func() {
			defer a.imageLock(name)()
			used, err := a.backingUsers(path)
			if err != nil || used > 0 {
				return
			}
			if err := os.Remove(path); err == nil {
				a.log.Info("removed unused cached image", "image_id", name)
			}
		}()
	}
}

// backingUsers counts the files in instance directories whose qcow2
// backing file is path.
func (a *Agent) backingUsers(path string) (int, error) {
	n := 0
	for _, id := range a.instanceDirs() {
		dir := a.instanceDir(id)
		files, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, f := range files {
			if !f.Type().IsRegular() {
				continue
			}
			b, err := qcow2Backing(filepath.Join(dir, f.Name()))
			if err != nil {
				return 0, err
			}
			if b == path {
				n++
			}
		}
	}
	return n, nil
}

// instanceDirs lists the instance directories under the instances
// directory: only names that are UUIDs, never _base.
func (a *Agent) instanceDirs() []string {
	entries, err := os.ReadDir(a.cfg.InstancesDir)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && isUUID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// isUUID accepts only the canonical lower-case form kumo names things with.
func isUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// qcow2Backing returns the absolute backing file of a qcow2 image, or ""
// when path is not qcow2 or has no backing file. It reads the header
// itself: qemu-img would need -U to look at the disk of a running guest.
func qcow2Backing(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	defer f.Close()
	var hdr [20]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return "", nil // too short for qcow2
	}
	if string(hdr[:4]) != "QFI\xfb" {
		return "", nil
	}
	off, size := binary.BigEndian.Uint64(hdr[8:16]), binary.BigEndian.Uint32(hdr[16:20])
	if off == 0 || size == 0 {
		return "", nil
	}
	if size > 4096 {
		return "", fmt.Errorf("%s: backing file name of %d bytes", path, size)
	}
	name := make([]byte, size)
	if _, err := f.ReadAt(name, int64(off)); err != nil {
		return "", fmt.Errorf("%s: backing file name: %w", path, err)
	}
	b := string(name)
	if !filepath.IsAbs(b) {
		b = filepath.Join(filepath.Dir(path), b)
	}
	return filepath.Clean(b), nil
}
