package quota

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"gorm.io/gorm"
)

// Unlimited is the limit that never refuses.
const Unlimited int64 = -1

// Defaults maps each resource to the limit a project gets without an override.
type Defaults map[string]int64

// Validate checks that every resource is named and every limit is -1 or more, so services can reject bad configuration before Register panics on it.
func (d Defaults) Validate() error {
	for _, r := range slices.Sorted(maps.Keys(d)) {
		if r == "" {
			return fmt.Errorf("%w: empty resource name", ErrInvalidLimit)
		}
		if d[r] < Unlimited {
			return fmt.Errorf("%w: %s = %d (want -1 for unlimited, or 0 and up)", ErrInvalidLimit, r, d[r])
		}
	}
	return nil
}

// Usage is one resource's limit and accounting for a project.
type Usage struct {
	Limit    int64 // -1 is unlimited
	InUse    int64 // consumed by committed resources
	Reserved int64 // held by open reservations
}

// Engine enforces quotas on one database; it is safe for concurrent use.
type Engine struct {
	db *gorm.DB

	mu       sync.RWMutex
	defaults Defaults
}

// New returns an Engine on db with the given default limits (which may be nil); it panics on invalid defaults, see Register.
func New(db *gorm.DB, defaults Defaults) *Engine {
	e := &Engine{db: db, defaults: Defaults{}}
	e.Register(defaults)
	return e
}

// Register adds a service's default limits, replacing any earlier default for the same resource; it panics if Defaults.Validate fails, as defaults are fixed at start.
func (e *Engine) Register(defaults Defaults) {
	if err := defaults.Validate(); err != nil {
		panic("quota: Register: " + err.Error())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	maps.Copy(e.defaults, defaults)
}

// Limits returns the project's effective limits: the defaults overlaid with its overrides.
func (e *Engine) Limits(ctx context.Context, projectID string) (map[string]int64, error) {
	if err := checkProject(projectID); err != nil {
		return nil, err
	}
	return e.limits(e.db.WithContext(ctx), projectID)
}

// SetLimit overrides one resource's limit for a project; a limit below what the project uses and reserves is refused with ErrBelowUsage unless force is set.
func (e *Engine) SetLimit(ctx context.Context, projectID, resource string, limit int64, force bool) error {
	if err := checkProject(projectID); err != nil {
		return err
	}
	if limit < Unlimited {
		return fmt.Errorf("%w: %s = %d (want -1 for unlimited, or 0 and up)", ErrInvalidLimit, resource, limit)
	}
	return e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Resolving the current limit also rejects typos in resource names.
		if _, err := e.limitsFor(tx, projectID, []string{resource}); err != nil {
			return err
		}
		// Holding the usage row makes the check and the new limit atomic
		// with respect to Consume, which reads limits after taking it.
		rows, err := lockUsages(tx, projectID, []string{resource})
		if err != nil {
			return err
		}
		u := rows[resource]
		if !force && limit != Unlimited && limit < u.InUse+u.Reserved {
			return fmt.Errorf("%w: %s limit %d < in use %d + reserved %d", ErrBelowUsage, resource, limit, u.InUse, u.Reserved)
		}
		err = tx.Exec(`INSERT INTO quota_limits (project_id, resource, hard_limit) VALUES (?, ?, ?)
			ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = EXCLUDED.hard_limit`,
			projectID, resource, limit).Error
		if err != nil {
			return fmt.Errorf("quota: set limit %s for %s: %w", resource, projectID, err)
		}
		return nil
	})
}

// DeleteLimits removes all of a project's overrides, putting it back on the defaults; its usage is kept.
func (e *Engine) DeleteLimits(ctx context.Context, projectID string) error {
	if err := checkProject(projectID); err != nil {
		return err
	}
	if err := e.db.WithContext(ctx).Exec(`DELETE FROM quota_limits WHERE project_id = ?`, projectID).Error; err != nil {
		return fmt.Errorf("quota: delete limits of %s: %w", projectID, err)
	}
	return nil
}

