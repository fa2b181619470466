package quota

import (
	"context"
	"fmt"
	"maps"
)

// Override is a per-project limit that replaces a resource's default.
type Override struct {
	ProjectID string
	Resource  string
	Limit     int64
}

// Defaults returns a copy of the registered default limits.
func (e *Engine) Defaults() Defaults {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return maps.Clone(e.defaults)
}

// Overrides lists per-project limits, optionally of one project and/or one
// resource ("" = any), ordered by project then resource.
func (e *Engine) Overrides(ctx context.Context, projectID, resource string) ([]Override, error) {
	q := e.db.WithContext(ctx).Table("quota_limits").Select("project_id, resource, hard_limit AS \"limit\"")
	if projectID != "" {
		q = q.Where("project_id = ?", projectID)
	}
	if resource != "" {
		q = q.Where("resource = ?", resource)
	}
	var out []Override
	if err := q.Order("project_id, resource").Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("quota: list overrides: %w", err)
	}
	return out, nil
}

// DeleteLimit removes one per-project override, so the default applies
// again. It reports whether there was one.
func (e *Engine) DeleteLimit(ctx context.Context, projectID, resource string) (bool, error) {
	if err := checkProject(projectID); err != nil {
		return false, err
	}
	res := e.db.WithContext(ctx).Exec(`DELETE FROM quota_limits WHERE project_id = ? AND resource = ?`, projectID, resource)
	if res.Error != nil {
		return false, fmt.Errorf("quota: delete limit %s of %s: %w", resource, projectID, res.Error)
	}
	return res.RowsAffected > 0, nil
}
