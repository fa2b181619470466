package store

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Attachment is a volume's attachment to an instance (Cinder's
// volume_attachment).
type Attachment struct {
	ID             string `gorm:"primaryKey"`
	VolumeID       string
	ProjectID      string
	InstanceUUID   string
	AttachStatus   string
	AttachMode     string
	AttachedHost   string
	Mountpoint     string
	Connector      JSON `gorm:"type:jsonb"`
	ConnectionInfo JSON `gorm:"type:jsonb"`
	AttachTime     *time.Time
	CreatedAt      time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt      time.Time `gorm:"autoUpdateTime:false"`
}

// TableName implements gorm's tabler.
func (Attachment) TableName() string { return "volume_attachments" }

// CreateAttachment inserts a with fresh timestamps.
func (s *Store) CreateAttachment(ctx context.Context, a *Attachment) error {
	a.CreatedAt, a.UpdatedAt = now(), now()
	if a.AttachMode == "" {
		a.AttachMode = "rw"
	}
	return db.Wrap(s.q(ctx).Create(a).Error, "attachment "+a.ID)
}

// GetAttachment returns one attachment.
func (s *Store) GetAttachment(ctx context.Context, id string) (Attachment, error) {
	return getRow[Attachment](ctx, s, "attachment", id, false)
}

// UpdateAttachment writes the given columns of attachment id.
func (s *Store) UpdateAttachment(ctx context.Context, id string, cols map[string]any) error {
	return updateRow[Attachment](ctx, s, "attachment", id, cols)
}

// DeleteAttachment removes attachment id.
func (s *Store) DeleteAttachment(ctx context.Context, id string) error {
	return deleteRow[Attachment](ctx, s, "attachment", id)
}

// VolumeAttachments lists a volume's attachments, oldest first.
func (s *Store) VolumeAttachments(ctx context.Context, volumeID string) ([]Attachment, error) {
	var out []Attachment
	err := s.q(ctx).Where("volume_id = ?", volumeID).Order("created_at, id").Find(&out).Error
	return out, db.Wrap(err, "attachments of volume "+volumeID)
}

// AttachmentsOf lists the attachments of many volumes, keyed by volume.
func (s *Store) AttachmentsOf(ctx context.Context, volumeIDs []string) (map[string][]Attachment, error) {
	out := map[string][]Attachment{}
	if len(volumeIDs) == 0 {
		return out, nil
	}
	var rows []Attachment
	if err := s.q(ctx).Where("volume_id IN ?", volumeIDs).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, db.Wrap(err, "attachments")
	}
	for _, a := range rows {
		out[a.VolumeID] = append(out[a.VolumeID], a)
	}
	return out, nil
}

// AttachmentFilter selects attachments to list.
type AttachmentFilter struct {
	ProjectID    string
	VolumeID     *string
	InstanceUUID *string
	Status       *string
}

// ListAttachments returns the attachments matching f, newest first.
func (s *Store) ListAttachments(ctx context.Context, f AttachmentFilter) ([]Attachment, error) {
	q := s.q(ctx).Model(&Attachment{})
	if f.ProjectID != "" {
		q = q.Where("project_id = ?", f.ProjectID)
	}
	if f.VolumeID != nil {
		q = q.Where("volume_id = ?", *f.VolumeID)
	}
	if f.InstanceUUID != nil {
		q = q.Where("instance_uuid = ?", *f.InstanceUUID)
	}
	if f.Status != nil {
		q = q.Where("attach_status = ?", *f.Status)
	}
	var out []Attachment
	return out, db.Wrap(q.Order("created_at DESC, id DESC").Find(&out).Error, "list attachments")
}
