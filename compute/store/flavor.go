package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Flavor is a row of the flavors table: a virtual hardware template.
type Flavor struct {
	// ID is internal; FlavorID is the ID clients see.
	ID          int64  `gorm:"primaryKey"`
	FlavorID    string `gorm:"column:flavorid"`
	Name        string
	MemoryMB    int
	VCPUs       int `gorm:"column:vcpus"`
	RootGB      int
	EphemeralGB int
	Swap        int
	RxTxFactor  float64 `gorm:"column:rxtx_factor"`
	VCPUWeight  *int    `gorm:"column:vcpu_weight"`
	Disabled    bool
	IsPublic    bool
	Description *string
	ExtraSpecs  Specs `gorm:"type:jsonb"`
	CreatedAt   time.Time
	UpdatedAt   *time.Time
}

// TableName implements gorm's tabler.
func (Flavor) TableName() string { return "flavors" }

// FlavorSortKeys maps the sort keys Nova accepts to the columns they order
// by; nullable columns are coalesced so that markers compare.
var FlavorSortKeys = map[string]string{
	"created_at": "created_at", "description": "COALESCE(description, '')", "disabled": "disabled",
	"ephemeral_gb": "ephemeral_gb", "flavorid": "flavorid", "id": "id", "is_public": "is_public",
	"memory_mb": "memory_mb", "name": "name", "root_gb": "root_gb", "rxtx_factor": "rxtx_factor",
	"swap": "swap", "updated_at": "COALESCE(updated_at, created_at)", "vcpu_weight": "COALESCE(vcpu_weight, 0)",
	"vcpus": "vcpus",
}

// Visibility says which flavors a caller may see: Admin sees all; others see
// public flavors and private ones shared with Project.
type Visibility struct {
	Admin   bool
	Project string
}

func (v Visibility) apply(q *gorm.DB) *gorm.DB {
	if v.Admin {
		return q
	}
	return q.Where("(flavors.is_public OR EXISTS (SELECT 1 FROM flavor_projects fp WHERE fp.flavor_id = flavors.id AND fp.project_id = ?))", v.Project)
}

// FlavorFilter selects and orders flavors for a listing.
type FlavorFilter struct {
	// IsPublic nil lists public and private flavors; true lists public ones
	// and private ones shared with Project; false lists private ones only.
	IsPublic *bool
	// Project is the caller's project, for IsPublic true.
	Project string
	// Enabled restricts the listing to flavors that are not disabled.
	Enabled          bool
	MinRAM, MinDisk  int
	SortKey, SortDir string
	// Marker is the FlavorID after which to start; Limit 0 is no limit.
	Marker string
	Limit  int
}

// ListFlavors returns the flavors matching f in its order (flavorid
// ascending by default), the internal id breaking ties.
func (s *Store) ListFlavors(ctx context.Context, f FlavorFilter) ([]Flavor, error) {
	q := s.q(ctx).Model(&Flavor{})
	if f.IsPublic != nil {
		if *f.IsPublic {
			q = q.Where("(flavors.is_public OR EXISTS (SELECT 1 FROM flavor_projects fp WHERE fp.flavor_id = flavors.id AND fp.project_id = ?))", f.Project)
		} else {
			q = q.Where("NOT flavors.is_public")
		}
	}
	if f.Enabled {
		q = q.Where("NOT flavors.disabled")
	}
	if f.MinRAM > 0 {
		q = q.Where("memory_mb >= ?", f.MinRAM)
	}
	if f.MinDisk > 0 {
		q = q.Where("root_gb >= ?", f.MinDisk)
	}
	key, dir := f.SortKey, f.SortDir
	if key == "" {
		key = "flavorid"
	}
	if dir == "" {
		dir = "asc"
	}
	col, ok := FlavorSortKeys[key]
	if !ok {
		return nil, fmt.Errorf("sort key %q: %w", key, ErrInvalid)
	}
	if dir != "asc" && dir != "desc" {
		return nil, fmt.Errorf("sort direction %q: %w", dir, ErrInvalid)
	}
	if f.Marker != "" {
		var m Flavor
		// The marker must be one the listing could have returned.
		mq := s.q(ctx).Model(&Flavor{}).Where("flavorid = ?", f.Marker)
		if f.IsPublic != nil && *f.IsPublic {
			mq = Visibility{Project: f.Project}.apply(mq)
		}
		if err := mq.Take(&m).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil, fmt.Errorf("marker [%s] not found: %w", f.Marker, ErrInvalid)
			}
			return nil, db.Wrap(err, "flavor marker")
		}
		op := ">"
		if dir == "desc" {
			op = "<"
		}
		// Row comparison: (col, id) strictly after the marker's.
		q = q.Where(fmt.Sprintf("(%s, flavors.id) %s (SELECT %s, id FROM flavors WHERE id = ?)", col, op, col), m.ID)
	}
	q = q.Order(col + " " + dir).Order("flavors.id " + dir)
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var out []Flavor
	if err := q.Find(&out).Error; err != nil {
		return nil, db.Wrap(err, "list flavors")
	}
	return out, nil
}

// GetFlavor returns the flavor with the client-visible id, if v may see it.
func (s *Store) GetFlavor(ctx context.Context, flavorID string, v Visibility) (Flavor, error) {
	var f Flavor
	err := v.apply(s.q(ctx).Model(&Flavor{}).Where("flavorid = ?", flavorID)).Take(&f).Error
	return f, db.Wrap(err, "flavor "+flavorID)
}

