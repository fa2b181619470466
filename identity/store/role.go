package store

import (
	"context"
	"fmt"
)

// Role is a Keystone role; global unless DomainID is set.
type Role struct {
	ID          string
	Name        string
	Description string
	// DomainID is "" for a global role.
	DomainID string
}

// RoleFilter selects roles; zero fields match any.
type RoleFilter struct {
	Name     string
	DomainID string
	// GlobalOnly restricts the list to global roles (what Keystone lists
	// when no domain_id is given); it is ignored when DomainID is set.
	GlobalOnly bool
}

// ImpliedRole says that holding PriorRoleID also grants ImpliedRoleID.
type ImpliedRole struct {
	PriorRoleID   string
	ImpliedRoleID string
}

type roleRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description string
	DomainID    *string
}

func (roleRow) TableName() string { return "roles" }

func toRoleRow(r *Role) roleRow {
	return roleRow{ID: r.ID, Name: r.Name, Description: r.Description, DomainID: nullable(r.DomainID)}
}

func (r roleRow) role() Role {
	return Role{ID: r.ID, Name: r.Name, Description: r.Description, DomainID: deref(r.DomainID)}
}

// CreateRole inserts r, giving it a new ID if it has none. Global role
// names are unique, and domain-specific ones within their domain.
func (s *Store) CreateRole(ctx context.Context, r *Role) error {
	if r.ID == "" {
		r.ID = NewID()
	}
	row := toRoleRow(r)
	return wrap(s.q(ctx).Create(&row).Error, fmt.Sprintf("role %q", r.Name))
}

// GetRole returns the role with the given ID.
func (s *Store) GetRole(ctx context.Context, id string) (Role, error) {
	var row roleRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Role{}, wrap(err, "role "+id)
	}
	return row.role(), nil
}

// GetRoleByName returns the global role named name.
func (s *Store) GetRoleByName(ctx context.Context, name string) (Role, error) {
	var row roleRow
	if err := s.q(ctx).Where("domain_id IS NULL AND name = ?", name).Take(&row).Error; err != nil {
		return Role{}, wrap(err, fmt.Sprintf("role %q", name))
	}
	return row.role(), nil
}

// UpdateRole replaces every field of the role with r's ID.
func (s *Store) UpdateRole(ctx context.Context, r *Role) error {
	row := toRoleRow(r)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id").Updates(&row), "role "+r.ID)
}

// DeleteRole deletes a role with its assignments and implications.
func (s *Store) DeleteRole(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&roleRow{}), "role "+id)
}

// ListRoles returns the roles matching f.
func (s *Store) ListRoles(ctx context.Context, f RoleFilter) ([]Role, error) {
	q := s.q(ctx).Order("name, id")
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	switch {
	case f.DomainID != "":
		q = q.Where("domain_id = ?", f.DomainID)
	case f.GlobalOnly:
		q = q.Where("domain_id IS NULL")
	}
	var rows []roleRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list roles")
	}
	out := make([]Role, len(rows))
	for i, r := range rows {
		out[i] = r.role()
	}
	return out, nil
}

type impliedRoleRow struct {
	PriorRoleID   string `gorm:"primaryKey"`
	ImpliedRoleID string `gorm:"primaryKey"`
}

func (impliedRoleRow) TableName() string { return "implied_roles" }

// CreateImpliedRole records that prior implies implied. An existing rule is
// ErrConflict, an unknown role ErrNotFound, a role implying itself
// ErrInvalid. Longer cycles are not rejected here; EffectiveRoleIDs
// tolerates them.
func (s *Store) CreateImpliedRole(ctx context.Context, prior, implied string) error {
	row := impliedRoleRow{PriorRoleID: prior, ImpliedRoleID: implied}
	return wrap(s.q(ctx).Create(&row).Error, fmt.Sprintf("role %s implies %s", prior, implied))
}

// DeleteImpliedRole removes the rule that prior implies implied.
func (s *Store) DeleteImpliedRole(ctx context.Context, prior, implied string) error {
	res := s.q(ctx).Where("prior_role_id = ? AND implied_role_id = ?", prior, implied).Delete(&impliedRoleRow{})
	return affected(res, fmt.Sprintf("role %s implies %s", prior, implied))
}

// ListImpliedRoles returns every implication rule, sorted by prior then
// implied role ID.
func (s *Store) ListImpliedRoles(ctx context.Context) ([]ImpliedRole, error) {
	var rows []impliedRoleRow
	if err := s.q(ctx).Order("prior_role_id, implied_role_id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list implied roles")
	}
	out := make([]ImpliedRole, len(rows))
	for i, r := range rows {
		out[i] = ImpliedRole(r)
	}
	return out, nil
}
