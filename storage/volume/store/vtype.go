package store

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// DefaultTypeName is Cinder's default volume type, made by the migration.
const DefaultTypeName = "__DEFAULT__"

// VolumeType is a volume type with its extra specs.
type VolumeType struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description *string
	IsPublic    bool
	ExtraSpecs  Meta      `gorm:"type:jsonb"`
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

// TableName implements gorm's tabler.
func (VolumeType) TableName() string { return "volume_types" }

// CreateType inserts t; a taken name is ErrConflict.
func (s *Store) CreateType(ctx context.Context, t *VolumeType) error {
	t.CreatedAt, t.UpdatedAt = now(), now()
	if t.ExtraSpecs == nil {
		t.ExtraSpecs = Meta{}
	}
	return db.Wrap(s.q(ctx).Create(t).Error, "volume type "+t.Name)
}

// GetType returns a type by ID.
func (s *Store) GetType(ctx context.Context, id string) (VolumeType, error) {
	var t VolumeType
	err := s.q(ctx).Where("id = ?", id).Take(&t).Error
	return t, db.Wrap(err, "volume type "+id)
}

// GetTypeByName returns a type by name.
func (s *Store) GetTypeByName(ctx context.Context, name string) (VolumeType, error) {
	var t VolumeType
	err := s.q(ctx).Where("name = ?", name).Take(&t).Error
	return t, db.Wrap(err, "volume type "+name)
}

// ListTypes returns every type, by name.
func (s *Store) ListTypes(ctx context.Context, publicOnly bool) ([]VolumeType, error) {
	q := s.q(ctx).Model(&VolumeType{})
	if publicOnly {
		q = q.Where("is_public")
	}
	var out []VolumeType
	return out, db.Wrap(q.Order("name").Find(&out).Error, "list volume types")
}

// UpdateType writes the given columns of type id.
func (s *Store) UpdateType(ctx context.Context, id string, cols map[string]any) error {
	cols["updated_at"] = now()
	return db.Affected(s.q(ctx).Model(&VolumeType{}).Where("id = ?", id).Updates(cols), "volume type "+id)
}

// DeleteType removes type id; one still used by a volume is ErrConflict.
func (s *Store) DeleteType(ctx context.Context, id string) error {
	return db.Affected(s.q(ctx).Where("id = ?", id).Delete(&VolumeType{}), "volume type "+id)
}