// ErrFlavorIDExists and ErrFlavorNameExists tell which unique attribute a
// new flavor collides on; both wrap ErrConflict.
var (
	ErrFlavorIDExists   = fmt.Errorf("flavor id exists: %w", ErrConflict)
	ErrFlavorNameExists = fmt.Errorf("flavor name exists: %w", ErrConflict)
)

// CreateFlavor inserts f, failing with ErrFlavorIDExists or
// ErrFlavorNameExists on a collision.
func (s *Store) CreateFlavor(ctx context.Context, f *Flavor) error {
	if f.ExtraSpecs == nil {
		f.ExtraSpecs = Specs{}
	}
	f.CreatedAt = now()
	return s.Tx(ctx, func(tx *Store) error {
		var n int64
		if err := tx.q(ctx).Model(&Flavor{}).Where("flavorid = ?", f.FlavorID).Count(&n).Error; err != nil {
			return db.Wrap(err, "flavor "+f.FlavorID)
		}
		if n > 0 {
			return ErrFlavorIDExists
		}
		if err := tx.q(ctx).Model(&Flavor{}).Where("name = ?", f.Name).Count(&n).Error; err != nil {
			return db.Wrap(err, "flavor "+f.Name)
		}
		if n > 0 {
			return ErrFlavorNameExists
		}
		return db.Wrap(tx.q(ctx).Omit("id").Create(f).Error, "flavor "+f.FlavorID)
	})
}

// EnsureFlavors inserts the flavors that do not exist yet (by id or name)
// and leaves existing ones untouched; it is safe to run at every start.
func (s *Store) EnsureFlavors(ctx context.Context, fs []Flavor) error {
	for i := range fs {
		f := fs[i]
		if f.ExtraSpecs == nil {
			f.ExtraSpecs = Specs{}
		}
		f.CreatedAt = now()
		if err := s.q(ctx).Omit("id").Clauses(clause.OnConflict{DoNothing: true}).Create(&f).Error; err != nil {
			return db.Wrap(err, "flavor "+f.FlavorID)
		}
	}
	return nil
}

// DeleteFlavor removes a flavor and its access list.
func (s *Store) DeleteFlavor(ctx context.Context, flavorID string) error {
	return db.Affected(s.q(ctx).Where("flavorid = ?", flavorID).Delete(&Flavor{}), "flavor "+flavorID)
}

// SetFlavorDescription replaces a flavor's description (nil clears it).
func (s *Store) SetFlavorDescription(ctx context.Context, flavorID string, desc *string) error {
	res := s.q(ctx).Model(&Flavor{}).Where("flavorid = ?", flavorID).
		Updates(map[string]any{"description": desc, "updated_at": now()})
	return db.Affected(res, "flavor "+flavorID)
}

// MergeExtraSpecs adds or replaces extra specs of a flavor.
func (s *Store) MergeExtraSpecs(ctx context.Context, flavorID string, specs Specs) error {
	res := s.q(ctx).Exec(`UPDATE flavors SET extra_specs = extra_specs || ?::jsonb, updated_at = ? WHERE flavorid = ?`,
		specs, now(), flavorID)
	return db.Affected(res, "flavor "+flavorID)
}

// DeleteExtraSpec removes one extra spec, failing with ErrNotFound if the
// flavor does not have it.
func (s *Store) DeleteExtraSpec(ctx context.Context, flavorID, key string) error {
	res := s.q(ctx).Exec(`UPDATE flavors SET extra_specs = extra_specs - ?::text, updated_at = ? WHERE flavorid = ? AND jsonb_exists(extra_specs, ?)`,
		key, now(), flavorID, key)
	return db.Affected(res, "extra spec "+key)
}

// FlavorProjects lists the projects a flavor is shared with, sorted.
func (s *Store) FlavorProjects(ctx context.Context, flavorID string) ([]string, error) {
	var out []string
	err := s.q(ctx).Raw(`SELECT fp.project_id FROM flavor_projects fp JOIN flavors f ON f.id = fp.flavor_id
		WHERE f.flavorid = ? ORDER BY fp.project_id`, flavorID).Scan(&out).Error
	return out, db.Wrap(err, "flavor access of "+flavorID)
}

// AddFlavorProject shares a flavor with a project; ErrConflict if it
// already is.
func (s *Store) AddFlavorProject(ctx context.Context, flavorID, project string) error {
	res := s.q(ctx).Exec(`INSERT INTO flavor_projects (flavor_id, project_id)
		SELECT id, ? FROM flavors WHERE flavorid = ? ON CONFLICT DO NOTHING`, project, flavorID)
	if res.Error != nil {
		return db.Wrap(res.Error, "flavor access")
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("flavor access of %s for %s: %w", flavorID, project, ErrConflict)
	}
	return nil
}

// RemoveFlavorProject stops sharing a flavor with a project; ErrNotFound if
// it was not.
func (s *Store) RemoveFlavorProject(ctx context.Context, flavorID, project string) error {
	res := s.q(ctx).Exec(`DELETE FROM flavor_projects fp USING flavors f
		WHERE f.id = fp.flavor_id AND f.flavorid = ? AND fp.project_id = ?`, flavorID, project)
	return db.Affected(res, "flavor access of "+flavorID+" for "+project)
}
