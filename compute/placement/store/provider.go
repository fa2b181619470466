package store

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"time"

	"gorm.io/gorm/clause"
)

// Provider is a resource provider: one per compute host.
type Provider struct {
	UUID       string `gorm:"column:uuid;primaryKey"`
	Name       string
	Generation int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TableName implements gorm's tabler.
func (Provider) TableName() string { return "resource_providers" }

// Inventory is how much of one resource class a provider offers.
type Inventory struct {
	ProviderUUID    string `gorm:"column:provider_uuid;primaryKey"`
	ResourceClass   string `gorm:"primaryKey"`
	Total           int64
	Reserved        int64
	MinUnit         int64
	MaxUnit         int64
	StepSize        int64
	AllocationRatio float64
}

// TableName implements gorm's tabler.
func (Inventory) TableName() string { return "inventories" }

// Capacity is what may be allocated in all: (total - reserved) *
// allocation_ratio, rounded down.
func (i Inventory) Capacity() int64 {
	return int64(math.Floor(float64(i.Total-i.Reserved) * i.AllocationRatio))
}

// withDefaults fills Placement's defaults for zero fields.
func (i Inventory) withDefaults() Inventory {
	if i.MinUnit == 0 {
		i.MinUnit = 1
	}
	if i.MaxUnit == 0 {
		i.MaxUnit = MaxUnit
	}
	if i.StepSize == 0 {
		i.StepSize = 1
	}
	if i.AllocationRatio == 0 {
		i.AllocationRatio = 1
	}
	return i
}

func (i Inventory) validate() error {
	switch {
	case !ValidClass(i.ResourceClass):
		return fmt.Errorf("resource class %q is neither standard nor CUSTOM_: %w", i.ResourceClass, ErrInvalid)
	case i.Total < 1:
		return fmt.Errorf("inventory %s: total %d must be at least 1: %w", i.ResourceClass, i.Total, ErrInvalid)
	case i.Reserved < 0 || i.Reserved > i.Total:
		return fmt.Errorf("inventory %s: reserved %d must be between 0 and total %d: %w", i.ResourceClass, i.Reserved, i.Total, ErrInvalid)
	case i.MinUnit < 1 || i.MaxUnit < i.MinUnit || i.StepSize < 1:
		return fmt.Errorf("inventory %s: need 1 <= min_unit (%d) <= max_unit (%d) and step_size (%d) >= 1: %w",
			i.ResourceClass, i.MinUnit, i.MaxUnit, i.StepSize, ErrInvalid)
	case !(i.AllocationRatio > 0) || math.IsInf(i.AllocationRatio, 0):
		return fmt.Errorf("inventory %s: allocation_ratio %g must be positive: %w", i.ResourceClass, i.AllocationRatio, ErrInvalid)
	}
	return nil
}

// CreateProvider adds a provider; an empty UUID gets a new one. The name
// must be unique.
func (s *Store) CreateProvider(ctx context.Context, p *Provider) error {
	if p.UUID == "" {
		p.UUID = NewUUID()
	}
	id, err := checkUUID("resource provider", p.UUID)
	if err != nil {
		return err
	}
	if err := checkName(p.Name); err != nil {
		return err
	}
	p.UUID, p.Generation = id, 0
	p.CreatedAt, p.UpdatedAt = now(), now()
	return wrap(s.q(ctx).Create(p).Error, "resource provider "+p.Name)
}

var namePattern = regexp.MustCompile(`^[^\x00-\x1f]{1,200}$`)

func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("resource provider name %q must be 1 to 200 printable characters: %w", name, ErrInvalid)
	}
	return nil
}

// GetProvider returns a provider by uuid.
func (s *Store) GetProvider(ctx context.Context, id string) (Provider, error) {
	var p Provider
	cid, err := checkUUID("resource provider", id)
	if err != nil {
		return p, fmt.Errorf("resource provider %s: %w", id, ErrNotFound)
	}
	err = s.q(ctx).Where("uuid = ?", cid).Take(&p).Error
	return p, wrap(err, "resource provider "+id)
}

// GetProviderByName returns a provider by its unique name.
func (s *Store) GetProviderByName(ctx context.Context, name string) (Provider, error) {
	var p Provider
	err := s.q(ctx).Where("name = ?", name).Take(&p).Error
	return p, wrap(err, "resource provider "+name)
}

// DeleteProvider removes a provider with its inventories, aggregates and
// traits; it is refused with ErrConflict while allocations refer to it.
func (s *Store) DeleteProvider(ctx context.Context, id string) error {
	return s.run(ctx, func(tx *Store) error {
		p, err := tx.lockProviders(ctx, []string{id})
		if err != nil {
			return err
		}
		res := tx.q(ctx).Exec(`DELETE FROM resource_providers WHERE uuid = ?`, p[0].UUID)
		return wrap(res.Error, "resource provider "+p[0].Name)
	})
}

