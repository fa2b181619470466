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
	return getRow[VolumeType](ctx, s, "volume type", id, false)
}

// GetTypeByName returns a type by name.
func (s *Store) GetTypeByName(ctx context.Context, name string) (VolumeType, error) {
	var t VolumeType
	err := s.q(ctx).Where("name = ?", name).Take(&t).Error
	return t, db.Wrap(err, "volume type "+name)
}

// ListTypes returns the types a project may use (public ones and private
// ones it was given access to), or every type when project is "", by name.
func (s *Store) ListTypes(ctx context.Context, project string) ([]VolumeType, error) {
	q := s.q(ctx).Model(&VolumeType{})
	if project != "" {
		q = q.Where("is_public OR id IN (SELECT volume_type_id FROM volume_type_access WHERE project_id = ?)", project)
	}
	var out []VolumeType
	return out, db.Wrap(q.Order("name").Find(&out).Error, "list volume types")
}

// typeAccess is one project's access to a private type.
type typeAccess struct {
	VolumeTypeID string
	ProjectID    string
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
}

func (typeAccess) TableName() string { return "volume_type_access" }

// AddTypeAccess lets project use private type id; a project that has
// access already is ErrConflict.
func (s *Store) AddTypeAccess(ctx context.Context, id, project string) error {
	return db.Wrap(s.q(ctx).Create(&typeAccess{VolumeTypeID: id, ProjectID: project, CreatedAt: now()}).Error,
		"access of project "+project+" to volume type "+id)
}

// RemoveTypeAccess takes a project's access away; none is ErrNotFound.
func (s *Store) RemoveTypeAccess(ctx context.Context, id, project string) error {
	return db.Affected(s.q(ctx).Where("volume_type_id = ? AND project_id = ?", id, project).Delete(&typeAccess{}),
		"access of project "+project+" to volume type "+id)
}

// TypeAccess lists the projects with access to type id.
func (s *Store) TypeAccess(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := s.q(ctx).Model(&typeAccess{}).Where("volume_type_id = ?", id).Order("project_id").Pluck("project_id", &out).Error
	return out, db.Wrap(err, "access to volume type "+id)
}

// HasTypeAccess reports whether project may use private type id.
func (s *Store) HasTypeAccess(ctx context.Context, id, project string) (bool, error) {
	var n int64
	err := s.q(ctx).Model(&typeAccess{}).Where("volume_type_id = ? AND project_id = ?", id, project).Count(&n).Error
	return n > 0, db.Wrap(err, "access to volume type "+id)
}

// UpdateType writes the given columns of type id.
func (s *Store) UpdateType(ctx context.Context, id string, cols map[string]any) error {
	return updateRow[VolumeType](ctx, s, "volume type", id, cols)
}

// DeleteType removes type id; one still used by a volume is ErrConflict.
func (s *Store) DeleteType(ctx context.Context, id string) error {
	return deleteRow[VolumeType](ctx, s, "volume type", id)
}
