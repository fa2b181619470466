package db

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// StringMap is a jsonb object of strings for gorm models (metadata, extra
// specs, properties). NULL reads back as an empty, non-nil map, and a nil
// map is stored as {}, so JSON renders it as {} as OpenStack APIs do.
type StringMap map[string]string

// Scan implements sql.Scanner.
func (m *StringMap) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		*m = StringMap{}
		return nil
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		return fmt.Errorf("scan string map: unexpected %T", src)
	}
	out := StringMap{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("scan string map: %w", err)
	}
	*m = out
	return nil
}

// Value implements driver.Valuer.
func (m StringMap) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	raw, err := json.Marshal(map[string]string(m))
	return string(raw), err
}
