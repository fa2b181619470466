package db

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Sentinel errors that stores wrap with what they were working on, so that
// callers test them with errors.Is and show the message.
var (
	// ErrNotFound means the row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the row already exists or is still referenced.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a value breaks a check constraint or cannot be parsed.
	ErrInvalid = errors.New("invalid")
)

// Wrap translates a database error about what (e.g. "flavor 42") into the
// sentinels: a missing row is ErrNotFound, a duplicate or a still-referenced
// row ErrConflict, a check violation ErrInvalid. Other errors stay as they
// are, prefixed with what.
func Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey), errors.As(err, &pgErr) && pgErr.Code == "23505":
		return fmt.Errorf("%s: already exists: %w", what, ErrConflict)
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		return fmt.Errorf("%s: %s: %w", what, pgErr.Message, ErrConflict)
	case errors.As(err, &pgErr) && (pgErr.Code == "23514" || pgErr.Code == "22P02"):
		return fmt.Errorf("%s: violates %s: %w", what, pgErr.ConstraintName, ErrInvalid)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Affected turns a write that matched no row into ErrNotFound.
func Affected(res *gorm.DB, what string) error {
	if res.Error != nil {
		return Wrap(res.Error, what)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}
