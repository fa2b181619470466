// Package driver defines how the volume service stores volume data: the
// Driver interface every backend implements (local qcow2 files in a
// libvirt storage pool first; LVM thin and Ceph RBD fit the same calls),
// and the backends themselves. A driver owns its backend's data and
// nothing else: it never touches the database, the bus or volume states,
// which belong to the volume service that calls it.
package driver

import (
	"context"
	"errors"
	"io"

	"github.com/kumo-cloud/kumo/internal/rpc"
)

// ErrNotFound means the volume or snapshot has no data in the backend.
var ErrNotFound = errors.New("volume driver: not found")

// ErrTooSmall means a size is below what the volume already holds: a
// shrinking Extend, or a new volume smaller than its image, snapshot or
// source volume.
var ErrTooSmall = errors.New("volume driver: size smaller than the data")

// ErrBadImage means an image cannot become a volume: a disk_format the
// driver does not take, data that is not of its declared format or whose
// checksum differs, or data that refers to other files.
var ErrBadImage = errors.New("volume driver: image not usable")

// GiB is a volume size unit, in bytes.
const GiB = int64(1) << 30

// Volume is what a driver needs to know of a volume.
type Volume struct {
	ID      string
	SizeGiB int
}

// Image is a source image for a volume. The driver keeps a cached copy
// per image ID (reading Open only on a miss) so that volumes of the same
// image are copy-on-write clones where the backend can.
type Image struct {
	ID string
	// Checksum identifies the image's bytes (the image's os_hash_value or
	// md5 checksum); a cached copy with another checksum is stale.
	Checksum string
	// DiskFormat is the image's disk_format (raw, qcow2, ...).
	DiskFormat string
	// Open streams the image's data.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Capacity is a backend's space, in GiB.
type Capacity struct {
	TotalGiB float64
	FreeGiB  float64
}

// Driver stores volumes and snapshots. Every call is idempotent: creating
// what exists with the same ID succeeds, deleting what is gone succeeds. A
// failed create leaves nothing behind. IDs are the volume service's UUIDs.
// A call on a volume or snapshot the backend has no data for returns an
// error wrapping ErrNotFound.
//
// Snapshots, volumes made from snapshots and clones must not depend on
// their source as far as the caller can tell: any of them may be deleted
// in any order (a backend that shares data between them keeps what is
// shared until the last user goes).
type Driver interface {
	// Name is the backend's name (volume_backend_name), e.g. "local".
	Name() string
	// Create makes an empty volume of v.SizeGiB.
	Create(ctx context.Context, v Volume) error
	// CreateFromImage makes v from img, grown to v.SizeGiB. An image the
	// backend cannot take (disk_format, checksum, content) is ErrBadImage;
	// an image larger than v.SizeGiB is ErrTooSmall.
	CreateFromImage(ctx context.Context, v Volume, img Image) error
	// CreateFromSnapshot makes v from snapshot snapID, grown to v.SizeGiB
	// (ErrTooSmall when the snapshot is larger).
	CreateFromSnapshot(ctx context.Context, v Volume, snapID string) error
	// Clone makes v as a copy of volume srcID, grown to v.SizeGiB
	// (ErrTooSmall when the source is larger). The copy of an attached
	// source is crash-consistent.
	Clone(ctx context.Context, v Volume, srcID string) error
	// Extend grows a detached volume id to newGiB; extending to its size
	// succeeds, a smaller size is ErrTooSmall.
	Extend(ctx context.Context, id string, newGiB int) error
	// Delete removes volume id's data.
	Delete(ctx context.Context, id string) error
	// CreateSnapshot takes a point-in-time copy snapID of volume volID
	// (crash-consistent when the volume is attached); later writes,
	// extends or a delete of the volume do not change it.
	CreateSnapshot(ctx context.Context, volID, snapID string) error
	// DeleteSnapshot removes snapshot snapID.
	DeleteSnapshot(ctx context.Context, snapID string) error
	// Export writes volume id's data to w in format (raw or qcow2), for an
	// upload to the image service.
	Export(ctx context.Context, id, format string, w io.Writer) error
	// Connect returns how host c reaches volume id's data.
	Connect(ctx context.Context, id string, c rpc.Connector) (rpc.ConnectionInfo, error)
	// Disconnect undoes Connect for host c.
	Disconnect(ctx context.Context, id string, c rpc.Connector) error
	// Capacity reports the backend's space.
	Capacity(ctx context.Context) (Capacity, error)
}