// lockProviders takes the rows of the given providers, in uuid order, until
// the transaction ends; any missing one is ErrNotFound. The result is in
// uuid order.
func (s *Store) lockProviders(ctx context.Context, ids []string) ([]Provider, error) {
	want := make([]string, 0, len(ids))
	for _, id := range ids {
		cid, err := checkUUID("resource provider", id)
		if err != nil {
			return nil, fmt.Errorf("resource provider %s: %w", id, ErrNotFound)
		}
		want = append(want, cid)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	var ps []Provider
	err := forUpdate(s.q(ctx)).Where("uuid IN ?", want).Order("uuid").Find(&ps).Error
	if err != nil {
		return nil, wrap(err, "lock resource providers")
	}
	if len(ps) != len(want) {
		for _, id := range want {
			if !slices.ContainsFunc(ps, func(p Provider) bool { return p.UUID == id }) {
				return nil, fmt.Errorf("resource provider %s: %w", id, ErrNotFound)
			}
		}
	}
	return ps, nil
}

// bump increments the generation of the given providers, which the caller
// has locked.
func (s *Store) bump(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.q(ctx).Exec(`UPDATE resource_providers SET generation = generation + 1, updated_at = ? WHERE uuid IN ?`, now(), ids).Error
	return wrap(err, "bump resource provider generation")
}

// Inventories returns a provider's inventories by resource class.
func (s *Store) Inventories(ctx context.Context, providerID string) (map[string]Inventory, error) {
	p, err := s.GetProvider(ctx, providerID)
	if err != nil {
		return nil, err
	}
	return s.inventories(ctx, p.UUID)
}

func (s *Store) inventories(ctx context.Context, providerID string) (map[string]Inventory, error) {
	var rows []Inventory
	if err := s.q(ctx).Where("provider_uuid = ?", providerID).Find(&rows).Error; err != nil {
		return nil, wrap(err, "inventories of "+providerID)
	}
	out := make(map[string]Inventory, len(rows))
	for _, r := range rows {
		out[r.ResourceClass] = r
	}
	return out, nil
}

// SetInventories replaces a provider's inventories with invs (keyed by
// resource class; zero fields get Placement's defaults) and bumps its
// generation if anything changed. Removing a class that allocations still
// use is ErrConflict; shrinking one below its usage is allowed (the
// provider is then overcommitted until allocations are released), as in
// Placement.
func (s *Store) SetInventories(ctx context.Context, providerID string, invs map[string]Inventory) error {
	return s.run(ctx, func(tx *Store) error {
		ps, err := tx.lockProviders(ctx, []string{providerID})
		if err != nil {
			return err
		}
		return tx.replaceInventories(ctx, ps[0], invs)
	})
}

func (s *Store) replaceInventories(ctx context.Context, p Provider, invs map[string]Inventory) error {
	want := make(map[string]Inventory, len(invs))
	for rc, inv := range invs {
		inv.ResourceClass, inv.ProviderUUID = rc, p.UUID
		inv = inv.withDefaults()
		if err := inv.validate(); err != nil {
			return err
		}
		want[rc] = inv
	}
	have, err := s.inventories(ctx, p.UUID)
	if err != nil {
		return err
	}
	changed := false
	var gone []string
	for rc := range have {
		if _, ok := want[rc]; !ok {
			gone = append(gone, rc)
		}
	}
	if len(gone) > 0 {
		var inUse []string
		err := s.q(ctx).Raw(`SELECT DISTINCT resource_class FROM allocations WHERE provider_uuid = ? AND resource_class IN ? ORDER BY 1`,
			p.UUID, gone).Scan(&inUse).Error
		if err != nil {
			return wrap(err, "inventories of "+p.Name)
		}
		if len(inUse) > 0 {
			return fmt.Errorf("resource provider %s: inventory of %v still has allocations: %w", p.Name, inUse, ErrConflict)
		}
		if err := s.q(ctx).Exec(`DELETE FROM inventories WHERE provider_uuid = ? AND resource_class IN ?`, p.UUID, gone).Error; err != nil {
			return wrap(err, "inventories of "+p.Name)
		}
		changed = true
	}
	var upsert []Inventory
	for _, rc := range sortedKeys(want) {
		if old, ok := have[rc]; !ok || old != want[rc] {
			upsert = append(upsert, want[rc])
		}
	}
	if len(upsert) > 0 {
		err := s.q(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "provider_uuid"}, {Name: "resource_class"}},
			DoUpdates: clause.AssignmentColumns([]string{"total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio"}),
		}).Create(&upsert).Error
		if err != nil {
			return wrap(err, "inventories of "+p.Name)
		}
		changed = true
	}
	if changed {
		return s.bump(ctx, p.UUID)
	}
	return nil
}

