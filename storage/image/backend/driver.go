package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// Driver stores image data by image id.
type Driver interface {
	// Create starts a new upload for id; nothing is readable under id until the upload is committed.
	Create(ctx context.Context, id string) (Upload, error)
	// Open opens committed data for reading; ErrNotFound if absent.
	Open(ctx context.Context, id string) (Object, error)
	// Delete removes committed data and any unfinished upload of id; deleting what is absent is not an error.
	Delete(ctx context.Context, id string) error
	// LocalPath is the path of committed data on this host when the driver is file-based ("" and false otherwise); compute and volume use it.
	LocalPath(id string) (string, bool)
	// Name names the driver ("file") for logs and image locations.
	Name() string
}

// Upload is data being written: written fully, then inspected at StagedPath, then committed or aborted.
// An Upload is not safe for concurrent use.
type Upload interface {
	io.Writer
	// StagedPath is a local file holding what has been written so far (for inspection before Commit).
	StagedPath() string
	// Commit makes the data readable under the id atomically (fsync + rename).
	Commit() error
	// Abort discards the data; safe after Commit (no-op) and twice.
	Abort() error
}

// Object is committed data being read.
type Object interface {
	io.ReadSeekCloser
	// Size is the length of the committed data in bytes.
	Size() int64
}

// ErrNotFound is returned by Open when no committed data exists for an id.
var ErrNotFound = errors.New("image data not found")

// ErrInvalidID is returned (wrapped) for ids that are empty, too long or
// contain anything but letters, digits, '-' and '_'; such ids could escape
// the driver's namespace (path separators, "..") and are never stored.
var ErrInvalidID = errors.New("invalid image id")

// ErrUploadClosed is returned by Write and Commit on an upload that was
// already committed or aborted.
var ErrUploadClosed = errors.New("upload already committed or aborted")

// idPattern is uuid-ish: uuids, hex digests and simple names pass; dots and
// separators do not, so an id is always a single safe path element and
// "<id>." is an unambiguous prefix for staging files.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidateID reports whether id may name stored data.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	return nil
}
