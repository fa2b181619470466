package store

import (
	"context"
	"time"
)

// RevocationRecord revokes the tokens issued before IssuedBefore that match
// all of its non-empty fields. It is kept until ExpiresAt, when every token
// it could match has expired anyway.
type RevocationRecord struct {
	ID int64
	// Kind says why the record was made (e.g. "token", "user", "project").
	Kind         string
	AuditID      string
	UserID       string
	ProjectID    string
	DomainID     string
	AppCredID    string
	RoleID       string
	IssuedBefore time.Time
	ExpiresAt    time.Time
}

type revocationRow struct {
	ID           int64 `gorm:"primaryKey"`
	Kind         string
	AuditID      string
	UserID       string
	ProjectID    string
	DomainID     string
	AppCredID    string
	RoleID       string
	IssuedBefore time.Time
	ExpiresAt    time.Time
}

func (revocationRow) TableName() string { return "revocation_records" }

func (r revocationRow) record() RevocationRecord {
	out := RevocationRecord(r)
	out.IssuedBefore, out.ExpiresAt = r.IssuedBefore.UTC(), r.ExpiresAt.UTC()
	return out
}

// AddRevocation inserts r and sets its ID.
func (s *Store) AddRevocation(ctx context.Context, r *RevocationRecord) error {
	row := revocationRow(*r)
	row.ID = 0
	if err := s.q(ctx).Create(&row).Error; err != nil {
		return wrap(err, "revocation record")
	}
	r.ID = row.ID
	return nil
}

// ListRevocations returns the records that expire after notExpiredAt,
// oldest first.
func (s *Store) ListRevocations(ctx context.Context, notExpiredAt time.Time) ([]RevocationRecord, error) {
	var rows []revocationRow
	if err := s.q(ctx).Where("expires_at > ?", notExpiredAt).Order("id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list revocation records")
	}
	out := make([]RevocationRecord, len(rows))
	for i, r := range rows {
		out[i] = r.record()
	}
	return out, nil
}

// PruneRevocations deletes the records that expired at or before now and
// returns how many it deleted.
func (s *Store) PruneRevocations(ctx context.Context, now time.Time) (int, error) {
	res := s.q(ctx).Where("expires_at <= ?", now).Delete(&revocationRow{})
	if res.Error != nil {
		return 0, wrap(res.Error, "prune revocation records")
	}
	return int(res.RowsAffected), nil
}
