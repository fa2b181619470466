package store

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Snapshot statuses, as Cinder names them.
const (
	SnapshotCreating      = "creating"
	SnapshotAvailable     = "available"
	SnapshotDeleting      = "deleting"
	SnapshotError         = "error"
	SnapshotErrorDeleting = "error_deleting"
)

// Snapshot is a point-in-time copy of a volume.
type Snapshot struct {
	ID          string `gorm:"primaryKey"`
	ProjectID   string
	UserID      string
	VolumeID    string
	Name        *string
	Description *string
	Size        int
	Status      string
	Metadata    Meta `gorm:"type:jsonb"`
	Error       string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

// TableName implements gorm's tabler.
func (Snapshot) TableName() string { return "snapshots" }

// CreateSnapshot inserts sn with fresh timestamps.
func (s *Store) CreateSnapshot(ctx context.Context, sn *Snapshot) error {
	sn.CreatedAt, sn.UpdatedAt = now(), now()
	if sn.Metadata == nil {
		sn.Metadata = Meta{}
	}
	return db.Wrap(s.q(ctx).Create(sn).Error, "snapshot "+sn.ID)
}

// GetSnapshot returns one snapshot.
func (s *Store) GetSnapshot(ctx context.Context, id string) (Snapshot, error) {
	return getRow[Snapshot](ctx, s, "snapshot", id, false)
}

// LockSnapshot is GetSnapshot with a row lock, for use inside Tx.
func (s *Store) LockSnapshot(ctx context.Context, id string) (Snapshot, error) {
	return getRow[Snapshot](ctx, s, "snapshot", id, true)
}

// UpdateSnapshot writes the given columns of snapshot id.
func (s *Store) UpdateSnapshot(ctx context.Context, id string, cols map[string]any) error {
	return updateRow[Snapshot](ctx, s, "snapshot", id, cols)
}

// SetSnapshotStatus moves snapshot id to status if it is in one of from
// (any when empty) and reports whether it did.
func (s *Store) SetSnapshotStatus(ctx context.Context, id, status string, from ...string) (bool, error) {
	return setRowStatus[Snapshot](ctx, s, "snapshot", id, status, from)
}

// DeleteSnapshot removes snapshot id's row.
func (s *Store) DeleteSnapshot(ctx context.Context, id string) error {
	return deleteRow[Snapshot](ctx, s, "snapshot", id)
}

// CountSnapshots counts the snapshots of a volume.
func (s *Store) CountSnapshots(ctx context.Context, volumeID string) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&Snapshot{}).Where("volume_id = ?", volumeID).Count(&n).Error
	return n, db.Wrap(err, "snapshots of volume "+volumeID)
}

// SnapshotSortKeys are the columns a snapshot list may sort on.
var SnapshotSortKeys = map[string]string{
	"id": "id", "name": "name", "status": "status", "size": "size", "created_at": "created_at",
	"updated_at": "updated_at", "volume_id": "volume_id",
}

// SnapshotFilter selects snapshots to list.
type SnapshotFilter struct {
	ProjectID string
	Name      *string
	Status    *string
	VolumeID  *string
	Sort      []Sort
}

// ListSnapshots returns the snapshots matching f.
func (s *Store) ListSnapshots(ctx context.Context, f SnapshotFilter) ([]Snapshot, error) {
	q := s.q(ctx).Model(&Snapshot{})
	if f.ProjectID != "" {
		q = q.Where("project_id = ?", f.ProjectID)
	}
	if f.Name != nil {
		q = q.Where("name = ?", *f.Name)
	}
	if f.Status != nil {
		q = q.Where("status = ?", *f.Status)
	}
	if f.VolumeID != nil {
		q = q.Where("volume_id = ?", *f.VolumeID)
	}
	var out []Snapshot
	return out, db.Wrap(q.Order(orderBy(f.Sort, SnapshotSortKeys)).Find(&out).Error, "list snapshots")
}

// SnapshotsOnHost lists the snapshots of the volumes of a backend host in
// one of statuses.
func (s *Store) SnapshotsOnHost(ctx context.Context, host string, statuses ...string) ([]Snapshot, error) {
	var out []Snapshot
	err := s.q(ctx).Where("status IN ? AND volume_id IN (SELECT id FROM volumes WHERE host = ?)", statuses, host).
		Order("created_at").Find(&out).Error
	return out, db.Wrap(err, "snapshots on "+host)
}
