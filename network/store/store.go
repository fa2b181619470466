package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/quota"
)

var (
	// ErrNotFound means the row does not exist.
	ErrNotFound = db.ErrNotFound
	// ErrConflict means the row already exists or is still referenced.
	ErrConflict = db.ErrConflict
)

// Store is the network service's data access; safe for concurrent use.
type Store struct {
	db *gorm.DB
}

// New returns a Store on db, whose network migrations must be applied.
func New(db *gorm.DB) *Store { return &Store{db: db} }

// Tx runs fn in a transaction with a Store bound to it, committing if fn
// returns nil and rolling back otherwise.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx})
	})
}

// ConsumeQuota charges (or releases, with negative deltas) quota inside this
// store's transaction.
func (s *Store) ConsumeQuota(ctx context.Context, q *quota.Engine, projectID string, deltas map[string]int64) error {
	return q.Consume(s.db.WithContext(ctx), projectID, deltas)
}

// Lock takes a transaction-scoped advisory lock named key; call it on the
// *Store Tx hands out. It serialises allocators of one kind (VNIs, MACs).
func (s *Store) Lock(ctx context.Context, key string) error {
	return db.Wrap(s.q(ctx).Exec(`SELECT pg_advisory_xact_lock(hashtext(?))`, "network."+key).Error, "lock "+key)
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// now is the database's clock precision, truncated to seconds as Neutron
// shows timestamps.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Create inserts a row (a pointer to one of the models), stamping its
// creation and update times.
func (s *Store) Create(ctx context.Context, row Row) error {
	row.stamp(true)
	return db.Wrap(s.q(ctx).Create(row).Error, row.what())
}

// TryCreate is Create inside a savepoint: when the insert conflicts with
// a unique key (ErrConflict), the transaction stays usable, so that the
// caller can retry with another value (a MAC address).
func (s *Store) TryCreate(ctx context.Context, row Row) error {
	sp := "try_create"
	if err := s.q(ctx).SavePoint(sp).Error; err != nil {
		return db.Wrap(err, row.what())
	}
	err := s.Create(ctx, row)
	if err != nil {
		if rerr := s.q(ctx).RollbackTo(sp).Error; rerr != nil {
			return db.Wrap(rerr, row.what())
		}
	}
	return err
}

// Update writes every column of row, bumping its revision number and
// update time.
func (s *Store) Update(ctx context.Context, row Row) error {
	row.stamp(false)
	return db.Affected(s.q(ctx).Select("*").Save(row), row.what())
}

// Delete removes row by its primary key.
func (s *Store) Delete(ctx context.Context, row Row) error {
	return db.Affected(s.q(ctx).Delete(row), row.what())
}

// Get loads the row of T with the given ID; ErrNotFound if it is missing.
// With lock, the row is locked until the transaction ends.
func Get[T any, P interface {
	*T
	Row
}](ctx context.Context, s *Store, id string, lock bool) (*T, error) {
	var out T
	q := s.q(ctx)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	err := q.Where("id = ?", id).Take(&out).Error
	if err != nil {
		return nil, db.Wrap(err, P(&out).what()+" "+id)
	}
	return &out, nil
}

// List returns the rows of T matching where (SQL with args; "" for all),
// oldest first.
func List[T any](ctx context.Context, s *Store, where string, args ...any) ([]T, error) {
	var out []T
	q := s.q(ctx)
	if where != "" {
		q = q.Where(where, args...)
	}
	err := q.Order("created_at, id").Find(&out).Error
	return out, db.Wrap(err, "list")
}

// Count counts the rows of T matching where.
func Count[T any](ctx context.Context, s *Store, where string, args ...any) (int64, error) {
	var n int64
	err := s.q(ctx).Model(new(T)).Where(where, args...).Count(&n).Error
	return n, db.Wrap(err, "count")
}

// Row is a model of this package.
type Row interface {
	stamp(created bool)
	what() string
}

// Meta are the standard attributes every Neutron resource carries.
type Meta struct {
	ID             string `gorm:"primaryKey"`
	ProjectID      string
	Tags           db.TextArray
	RevisionNumber int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (m *Meta) stamp(created bool) {
	t := now()
	if created {
		m.CreatedAt = t
		m.RevisionNumber = 0
	} else {
		m.RevisionNumber++
	}
	m.UpdatedAt = t
	if m.Tags == nil {
		m.Tags = db.TextArray{}
	}
}

// JSON is a jsonb column holding a T.
type JSON[T any] struct{ V T }

// Scan implements sql.Scanner.
func (j *JSON[T]) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		return fmt.Errorf("scan jsonb: unexpected %T", src)
	}
	return json.Unmarshal(raw, &j.V)
}

// Value implements driver.Valuer.
func (j JSON[T]) Value() (driver.Value, error) {
	raw, err := json.Marshal(j.V)
	if err != nil {
		return nil, err
	}
	if string(raw) == "null" {
		if reflect.TypeFor[T]().Kind() == reflect.Map {
			return "{}", nil
		}
		return "[]", nil
	}
	return string(raw), nil
}
