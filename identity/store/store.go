package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

var (
	// ErrNotFound means the entity, or an entity it refers to, does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique name is taken, or the entity is still
	// referred to by another and cannot be deleted.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a value is outside what the schema allows (an unknown
	// assignment type or endpoint interface).
	ErrInvalid = errors.New("invalid")
)

// Store is identity's data access; its methods are safe for concurrent use.
type Store struct {
	db *gorm.DB
}

// New returns a Store on db, whose identity migrations must be applied.
func New(db *gorm.DB) *Store { return &Store{db: db} }

// Tx runs fn in a transaction with a Store bound to it, committing if fn
// returns nil and rolling back otherwise. Tx on a transaction's Store nests
// with a savepoint.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx})
	})
}

// NewID returns a new random ID in Keystone's form: a UUID as 32 lowercase
// hex digits without dashes.
func NewID() string {
	u := uuid.New()
	return fmt.Sprintf("%x", u[:])
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// now is the database's clock precision: timestamptz keeps microseconds.
func now() time.Time { return time.Now().UTC().Round(time.Microsecond) }

// fkDetail parses PostgreSQL's detail of a foreign key violation.
var (
	fkMissing    = regexp.MustCompile(`Key \(([^)]*)\)=\((.*)\) is not present in table "([^"]+)"`)
	fkReferenced = regexp.MustCompile(`is still referenced from table "([^"]+)"`)
)

// entityOf names the entity a table holds, for error messages.
var entityOf = map[string]string{
	"domains":                 "domain",
	"projects":                "project",
	"users":                   "user",
	"groups":                  "group",
	"group_members":           "group membership",
	"roles":                   "role",
	"implied_roles":           "implied role",
	"assignments":             "role assignment",
	"regions":                 "region",
	"services":                "service",
	"endpoints":               "endpoint",
	"application_credentials": "application credential",
}

func entityName(table string) string {
	if e, ok := entityOf[table]; ok {
		return e
	}
	return table
}

// wrap translates a database error about what (e.g. "project 1234") into
// the store's sentinels: a missing row or a dangling reference becomes
// ErrNotFound, a duplicate or a still-referenced row ErrConflict, a check
// violation ErrInvalid. Other errors are returned wrapped as they are.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%s: already exists: %w", what, ErrConflict)
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		if m := fkMissing.FindStringSubmatch(pgErr.Detail); m != nil {
			return fmt.Errorf("%s: %s %s: %w", what, entityName(m[3]), m[2], ErrNotFound)
		}
		if m := fkReferenced.FindStringSubmatch(pgErr.Detail); m != nil {
			return fmt.Errorf("%s: still referenced by %s: %w", what, strings.ReplaceAll(m[1], "_", " "), ErrConflict)
		}
		return fmt.Errorf("%s: %s: %w", what, pgErr.Message, ErrConflict)
	case errors.As(err, &pgErr) && pgErr.Code == "23514":
		return fmt.Errorf("%s: violates %s: %w", what, pgErr.ConstraintName, ErrInvalid)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// affected turns a write that matched no row into ErrNotFound.
func affected(res *gorm.DB, what string) error {
	if res.Error != nil {
		return wrap(res.Error, what)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// nullable maps "" to NULL for optional references.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// clone copies a slice so callers and rows never share backing arrays; the
// copy is never nil.
func clone(s []string) []string {
	return append([]string{}, s...)
}
