package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/quota"
)

var (
	// ErrNotFound means the flavor, key pair or access entry does not exist.
	ErrNotFound = db.ErrNotFound
	// ErrConflict means the ID, name or access entry already exists.
	ErrConflict = db.ErrConflict
	// ErrInvalid means a filter or sort parameter is not acceptable.
	ErrInvalid = db.ErrInvalid
)

// Store is the compute API's data access; safe for concurrent use.
type Store struct {
	db *gorm.DB
}

// New returns a Store on db, whose compute migrations must be applied.
func New(db *gorm.DB) *Store { return &Store{db: db} }

// Tx runs fn in a transaction with a Store bound to it, committing if fn
// returns nil and rolling back otherwise.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx})
	})
}

// ConsumeQuota charges (or, with negative deltas, releases) quota inside
// this store's transaction, so that the quota and the rows commit or roll
// back together. Call it on the *Store Tx hands out.
func (s *Store) ConsumeQuota(ctx context.Context, q *quota.Engine, key string, deltas map[string]int64) error {
	return q.Consume(s.db.WithContext(ctx), key, deltas)
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// now is the database's clock precision: timestamptz keeps microseconds.
func now() time.Time { return time.Now().UTC().Round(time.Microsecond) }

// Specs are a flavor's extra specs, stored as a jsonb object of strings.
type Specs = db.StringMap

// Host is a kumod host from the core nodes table.
type Host struct {
	Name      string
	Roles     []string
	UpdatedAt time.Time
}

// Hosts lists the kumod hosts recorded in the core nodes table, by name.
func (s *Store) Hosts(ctx context.Context) ([]Host, error) {
	var rows []struct {
		Name      string
		Roles     string
		UpdatedAt time.Time
	}
	err := s.q(ctx).Raw(`SELECT name, array_to_string(roles, ',') AS roles, updated_at FROM nodes ORDER BY name`).Scan(&rows).Error
	if err != nil {
		return nil, db.Wrap(err, "list hosts")
	}
	out := make([]Host, len(rows))
	for i, r := range rows {
		out[i] = Host{Name: r.Name, UpdatedAt: r.UpdatedAt}
		if r.Roles != "" {
			out[i].Roles = strings.Split(r.Roles, ",")
		}
	}
	return out, nil
}

func errMarker(marker string) error {
	return fmt.Errorf("marker [%s] not found: %w", marker, ErrInvalid)
}
