package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/quota"
)

var (
	// ErrNotFound means the image or membership does not exist.
	ErrNotFound = db.ErrNotFound
	// ErrConflict means the ID or membership already exists.
	ErrConflict = db.ErrConflict
)

// Store is the image service's data access; safe for concurrent use.
type Store struct {
	db *gorm.DB
}

// New returns a Store on db, whose image migrations must be applied.
func New(db *gorm.DB) *Store { return &Store{db: db} }

// Tx runs fn in a transaction with a Store bound to it, committing if fn
// returns nil and rolling back otherwise.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx})
	})
}

// ConsumeQuota charges (or, with negative deltas, releases) a project's
// quota inside this store's transaction, so that the quota and the image row
// commit or roll back together. Call it on the *Store Tx hands out.
func (s *Store) ConsumeQuota(ctx context.Context, q *quota.Engine, projectID string, deltas map[string]int64) error {
	return q.Consume(s.db.WithContext(ctx), projectID, deltas)
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// now is the database's clock precision: timestamptz keeps microseconds.
func now() time.Time { return time.Now().UTC().Round(time.Microsecond) }

// forUpdate locks the selected rows until the transaction ends.
func forUpdate(db *gorm.DB) *gorm.DB { return db.Clauses(clause.Locking{Strength: "UPDATE"}) }

// Props are an image's custom properties, stored as a jsonb object of
// strings.
type Props = db.StringMap

// TextArray is the shared text[] column type.
type TextArray = db.TextArray