// Usage returns, for every resource with a limit, the project's limit, in-use and reserved amounts.
func (e *Engine) Usage(ctx context.Context, projectID string) (map[string]Usage, error) {
	if err := checkProject(projectID); err != nil {
		return nil, err
	}
	db := e.db.WithContext(ctx)
	limits, err := e.limits(db, projectID)
	if err != nil {
		return nil, err
	}
	var rows []usageRow
	err = db.Raw(`SELECT resource, in_use, reserved FROM quota_usages WHERE project_id = ?`, projectID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("quota: usage of %s: %w", projectID, err)
	}
	out := make(map[string]Usage, len(limits))
	for r, l := range limits {
		out[r] = Usage{Limit: l}
	}
	for _, row := range rows {
		// A resource nobody registers any more has no limit to report it
		// against; it reappears when its service registers again.
		if u, ok := out[row.Resource]; ok {
			u.InUse, u.Reserved = row.InUse, row.Reserved
			out[row.Resource] = u
		}
	}
	return out, nil
}

// limits returns the defaults overlaid with the project's overrides.
func (e *Engine) limits(db *gorm.DB, projectID string) (map[string]int64, error) {
	var rows []limitRow
	err := db.Raw(`SELECT resource, hard_limit FROM quota_limits WHERE project_id = ?`, projectID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("quota: limits of %s: %w", projectID, err)
	}
	e.mu.RLock()
	out := maps.Clone(map[string]int64(e.defaults))
	e.mu.RUnlock()
	for _, r := range rows {
		out[r.Resource] = r.HardLimit
	}
	return out, nil
}

// limitsFor returns the project's limits for the given resources, failing
// with ErrUnknownResource for one with neither a default nor an override.
func (e *Engine) limitsFor(tx *gorm.DB, projectID string, resources []string) (map[string]int64, error) {
	var rows []limitRow
	err := tx.Raw(`SELECT resource, hard_limit FROM quota_limits WHERE project_id = ? AND resource IN ?`,
		projectID, resources).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("quota: limits of %s: %w", projectID, err)
	}
	out := make(map[string]int64, len(resources))
	e.mu.RLock()
	for _, r := range resources {
		if l, ok := e.defaults[r]; ok {
			out[r] = l
		}
	}
	e.mu.RUnlock()
	for _, r := range rows {
		out[r.Resource] = r.HardLimit
	}
	for _, r := range resources {
		if _, ok := out[r]; !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownResource, r)
		}
	}
	return out, nil
}

type limitRow struct {
	Resource  string
	HardLimit int64
}

type usageRow struct {
	Resource string
	InUse    int64
	Reserved int64
}

// lockUsages creates the project's missing usage rows for resources and locks
// them all, one at a time in sorted order so that no two callers can take
// the same rows in opposite orders and deadlock.
func lockUsages(tx *gorm.DB, projectID string, resources []string) (map[string]usageRow, error) {
	out := make(map[string]usageRow, len(resources))
	for _, r := range slices.Sorted(slices.Values(resources)) {
		err := tx.Exec(`INSERT INTO quota_usages (project_id, resource) VALUES (?, ?)
			ON CONFLICT (project_id, resource) DO NOTHING`, projectID, r).Error
		if err != nil {
			return nil, fmt.Errorf("quota: usage of %s %s: %w", projectID, r, err)
		}
		var row usageRow
		err = tx.Raw(`SELECT resource, in_use, reserved FROM quota_usages
			WHERE project_id = ? AND resource = ? FOR UPDATE`, projectID, r).Scan(&row).Error
		if err != nil {
			return nil, fmt.Errorf("quota: lock usage of %s %s: %w", projectID, r, err)
		}
		out[r] = row
	}
	return out, nil
}

// checkFits returns an *OverQuotaError for the first resource, in sorted
// order, whose positive delta does not fit; negative deltas always fit.
func checkFits(usages map[string]usageRow, limits map[string]int64, deltas map[string]int64) error {
	for _, r := range slices.Sorted(maps.Keys(deltas)) {
		d, u, l := deltas[r], usages[r], limits[r]
		if d > 0 && l != Unlimited && u.InUse+u.Reserved+d > l {
			return &OverQuotaError{Resource: r, Limit: l, InUse: u.InUse, Reserved: u.Reserved, Requested: d}
		}
	}
	return nil
}

func checkProject(projectID string) error {
	if projectID == "" {
		return errors.New("quota: empty project ID")
	}
	return nil
}

// nonZero returns deltas without its zero entries and their sorted resources.
func nonZero(deltas map[string]int64) (map[string]int64, []string) {
	out := make(map[string]int64, len(deltas))
	for r, d := range deltas {
		if d != 0 {
			out[r] = d
		}
	}
	return out, slices.Sorted(maps.Keys(out))
}
