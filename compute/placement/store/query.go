package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ProviderFilter selects providers; zero fields do not filter.
type ProviderFilter struct {
	Name string
	UUID string
	// MemberOf: for each entry, the provider must be in at least one of its
	// aggregates (Placement's member_of=in:a,b, repeated).
	MemberOf [][]string
	// Required traits the provider must have; Forbidden ones it must not.
	Required  []string
	Forbidden []string
	// Resources the provider must still have room for, by class.
	Resources map[string]int64
	// Limit caps the result (0: no limit).
	Limit int
}

// ResourceUsage is one class of a provider: its inventory and what all
// consumers use of it.
type ResourceUsage struct {
	Inventory
	Used int64
}

// Candidate is a provider that can take a request, with what it has.
type Candidate struct {
	Provider  Provider
	Resources map[string]ResourceUsage
	Traits    []string
}

// ListProviders returns the providers matching f, sorted by name.
func (s *Store) ListProviders(ctx context.Context, f ProviderFilter) ([]Provider, error) {
	cs, err := s.Candidates(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]Provider, len(cs))
	for i, c := range cs {
		out[i] = c.Provider
	}
	return out, nil
}

// Candidates returns the providers matching f with their resources and
// traits, sorted by name: what a scheduler weighs. Capacity is checked as a
// claim would check it, but without locks; only Claim decides.
func (s *Store) Candidates(ctx context.Context, f ProviderFilter) ([]Candidate, error) {
	for rc, n := range f.Resources {
		if !ValidClass(rc) {
			return nil, fmt.Errorf("resource class %q is neither standard nor CUSTOM_: %w", rc, ErrInvalid)
		}
		if n < 1 {
			return nil, fmt.Errorf("amount of %s must be at least 1, not %d: %w", rc, n, ErrInvalid)
		}
	}
	q := s.q(ctx).Model(&Provider{})
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if f.UUID != "" {
		id, err := checkUUID("resource provider", f.UUID)
		if err != nil {
			return nil, err
		}
		q = q.Where("uuid = ?", id)
	}
	for _, group := range f.MemberOf {
		aggs := make([]string, 0, len(group))
		for _, a := range group {
			id, err := checkUUID("aggregate", a)
			if err != nil {
				return nil, err
			}
			aggs = append(aggs, id)
		}
		q = q.Where("uuid IN (SELECT provider_uuid FROM provider_aggregates WHERE aggregate_uuid IN ?)", aggs)
	}
	for _, t := range f.Required {
		q = q.Where("uuid IN (SELECT provider_uuid FROM provider_traits WHERE trait = ?)", t)
	}
	for _, t := range f.Forbidden {
		q = q.Where("uuid NOT IN (SELECT provider_uuid FROM provider_traits WHERE trait = ?)", t)
	}
	var ps []Provider
	if err := q.Order("name").Find(&ps).Error; err != nil {
		return nil, wrap(err, "list resource providers")
	}
	if len(ps) == 0 {
		return []Candidate{}, nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.UUID
	}
	usage, err := s.usages(ctx, ids)
	if err != nil {
		return nil, err
	}
	traits, err := s.traitsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := []Candidate{}
	for _, p := range ps {
		res := usage[p.UUID]
		if res == nil {
			res = map[string]ResourceUsage{}
		}
		if fitsAll(p, res, f.Resources) != nil {
			continue
		}
		t := traits[p.UUID]
		if t == nil {
			t = []string{}
		}
		out = append(out, Candidate{Provider: p, Resources: res, Traits: t})
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// fitsAll checks every requested class against a provider, in sorted order.
func fitsAll(p Provider, res map[string]ResourceUsage, req map[string]int64) *CapacityError {
	for _, rc := range sortedKeys(req) {
		u, ok := res[rc]
		if err := fits(p, rc, u.Inventory, ok, u.Used, req[rc]); err != nil {
			return err
		}
	}
	return nil
}

// fits is the capacity rule: the amount respects the inventory's units and
// used + amount <= (total - reserved) * allocation_ratio.
func fits(p Provider, rc string, inv Inventory, ok bool, used, amount int64) *CapacityError {
	e := &CapacityError{ProviderID: p.UUID, ProviderName: p.Name, ResourceClass: rc, Requested: amount, Used: used}
	if !ok {
		e.Reason = "the provider has no inventory of " + rc
		return e
	}
	e.Total, e.Reserved, e.AllocationRatio, e.Capacity = inv.Total, inv.Reserved, inv.AllocationRatio, inv.Capacity()
	switch {
	case amount < inv.MinUnit:
		e.Reason = fmt.Sprintf("below min_unit %d", inv.MinUnit)
	case amount > inv.MaxUnit:
		e.Reason = fmt.Sprintf("above max_unit %d", inv.MaxUnit)
	case amount%inv.StepSize != 0:
		e.Reason = fmt.Sprintf("not a multiple of step_size %d", inv.StepSize)
	case float64(used+amount) > float64(inv.Total-inv.Reserved)*inv.AllocationRatio:
	default:
		return nil
	}
	return e
}

// usages returns, per provider, each inventory with what is allocated of it.
func (s *Store) usages(ctx context.Context, ids []string) (map[string]map[string]ResourceUsage, error) {
	var rows []ResourceUsage
	err := s.q(ctx).Raw(`SELECT i.*, COALESCE(a.used, 0) AS used
		FROM inventories i
		LEFT JOIN (SELECT provider_uuid, resource_class, SUM(used) AS used FROM allocations
		           WHERE provider_uuid IN ? GROUP BY provider_uuid, resource_class) a
		USING (provider_uuid, resource_class)
		WHERE i.provider_uuid IN ?`, ids, ids).Scan(&rows).Error
	if err != nil {
		return nil, wrap(err, "usages")
	}
	out := map[string]map[string]ResourceUsage{}
	for _, r := range rows {
		if out[r.ProviderUUID] == nil {
			out[r.ProviderUUID] = map[string]ResourceUsage{}
		}
		out[r.ProviderUUID][r.ResourceClass] = r
	}
	return out, nil
}

func (s *Store) traitsOf(ctx context.Context, ids []string) (map[string][]string, error) {
	var rows []struct{ ProviderUUID, Trait string }
	err := s.q(ctx).Raw(`SELECT provider_uuid, trait FROM provider_traits WHERE provider_uuid IN ? ORDER BY trait`, ids).Scan(&rows).Error
	if err != nil {
		return nil, wrap(err, "traits")
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[r.ProviderUUID] = append(out[r.ProviderUUID], r.Trait)
	}
	return out, nil
}

// Usages returns what is allocated of each resource class a provider has
// inventory of (0 for classes nobody uses).
func (s *Store) Usages(ctx context.Context, providerID string) (map[string]int64, error) {
	p, err := s.GetProvider(ctx, providerID)
	if err != nil {
		return nil, err
	}
	u, err := s.usages(ctx, []string{p.UUID})
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for rc, r := range u[p.UUID] {
		out[rc] = r.Used
	}
	return out, nil
}

// Resources returns a provider's inventories with their usage.
func (s *Store) Resources(ctx context.Context, providerID string) (map[string]ResourceUsage, error) {
	p, err := s.GetProvider(ctx, providerID)
	if err != nil {
		return nil, err
	}
	u, err := s.usages(ctx, []string{p.UUID})
	if err != nil {
		return nil, err
	}
	if u[p.UUID] == nil {
		return map[string]ResourceUsage{}, nil
	}
	return u[p.UUID], nil
}

// ProviderAllocations returns the allocations against a provider:
// consumer uuid → resource class → amount.
func (s *Store) ProviderAllocations(ctx context.Context, providerID string) (map[string]map[string]int64, error) {
	p, err := s.GetProvider(ctx, providerID)
	if err != nil {
		return nil, err
	}
	var rows []Allocation
	if err := s.q(ctx).Where("provider_uuid = ?", p.UUID).Find(&rows).Error; err != nil {
		return nil, wrap(err, "allocations of "+providerID)
	}
	out := map[string]map[string]int64{}
	for _, a := range rows {
		if out[a.ConsumerUUID] == nil {
			out[a.ConsumerUUID] = map[string]int64{}
		}
		out[a.ConsumerUUID][a.ResourceClass] = a.Used
	}
	return out, nil
}

// Consumer is what holds allocations: a server, or a migration holding the
// source resources of a resize.
type Consumer struct {
	UUID       string `gorm:"column:uuid;primaryKey"`
	ProjectID  string
	UserID     string
	Generation int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TableName implements gorm's tabler.
func (Consumer) TableName() string { return "consumers" }

// Allocation is an amount of one class a consumer holds on one provider.
type Allocation struct {
	ConsumerUUID  string `gorm:"column:consumer_uuid;primaryKey"`
	ProviderUUID  string `gorm:"column:provider_uuid;primaryKey"`
	ResourceClass string `gorm:"primaryKey"`
	Used          int64
	CreatedAt     time.Time
	// ProviderGeneration is filled by ConsumerAllocations only.
	ProviderGeneration int64 `gorm:"->;-:migration"`
}

// TableName implements gorm's tabler.
func (Allocation) TableName() string { return "allocations" }

// ConsumerAllocations returns a consumer and its allocations, sorted by
// provider and class; an unknown consumer is ErrNotFound.
func (s *Store) ConsumerAllocations(ctx context.Context, consumerID string) (Consumer, []Allocation, error) {
	var c Consumer
	id, err := checkUUID("consumer", consumerID)
	if err != nil {
		return c, nil, fmt.Errorf("consumer %s: %w", consumerID, ErrNotFound)
	}
	if err := s.q(ctx).Where("uuid = ?", id).Take(&c).Error; err != nil {
		return c, nil, wrap(err, "consumer "+consumerID)
	}
	var rows []Allocation
	err = s.q(ctx).Raw(`SELECT a.*, p.generation AS provider_generation
		FROM allocations a JOIN resource_providers p ON p.uuid = a.provider_uuid
		WHERE a.consumer_uuid = ? ORDER BY a.provider_uuid, a.resource_class`, id).Scan(&rows).Error
	return c, rows, wrap(err, "allocations of consumer "+consumerID)
}

// ProjectUsages returns what a project's consumers (only the user's, if
// userID is set) hold in all, by class, and how many consumers there are.
func (s *Store) ProjectUsages(ctx context.Context, projectID, userID string) (map[string]int64, int64, error) {
	scope := func(q *gorm.DB) *gorm.DB {
		q = q.Where("c.project_id = ?", projectID)
		if userID != "" {
			q = q.Where("c.user_id = ?", userID)
		}
		return q
	}
	var rows []struct {
		ResourceClass string
		Used          int64
	}
	err := scope(s.q(ctx).Table("allocations a").Joins("JOIN consumers c ON c.uuid = a.consumer_uuid")).
		Select("a.resource_class, SUM(a.used) AS used").Group("a.resource_class").Scan(&rows).Error
	if err != nil {
		return nil, 0, wrap(err, "usages of project "+projectID)
	}
	var n int64
	if err := scope(s.q(ctx).Table("consumers c")).Count(&n).Error; err != nil {
		return nil, 0, wrap(err, "consumers of project "+projectID)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.ResourceClass] = r.Used
	}
	return out, n, nil
}