// EnsureProvider is what a compute agent calls at start: it creates the
// provider named name if there is none, sets its inventories to invs (see
// SetInventories) and keeps its allocations. It returns the provider as it
// now is.
func (s *Store) EnsureProvider(ctx context.Context, name string, invs map[string]Inventory) (Provider, error) {
	if err := checkName(name); err != nil {
		return Provider{}, err
	}
	var out Provider
	err := s.run(ctx, func(tx *Store) error {
		// ON CONFLICT DO NOTHING makes two agents racing to create the
		// same provider end with one row; the locking read then sees it.
		t := now()
		err := tx.q(ctx).Exec(`INSERT INTO resource_providers (uuid, name, generation, created_at, updated_at)
			VALUES (?, ?, 0, ?, ?) ON CONFLICT (name) DO NOTHING`, NewUUID(), name, t, t).Error
		if err != nil {
			return wrap(err, "resource provider "+name)
		}
		var p Provider
		if err := forUpdate(tx.q(ctx)).Where("name = ?", name).Take(&p).Error; err != nil {
			return wrap(err, "resource provider "+name)
		}
		if err := tx.replaceInventories(ctx, p, invs); err != nil {
			return err
		}
		return wrap(tx.q(ctx).Where("uuid = ?", p.UUID).Take(&out).Error, "resource provider "+name)
	})
	return out, err
}

var traitPattern = regexp.MustCompile(`^[A-Z0-9_]{1,255}$`)

// SetTraits replaces a provider's traits and bumps its generation.
func (s *Store) SetTraits(ctx context.Context, providerID string, traits []string) error {
	for _, t := range traits {
		if !traitPattern.MatchString(t) {
			return fmt.Errorf("trait %q: %w", t, ErrInvalid)
		}
	}
	return s.run(ctx, func(tx *Store) error {
		ps, err := tx.lockProviders(ctx, []string{providerID})
		if err != nil {
			return err
		}
		id := ps[0].UUID
		if err := tx.q(ctx).Exec(`DELETE FROM provider_traits WHERE provider_uuid = ?`, id).Error; err != nil {
			return wrap(err, "traits of "+id)
		}
		for _, t := range uniqueSorted(traits) {
			if err := tx.q(ctx).Exec(`INSERT INTO provider_traits (provider_uuid, trait) VALUES (?, ?)`, id, t).Error; err != nil {
				return wrap(err, "traits of "+id)
			}
		}
		return tx.bump(ctx, id)
	})
}

// Traits returns a provider's traits, sorted.
func (s *Store) Traits(ctx context.Context, providerID string) ([]string, error) {
	p, err := s.GetProvider(ctx, providerID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	err = s.q(ctx).Raw(`SELECT trait FROM provider_traits WHERE provider_uuid = ? ORDER BY trait`, p.UUID).Scan(&out).Error
	return out, wrap(err, "traits of "+providerID)
}

// SetAggregates replaces the aggregates (uuids) a provider is a member of
// and bumps its generation.
func (s *Store) SetAggregates(ctx context.Context, providerID string, aggregates []string) error {
	aggs := make([]string, 0, len(aggregates))
	for _, a := range aggregates {
		id, err := checkUUID("aggregate", a)
		if err != nil {
			return err
		}
		aggs = append(aggs, id)
	}
	return s.run(ctx, func(tx *Store) error {
		ps, err := tx.lockProviders(ctx, []string{providerID})
		if err != nil {
			return err
		}
		id := ps[0].UUID
		if err := tx.q(ctx).Exec(`DELETE FROM provider_aggregates WHERE provider_uuid = ?`, id).Error; err != nil {
			return wrap(err, "aggregates of "+id)
		}
		for _, a := range uniqueSorted(aggs) {
			if err := tx.q(ctx).Exec(`INSERT INTO provider_aggregates (provider_uuid, aggregate_uuid) VALUES (?, ?)`, id, a).Error; err != nil {
				return wrap(err, "aggregates of "+id)
			}
		}
		return tx.bump(ctx, id)
	})
}

// Aggregates returns the aggregates a provider is a member of, sorted.
func (s *Store) Aggregates(ctx context.Context, providerID string) ([]string, error) {
	p, err := s.GetProvider(ctx, providerID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	err = s.q(ctx).Raw(`SELECT aggregate_uuid::text FROM provider_aggregates WHERE provider_uuid = ? ORDER BY 1`, p.UUID).Scan(&out).Error
	return out, wrap(err, "aggregates of "+providerID)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func uniqueSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
