package store

import (
	"context"
	"fmt"
)

// Region is a catalog region, optionally inside a parent region.
type Region struct {
	ID             string
	Description    string
	ParentRegionID string
}

// Service is a catalog service, such as compute or identity.
type Service struct {
	ID          string
	Type        string
	Name        string
	Description string
	Enabled     bool
}

// ServiceFilter selects services; zero fields match any.
type ServiceFilter struct {
	Type string
	Name string
}

// Endpoint is a URL at which a service is reached through one interface,
// optionally in a region.
type Endpoint struct {
	ID        string
	ServiceID string
	// Interface is "public", "internal" or "admin".
	Interface string
	RegionID  string
	URL       string
	Enabled   bool
}

// EndpointFilter selects endpoints; zero fields match any.
type EndpointFilter struct {
	ServiceID string
	Interface string
	RegionID  string
}

type regionRow struct {
	ID             string `gorm:"primaryKey"`
	Description    string
	ParentRegionID *string
}

func (regionRow) TableName() string { return "regions" }

func toRegionRow(r *Region) regionRow {
	return regionRow{ID: r.ID, Description: r.Description, ParentRegionID: nullable(r.ParentRegionID)}
}

func (r regionRow) region() Region {
	return Region{ID: r.ID, Description: r.Description, ParentRegionID: deref(r.ParentRegionID)}
}

// CreateRegion inserts r, giving it a new ID if it has none (Keystone lets
// callers choose region IDs). An unknown parent is ErrNotFound.
func (s *Store) CreateRegion(ctx context.Context, r *Region) error {
	if r.ID == "" {
		r.ID = NewID()
	}
	row := toRegionRow(r)
	return wrap(s.q(ctx).Create(&row).Error, "region "+r.ID)
}

// GetRegion returns the region with the given ID.
func (s *Store) GetRegion(ctx context.Context, id string) (Region, error) {
	var row regionRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Region{}, wrap(err, "region "+id)
	}
	return row.region(), nil
}

// UpdateRegion replaces every field of the region with r's ID. It does not
// check for parent cycles; the caller does.
func (s *Store) UpdateRegion(ctx context.Context, r *Region) error {
	row := toRegionRow(r)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id").Updates(&row), "region "+r.ID)
}

// DeleteRegion deletes a region and its child regions, recursively; a
// region still named by an endpoint is ErrConflict.
func (s *Store) DeleteRegion(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&regionRow{}), "region "+id)
}

// ListRegions returns every region, sorted by ID.
func (s *Store) ListRegions(ctx context.Context) ([]Region, error) {
	var rows []regionRow
	if err := s.q(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list regions")
	}
	out := make([]Region, len(rows))
	for i, r := range rows {
		out[i] = r.region()
	}
	return out, nil
}

type serviceRow struct {
	ID          string `gorm:"primaryKey"`
	Type        string
	Name        string
	Description string
	Enabled     bool
}

func (serviceRow) TableName() string { return "services" }

// CreateService inserts sv, giving it a new ID if it has none.
func (s *Store) CreateService(ctx context.Context, sv *Service) error {
	if sv.ID == "" {
		sv.ID = NewID()
	}
	row := serviceRow(*sv)
	return wrap(s.q(ctx).Create(&row).Error, "service "+sv.ID)
}

// GetService returns the service with the given ID.
func (s *Store) GetService(ctx context.Context, id string) (Service, error) {
	var row serviceRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Service{}, wrap(err, "service "+id)
	}
	return Service(row), nil
}

// UpdateService replaces every field of the service with sv's ID.
func (s *Store) UpdateService(ctx context.Context, sv *Service) error {
	row := serviceRow(*sv)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id").Updates(&row), "service "+sv.ID)
}

// DeleteService deletes a service with its endpoints.
func (s *Store) DeleteService(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&serviceRow{}), "service "+id)
}

// ListServices returns the services matching f.
func (s *Store) ListServices(ctx context.Context, f ServiceFilter) ([]Service, error) {
	q := s.q(ctx).Order("name, id")
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	var rows []serviceRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list services")
	}
	out := make([]Service, len(rows))
	for i, r := range rows {
		out[i] = Service(r)
	}
	return out, nil
}

type endpointRow struct {
	ID        string `gorm:"primaryKey"`
	ServiceID string
	Interface string
	RegionID  *string
	URL       string `gorm:"column:url"`
	Enabled   bool
}

func (endpointRow) TableName() string { return "endpoints" }

func toEndpointRow(e *Endpoint) endpointRow {
	return endpointRow{ID: e.ID, ServiceID: e.ServiceID, Interface: e.Interface,
		RegionID: nullable(e.RegionID), URL: e.URL, Enabled: e.Enabled}
}

func (r endpointRow) endpoint() Endpoint {
	return Endpoint{ID: r.ID, ServiceID: r.ServiceID, Interface: r.Interface,
		RegionID: deref(r.RegionID), URL: r.URL, Enabled: r.Enabled}
}

func validInterface(e *Endpoint) error {
	switch e.Interface {
	case "public", "internal", "admin":
		return nil
	}
	return fmt.Errorf("endpoint %s: interface %q is not public, internal or admin: %w", e.ID, e.Interface, ErrInvalid)
}

// CreateEndpoint inserts e, giving it a new ID if it has none. An unknown
// service or region is ErrNotFound, an unknown interface ErrInvalid.
func (s *Store) CreateEndpoint(ctx context.Context, e *Endpoint) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	if err := validInterface(e); err != nil {
		return err
	}
	row := toEndpointRow(e)
	return wrap(s.q(ctx).Create(&row).Error, "endpoint "+e.ID)
}

// GetEndpoint returns the endpoint with the given ID.
func (s *Store) GetEndpoint(ctx context.Context, id string) (Endpoint, error) {
	var row endpointRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Endpoint{}, wrap(err, "endpoint "+id)
	}
	return row.endpoint(), nil
}

// UpdateEndpoint replaces every field of the endpoint with e's ID.
func (s *Store) UpdateEndpoint(ctx context.Context, e *Endpoint) error {
	if err := validInterface(e); err != nil {
		return err
	}
	row := toEndpointRow(e)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id").Updates(&row), "endpoint "+e.ID)
}

// DeleteEndpoint deletes an endpoint.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&endpointRow{}), "endpoint "+id)
}

// ListEndpoints returns the endpoints matching f, sorted by service,
// interface, region and ID.
func (s *Store) ListEndpoints(ctx context.Context, f EndpointFilter) ([]Endpoint, error) {
	q := s.q(ctx).Order("service_id, interface, region_id NULLS FIRST, id")
	if f.ServiceID != "" {
		q = q.Where("service_id = ?", f.ServiceID)
	}
	if f.Interface != "" {
		q = q.Where("interface = ?", f.Interface)
	}
	if f.RegionID != "" {
		q = q.Where("region_id = ?", f.RegionID)
	}
	var rows []endpointRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list endpoints")
	}
	out := make([]Endpoint, len(rows))
	for i, r := range rows {
		out[i] = r.endpoint()
	}
	return out, nil
}
