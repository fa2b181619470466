package backend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// StaleAfter is how old a staging file must be before Sweep treats it as the
// leftover of a crashed upload.
const StaleAfter = time.Hour

// File is the local-filesystem driver: committed data lives in <dir>/data/<id>,
// uploads in progress in <dir>/staging/<id>.<random>. Both directories are on
// the same filesystem so Commit is a rename. A directory must have a single
// owning File (one kumo process per host): NewFile discards every staging
// file it finds, because none of them can belong to a live upload.
type File struct {
	dir     string
	data    string
	staging string
}

var _ Driver = (*File)(nil)

// NewFile creates dir (0700) with data/ and staging/ subdirs and cleans the
// staging files left by a previous run.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("file image backend: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file image backend: %w", err)
	}
	f := &File{dir: abs, data: filepath.Join(abs, "data"), staging: filepath.Join(abs, "staging")}
	for _, d := range []string{f.dir, f.data, f.staging} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("file image backend: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("file image backend: %w", err)
		}
	}
	if err := f.sweep(context.Background(), time.Time{}); err != nil {
		return nil, err
	}
	return f, nil
}

// Name names the driver.
func (f *File) Name() string { return "file" }

// Dir is the driver's root directory.
func (f *File) Dir() string { return f.dir }

// LocalPath is where committed data of id lives; it is reported for any
// valid id, whether or not data has been committed yet.
func (f *File) LocalPath(id string) (string, bool) {
	if ValidateID(id) != nil {
		return "", false
	}
	return f.dataPath(id), true
}

func (f *File) dataPath(id string) string { return filepath.Join(f.data, id) }

// Create starts an upload in a fresh staging file.
func (f *File) Create(ctx context.Context, id string) (Upload, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(f.staging, id+".*")
	if err != nil {
		return nil, fmt.Errorf("create staging file for image %s: %w", id, err)
	}
	return &fileUpload{f: f, id: id, file: tmp}, nil
}

// Open opens committed data of id.
func (f *File) Open(ctx context.Context, id string) (Object, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, err := os.Open(f.dataPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", id, err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("open image %s: %w", id, err)
	}
	// The size is fixed at open: a Commit that replaces the data renames a
	// new inode into place and this descriptor keeps reading the old one.
	return &fileObject{File: file, size: st.Size()}, nil
}

// Delete removes committed data and staging files of id. An upload of id
// still in progress fails at Commit afterwards.
func (f *File) Delete(ctx context.Context, id string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	if err := os.Remove(f.dataPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	// ids contain no dots, so "<id>." matches only this id's staging files.
	staged, err := filepath.Glob(filepath.Join(f.staging, id+".*"))
	if err != nil {
		errs = append(errs, err)
	}
	for _, p := range staged {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete image %s: %w", id, err)
	}
	return syncDir(f.data)
}

// Sweep removes staging files older than StaleAfter (uploads of a crashed or
// abandoned request). Run it on a timer.
func (f *File) Sweep(ctx context.Context) error {
	return f.sweep(ctx, time.Now().Add(-StaleAfter))
}

// sweep removes staging files last modified before cutoff; the zero cutoff
// removes them all.
func (f *File) sweep(ctx context.Context, cutoff time.Time) error {
	entries, err := os.ReadDir(f.staging)
	if err != nil {
		return fmt.Errorf("sweep image staging: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !cutoff.IsZero() {
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !info.ModTime().Before(cutoff) {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(f.staging, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sweep image staging: %w", err)
	}
	return nil
}

// fileUpload is an upload into a staging file.
type fileUpload struct {
	f    *File
	id   string
	file *os.File // nil once committed or aborted
}

func (u *fileUpload) Write(p []byte) (int, error) {
	if u.file == nil {
		return 0, ErrUploadClosed
	}
	return u.file.Write(p)
}

func (u *fileUpload) StagedPath() string {
	if u.file == nil {
		return ""
	}
	return u.file.Name()
}

func (u *fileUpload) Commit() error {
	if u.file == nil {
		return ErrUploadClosed
	}
	file := u.file
	staged := file.Name()
	err := file.Sync()
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(staged, 0o600)
	}
	if err == nil {
		err = os.Rename(staged, u.f.dataPath(u.id))
	}
	u.file = nil
	if err != nil {
		os.Remove(staged)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("commit image %s: upload was deleted: %w", u.id, err)
		}
		return fmt.Errorf("commit image %s: %w", u.id, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if err := syncDir(u.f.data); err != nil {
		return fmt.Errorf("commit image %s: %w", u.id, err)
	}
	return nil
}

func (u *fileUpload) Abort() error {
	if u.file == nil {
		return nil
	}
	file := u.file
	u.file = nil
	file.Close()
	if err := os.Remove(file.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort upload of image %s: %w", u.id, err)
	}
	return nil
}

// fileObject is committed data opened for reading.
type fileObject struct {
	*os.File
	size int64
}

func (o *fileObject) Size() int64 { return o.size }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some filesystems cannot fsync a directory; the rename still stands.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
