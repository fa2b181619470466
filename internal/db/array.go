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

// Scan implements sql.Scanner. One-dimensional arrays in text form, what
// the driver hands over, are parsed here: building a pgtype.Map per row
// costs several microseconds, which adds up in listings of many rows.
func (a *TextArray) Scan(src any) error {
	if s, ok := src.(string); ok {
		if out, ok := parseTextArray(s); ok {
			*a = out
			return nil
		}
	}
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

// parseTextArray parses a one-dimensional text array literal such as
// {a,"b c",NULL}; ok is false for anything else (dimension decorations,
// nested arrays, NULL elements), which the caller leaves to pgtype.
func parseTextArray(s string) ([]string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	out := []string{}
	body := s[1 : len(s)-1]
	if body == "" {
		return out, true
	}
	var b []byte
	for i := 0; i <= len(body); {
		if i < len(body) && body[i] == '"' {
			b = b[:0]
			i++
			for ; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b = append(b, body[i])
			}
			if i >= len(body) {
				return nil, false
			}
			out = append(out, string(b))
			i++ // the closing quote
			if i < len(body) && body[i] != ',' {
				return nil, false
			}
			i++
			continue
		}
		j := i
		for j < len(body) && body[j] != ',' {
			j++
		}
		el := body[i:j]
		if el == "" || el == "NULL" || el[0] == '{' {
			return nil, false
		}
		out = append(out, el)
		i = j + 1
	}
	return out, true
}
