package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Volume statuses, as Cinder names them.
const (
	StatusCreating       = "creating"
	StatusAvailable      = "available"
	StatusReserved       = "reserved"
	StatusAttaching      = "attaching"
	StatusInUse          = "in-use"
	StatusDetaching      = "detaching"
	StatusDeleting       = "deleting"
	StatusExtending      = "extending"
	StatusUploading      = "uploading"
	StatusDownloading    = "downloading"
	StatusError          = "error"
	StatusErrorDeleting  = "error_deleting"
	StatusErrorExtending = "error_extending"
)

// Volume attach statuses (the volume's attach_status).
const (
	AttachDetached = "detached"
	AttachAttached = "attached"
)

// Volume is one volume's record. Nullable attributes are pointers: Cinder
// shows them as null until they are set.
type Volume struct {
	ID               string `gorm:"primaryKey"`
	ProjectID        string
	UserID           string
	Name             *string
	Description      *string
	Size             int
	Status           string
	AttachStatus     string
	VolumeTypeID     string
	AvailabilityZone string
	Bootable         bool
	Multiattach      bool
	Host             string
	SnapshotID       *string
	SourceVolID      *string `gorm:"column:source_volid"`
	ImageID          *string
	ImageMetadata    Meta `gorm:"type:jsonb"`
	Metadata         Meta `gorm:"type:jsonb"`
	NewSize          int
	UploadImageID    string
	Error            string
	LaunchedAt       *time.Time
	CreatedAt        time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt        time.Time `gorm:"autoUpdateTime:false"`
}

// TableName implements gorm's tabler.
func (Volume) TableName() string { return "volumes" }

// CreateVolume inserts v with fresh timestamps.
func (s *Store) CreateVolume(ctx context.Context, v *Volume) error {
	v.CreatedAt, v.UpdatedAt = now(), now()
	if v.Metadata == nil {
		v.Metadata = Meta{}
	}
	if v.ImageMetadata == nil {
		v.ImageMetadata = Meta{}
	}
	if v.AttachStatus == "" {
		v.AttachStatus = AttachDetached
	}
	return db.Wrap(s.q(ctx).Create(v).Error, "volume "+v.ID)
}

// GetVolume returns one volume.
func (s *Store) GetVolume(ctx context.Context, id string) (Volume, error) {
	return getRow[Volume](ctx, s, "volume", id, false)
}

// LockVolume is GetVolume with a row lock, for use inside Tx.
func (s *Store) LockVolume(ctx context.Context, id string) (Volume, error) {
	return getRow[Volume](ctx, s, "volume", id, true)
}

// UpdateVolume writes the given columns of volume id and bumps updated_at.
func (s *Store) UpdateVolume(ctx context.Context, id string, cols map[string]any) error {
	return updateRow[Volume](ctx, s, "volume", id, cols)
}

// SetVolumeStatus moves volume id to status if it is in one of from (any
// status when from is empty) and reports whether it did.
func (s *Store) SetVolumeStatus(ctx context.Context, id, status string, from ...string) (bool, error) {
	return setRowStatus[Volume](ctx, s, "volume", id, status, from)
}

// DeleteVolume removes volume id's row (its attachments go with it).
func (s *Store) DeleteVolume(ctx context.Context, id string) error {
	return deleteRow[Volume](ctx, s, "volume", id)
}

// VolumesOnHost lists the volumes a backend host holds in one of statuses.
func (s *Store) VolumesOnHost(ctx context.Context, host string, statuses ...string) ([]Volume, error) {
	var out []Volume
	err := s.q(ctx).Where("host = ? AND status IN ?", host, statuses).Order("created_at").Find(&out).Error
	return out, db.Wrap(err, "volumes on "+host)
}

// Sort is one sort key and its direction.
type Sort struct {
	Key  string
	Desc bool
}

// VolumeSortKeys are the columns a volume list may sort on.
var VolumeSortKeys = map[string]string{
	"id": "id", "name": "name", "status": "status", "size": "size", "created_at": "created_at",
	"updated_at": "updated_at", "availability_zone": "availability_zone", "bootable": "bootable",
	"project_id": "project_id", "volume_type": "volume_type_id", "description": "description",
}

// VolumeFilter selects volumes to list.
type VolumeFilter struct {
	// ProjectID limits the list to one project; "" lists all.
	ProjectID string
	Name      *string
	Status    *string
	Bootable  *bool
	// Metadata keeps volumes whose metadata holds every pair.
	Metadata map[string]string
	Sort     []Sort
}

// ListVolumes returns the volumes matching f in f.Sort order, then newest
// first, then by ID.
func (s *Store) ListVolumes(ctx context.Context, f VolumeFilter) ([]Volume, error) {
	q := s.q(ctx).Model(&Volume{})
	if f.ProjectID != "" {
		q = q.Where("project_id = ?", f.ProjectID)
	}
	if f.Name != nil {
		q = q.Where("name = ?", *f.Name)
	}
	if f.Status != nil {
		q = q.Where("status = ?", *f.Status)
	}
	if f.Bootable != nil {
		q = q.Where("bootable = ?", *f.Bootable)
	}
	if len(f.Metadata) > 0 {
		q = q.Where("metadata @> ?", Meta(f.Metadata))
	}
	q = q.Order(orderBy(f.Sort, VolumeSortKeys))
	var out []Volume
	return out, db.Wrap(q.Find(&out).Error, "list volumes")
}

// orderBy renders sorts over allowed columns; unknown keys were refused by
// the caller.
func orderBy(sorts []Sort, allowed map[string]string) string {
	var parts []string
	seen := map[string]bool{}
	for _, s := range sorts {
		col, ok := allowed[s.Key]
		if !ok || seen[col] {
			continue
		}
		seen[col] = true
		dir := "ASC"
		if s.Desc {
			dir = "DESC"
		}
		parts = append(parts, fmt.Sprintf("%s %s", col, dir))
	}
	if !seen["created_at"] {
		parts = append(parts, "created_at DESC")
	}
	if !seen["id"] {
		parts = append(parts, "id DESC")
	}
	return strings.Join(parts, ", ")
}

// VolumeHosts lists the backend hosts that hold volumes.
func (s *Store) VolumeHosts(ctx context.Context) ([]string, error) {
	var out []string
	err := s.q(ctx).Model(&Volume{}).Distinct("host").Order("host").Pluck("host", &out).Error
	return out, db.Wrap(err, "volume hosts")
}
