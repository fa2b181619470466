package store

import (
	"context"

	"github.com/kumo-cloud/kumo/internal/db"
)

// The row helpers below serve every table keyed by a string id (volumes,
// snapshots, attachments, types); what names the row in errors
// ("volume 1234…").

// getRow returns the row with id, ErrNotFound when there is none; with
// lock, the row stays locked until the transaction ends (use inside Tx).
func getRow[T any](ctx context.Context, s *Store, what, id string, lock bool) (T, error) {
	var r T
	q := s.q(ctx)
	if lock {
		q = forUpdate(q)
	}
	err := q.Where("id = ?", id).Take(&r).Error
	return r, db.Wrap(err, what+" "+id)
}

// updateRow writes the given columns of row id and bumps updated_at.
func updateRow[T any](ctx context.Context, s *Store, what, id string, cols map[string]any) error {
	cols["updated_at"] = now()
	return db.Affected(s.q(ctx).Model(new(T)).Where("id = ?", id).Updates(cols), what+" "+id)
}

// setRowStatus moves row id to status if it is in one of from (any status
// when from is empty) and reports whether it did.
func setRowStatus[T any](ctx context.Context, s *Store, what, id, status string, from []string) (bool, error) {
	q := s.q(ctx).Model(new(T)).Where("id = ?", id)
	if len(from) > 0 {
		q = q.Where("status IN ?", from)
	}
	res := q.Updates(map[string]any{"status": status, "updated_at": now()})
	return res.RowsAffected > 0, db.Wrap(res.Error, what+" "+id)
}

// deleteRow removes row id.
func deleteRow[T any](ctx context.Context, s *Store, what, id string) error {
	return db.Affected(s.q(ctx).Where("id = ?", id).Delete(new(T)), what+" "+id)
}
