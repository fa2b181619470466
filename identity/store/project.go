package store

import (
	"context"
	"fmt"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Project is a Keystone project, owned by a domain and optionally nested
// under a parent project.
type Project struct {
	ID          string
	Name        string
	Description string
	DomainID    string
	// ParentID is "" for a top-level project (whose parent, in Keystone's
	// API, is its domain).
	ParentID string
	Enabled  bool
	IsDomain bool
	Tags     []string
}

// ProjectFilter selects projects; zero fields match any.
type ProjectFilter struct {
	Name     string
	DomainID string
	ParentID string
	Enabled  *bool
	// IDs restricts the list to these projects; nil means no restriction,
	// an empty non-nil slice matches nothing.
	IDs []string
}

type projectRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description string
	DomainID    string
	ParentID    *string
	Enabled     bool
	IsDomain    bool
	Tags        db.TextArray
}

func (projectRow) TableName() string { return "projects" }

func toProjectRow(p *Project) projectRow {
	return projectRow{
		ID: p.ID, Name: p.Name, Description: p.Description, DomainID: p.DomainID,
		ParentID: nullable(p.ParentID), Enabled: p.Enabled, IsDomain: p.IsDomain, Tags: clone(p.Tags),
	}
}

func (r projectRow) project() Project {
	return Project{
		ID: r.ID, Name: r.Name, Description: r.Description, DomainID: r.DomainID,
		ParentID: deref(r.ParentID), Enabled: r.Enabled, IsDomain: r.IsDomain, Tags: clone(r.Tags),
	}
}

// CreateProject inserts p, giving it a new ID if it has none (and non-nil
// Tags, as Get returns). An unknown domain or parent is ErrNotFound.
func (s *Store) CreateProject(ctx context.Context, p *Project) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	p.Tags = clone(p.Tags)
	row := toProjectRow(p)
	return wrap(s.q(ctx).Create(&row).Error, fmt.Sprintf("project %q", p.Name))
}

// GetProject returns the project with the given ID.
func (s *Store) GetProject(ctx context.Context, id string) (Project, error) {
	var row projectRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Project{}, wrap(err, "project "+id)
	}
	return row.project(), nil
}

// GetProjectByName returns the project named name in a domain.
func (s *Store) GetProjectByName(ctx context.Context, domainID, name string) (Project, error) {
	var row projectRow
	if err := s.q(ctx).Where("domain_id = ? AND name = ?", domainID, name).Take(&row).Error; err != nil {
		return Project{}, wrap(err, fmt.Sprintf("project %q in domain %s", name, domainID))
	}
	return row.project(), nil
}

// UpdateProject replaces every field of the project with p's ID.
func (s *Store) UpdateProject(ctx context.Context, p *Project) error {
	row := toProjectRow(p)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id").Updates(&row), "project "+p.ID)
}

// DeleteProject deletes a project with its assignments and application
// credentials. A project with children is ErrConflict.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&projectRow{}), "project "+id)
}

// ListProjects returns the projects matching f.
func (s *Store) ListProjects(ctx context.Context, f ProjectFilter) ([]Project, error) {
	q := s.q(ctx).Order("name, id")
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if f.DomainID != "" {
		q = q.Where("domain_id = ?", f.DomainID)
	}
	if f.ParentID != "" {
		q = q.Where("parent_id = ?", f.ParentID)
	}
	if f.Enabled != nil {
		q = q.Where("enabled = ?", *f.Enabled)
	}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return []Project{}, nil
		}
		q = q.Where("id IN ?", f.IDs)
	}
	var rows []projectRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list projects")
	}
	return projects(rows), nil
}

func projects(rows []projectRow) []Project {
	out := make([]Project, len(rows))
	for i, r := range rows {
		out[i] = r.project()
	}
	return out
}
