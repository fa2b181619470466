package quota

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Reserve holds positive deltas of the project's quota for a long operation until Commit, Rollback or ttl passes, refusing with an *OverQuotaError like Consume, and returns the reservation's ID.
func (e *Engine) Reserve(ctx context.Context, projectID string, deltas map[string]int64, ttl time.Duration) (string, error) {
	if err := checkProject(projectID); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", fmt.Errorf("quota: reserve: ttl %s is not positive", ttl)
	}
	deltas, resources := nonZero(deltas)
	if len(resources) == 0 {
		return "", fmt.Errorf("quota: reserve: nothing to reserve")
	}
	for _, r := range resources {
		if deltas[r] < 0 {
			// Releases need no reservation: Consume them when done.
			return "", fmt.Errorf("quota: reserve: negative delta %d for %s", deltas[r], r)
		}
	}
	id := uuid.New()
	err := e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		usages, err := lockUsages(tx, projectID, resources)
		if err != nil {
			return err
		}
		limits, err := e.limitsFor(tx, projectID, resources)
		if err != nil {
			return err
		}
		if err := checkFits(usages, limits, deltas); err != nil {
			return err
		}
		for _, r := range resources {
			err := tx.Exec(`UPDATE quota_usages SET reserved = reserved + ?, updated_at = now()
				WHERE project_id = ? AND resource = ?`, deltas[r], projectID, r).Error
			if err == nil {
				// The database's clock, so every kumod agrees on expiry.
				err = tx.Exec(`INSERT INTO quota_reservations (id, project_id, resource, delta, expires_at)
					VALUES (?, ?, ?, ?, now() + make_interval(secs => ?))`,
					id, projectID, r, deltas[r], ttl.Seconds()).Error
			}
			if err != nil {
				return fmt.Errorf("quota: reserve %s %s: %w", projectID, r, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Commit turns an unexpired reservation into usage, or fails with ErrReservationNotFound.
func (e *Engine) Commit(ctx context.Context, id string) error {
	return e.settle(ctx, id, true)
}

// Rollback releases a reservation, expired or not, or fails with ErrReservationNotFound.
func (e *Engine) Rollback(ctx context.Context, id string) error {
	return e.settle(ctx, id, false)
}

// ExpireReservations releases every reservation whose TTL has passed and returns how many it released; run it periodically.
func (e *Engine) ExpireReservations(ctx context.Context) (int, error) {
	var n int
	err := e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// SKIP LOCKED: rows a Commit or Rollback holds are settled by it,
		// and two sweeps share the work instead of queueing.
		var rows []reservationRow
		err := tx.Raw(`SELECT id, project_id, resource, delta FROM quota_reservations
			WHERE expires_at <= now() ORDER BY id, resource FOR UPDATE SKIP LOCKED`).Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("quota: expire reservations: %w", err)
		}
		ids := map[string]bool{}
		for _, r := range rows {
			ids[r.ID] = true
		}
		n = len(ids)
		return release(tx, rows, false)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

type reservationRow struct {
	ID        string
	ProjectID string
	Resource  string
	Delta     int64
}

// settle ends reservation id: its deltas move from reserved to in use
// (commit) or are dropped (rollback).
func (e *Engine) settle(ctx context.Context, id string, commit bool) error {
	if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("%w: %q", ErrReservationNotFound, id)
	}
	return e.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		query := `SELECT id, project_id, resource, delta FROM quota_reservations WHERE id = ?`
		if commit {
			// An expired reservation's quota may already be promised to
			// others; the sweep releases it.
			query += ` AND expires_at > now()`
		}
		var rows []reservationRow
		if err := tx.Raw(query+` ORDER BY resource FOR UPDATE`, id).Scan(&rows).Error; err != nil {
			return fmt.Errorf("quota: settle reservation %s: %w", id, err)
		}
		if len(rows) == 0 {
			return fmt.Errorf("%w: %s", ErrReservationNotFound, id)
		}
		return release(tx, rows, commit)
	})
}

// release deletes the locked reservation rows and takes their deltas off
// the reserved amounts, adding them to in use if commit is set. The usage
// rows are updated in (project, resource) order, the order Consume and
// Reserve lock them in, so settling cannot deadlock with them.
func release(tx *gorm.DB, rows []reservationRow, commit bool) error {
	for _, r := range rows {
		if err := tx.Exec(`DELETE FROM quota_reservations WHERE id = ? AND resource = ?`, r.ID, r.Resource).Error; err != nil {
			return fmt.Errorf("quota: delete reservation %s: %w", r.ID, err)
		}
	}
	type key struct{ project, resource string }
	sums := map[key]int64{}
	for _, r := range rows {
		sums[key{r.ProjectID, r.Resource}] += r.Delta
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.resource, b.resource))
	})
	inUse := int64(0)
	for _, k := range keys {
		if commit {
			inUse = sums[k]
		}
		err := tx.Exec(`UPDATE quota_usages SET reserved = GREATEST(reserved - ?, 0), in_use = in_use + ?, updated_at = now()
			WHERE project_id = ? AND resource = ?`, sums[k], inUse, k.project, k.resource).Error
		if err != nil {
			return fmt.Errorf("quota: release reservation of %s %s: %w", k.project, k.resource, err)
		}
	}
	return nil
}
