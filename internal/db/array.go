package db

import (
	"database/sql/driver"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// TextArray is a PostgreSQL text[] column for gorm models. A nil slice is
// stored as an empty array, and reads back as an empty, non-nil slice (so
// JSON renders it as [], as OpenStack APIs do).
type TextArray []string

// Scan implements sql.Scanner.
func (a *TextArray) Scan(src any) error {
	var out []string
	if err := pgtype.NewMap().SQLScanner(&out).Scan(src); err != nil {
		return fmt.Errorf("scan text[]: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	*a = out
	return nil
}

// Value implements driver.Valuer, in PostgreSQL's text array syntax.
func (a TextArray) Value() (driver.Value, error) {
	v := []string(a)
	if v == nil {
		v = []string{}
	}
	buf, err := pgtype.NewMap().Encode(pgtype.TextArrayOID, pgtype.TextFormatCode, v, nil)
	if err != nil {
		return nil, fmt.Errorf("encode text[]: %w", err)
	}
	return string(buf), nil
}
