package store

import (
	"context"
	"fmt"
)

// Domain is a Keystone domain: a namespace of projects, users, groups and
// domain-specific roles.
type Domain struct {
	ID          string
	Name        string
	Description string
	Enabled     bool
	// Extra holds attributes Keystone does not define; it may be nil.
	Extra map[string]any
}

// DomainFilter selects domains; zero fields match any.
type DomainFilter struct {
	Name    string
	Enabled *bool
}

type domainRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description string
	Enabled     bool
	Extra       map[string]any `gorm:"serializer:json"`
}

func (domainRow) TableName() string { return "domains" }

func toDomainRow(d *Domain) domainRow {
	return domainRow{ID: d.ID, Name: d.Name, Description: d.Description, Enabled: d.Enabled, Extra: d.Extra}
}

func (r domainRow) domain() Domain {
	return Domain{ID: r.ID, Name: r.Name, Description: r.Description, Enabled: r.Enabled, Extra: r.Extra}
}

// CreateDomain inserts d, giving it a new ID if it has none.
func (s *Store) CreateDomain(ctx context.Context, d *Domain) error {
	if d.ID == "" {
		d.ID = NewID()
	}
	row := toDomainRow(d)
	return wrap(s.q(ctx).Create(&row).Error, fmt.Sprintf("domain %q", d.Name))
}

// GetDomain returns the domain with the given ID.
func (s *Store) GetDomain(ctx context.Context, id string) (Domain, error) {
	var row domainRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Domain{}, wrap(err, "domain "+id)
	}
	return row.domain(), nil
}

// GetDomainByName returns the domain with the given name.
func (s *Store) GetDomainByName(ctx context.Context, name string) (Domain, error) {
	var row domainRow
	if err := s.q(ctx).Where("name = ?", name).Take(&row).Error; err != nil {
		return Domain{}, wrap(err, fmt.Sprintf("domain %q", name))
	}
	return row.domain(), nil
}

// UpdateDomain replaces every field of the domain with d's ID.
func (s *Store) UpdateDomain(ctx context.Context, d *Domain) error {
	row := toDomainRow(d)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id").Updates(&row), "domain "+d.ID)
}

// DeleteDomain deletes a domain with everything in it: its projects, users,
// groups, domain-specific roles and the assignments on it.
func (s *Store) DeleteDomain(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&domainRow{}), "domain "+id)
}

// ListDomains returns the domains matching f.
func (s *Store) ListDomains(ctx context.Context, f DomainFilter) ([]Domain, error) {
	q := s.q(ctx).Order("name, id")
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if f.Enabled != nil {
		q = q.Where("enabled = ?", *f.Enabled)
	}
	var rows []domainRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list domains")
	}
	out := make([]Domain, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
