package store

import (
	"context"

	"github.com/kumo-cloud/kumo/internal/quota"
)

// ConsumeQuota charges (or, with negative deltas, releases) a project's
// quota inside this store's transaction, so that the quota and identity's
// own rows commit or roll back together. It must be called on the *Store
// that Tx hands to its closure.
func (s *Store) ConsumeQuota(ctx context.Context, q *quota.Engine, projectID string, deltas map[string]int64) error {
	return q.Consume(s.db.WithContext(ctx), projectID, deltas)
}
