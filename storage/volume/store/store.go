package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/quota"
)

var (
	// ErrNotFound means the row does not exist.
	ErrNotFound = db.ErrNotFound
	// ErrConflict means the ID or name already exists or is still referenced.
	ErrConflict = db.ErrConflict
)

// Store is the volume service's data access; safe for concurrent use.
type Store struct {
	db *gorm.DB
}

// New returns a Store on gdb, whose volume migrations must be applied.
func New(gdb *gorm.DB) *Store { return &Store{db: gdb} }

// Tx runs fn in a transaction with a Store bound to it, committing if fn
// returns nil and rolling back otherwise.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx})
	})
}

// ConsumeQuota charges (or, with negative deltas, releases) a project's
// quota inside this store's transaction, so that the quota and the rows
// commit or roll back together. Call it on the *Store Tx hands out.
func (s *Store) ConsumeQuota(ctx context.Context, q *quota.Engine, projectID string, deltas map[string]int64) error {
	return q.Consume(s.db.WithContext(ctx), projectID, deltas)
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// now is the database's clock precision: timestamptz keeps microseconds.
func now() time.Time { return time.Now().UTC().Round(time.Microsecond) }

// forUpdate locks the selected rows until the transaction ends.
func forUpdate(gdb *gorm.DB) *gorm.DB { return gdb.Clauses(clause.Locking{Strength: "UPDATE"}) }

// Meta is a string map stored as a jsonb object (metadata, extra specs,
// image metadata).
type Meta = db.StringMap

// JSON is a nullable jsonb value kept raw (connector, connection info).
type JSON json.RawMessage

// Scan implements sql.Scanner.
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(JSON(nil), v...)
	case string:
		*j = JSON(v)
	default:
		return fmt.Errorf("scan json: unexpected %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (j JSON) Value() (driver.Value, error) {
	if len(j) == 0 {
		return nil, nil
	}
	return string(j), nil
}

// Quota resources of the volume service (Cinder's volumes, gigabytes and
// snapshots; gigabytes counts volumes and snapshots alike, as Cinder's
// does).
const (
	ResourceVolumes   = "volume.volumes"
	ResourceGigabytes = "volume.gigabytes"
	ResourceSnapshots = "volume.snapshots"
)

// QuotaDefaults are the default per-project limits of the volume service:
// Cinder's (10 volumes, 1000 gigabytes, 10 snapshots) unless
// KUMO_VOLUME_QUOTA_VOLUMES, KUMO_VOLUME_QUOTA_GIGABYTES or
// KUMO_VOLUME_QUOTA_SNAPSHOTS say otherwise (-1: unlimited).
func QuotaDefaults() (quota.Defaults, error) {
	d := quota.Defaults{ResourceVolumes: 10, ResourceGigabytes: 1000, ResourceSnapshots: 10}
	for env, res := range map[string]string{"KUMO_VOLUME_QUOTA_VOLUMES": ResourceVolumes,
		"KUMO_VOLUME_QUOTA_GIGABYTES": ResourceGigabytes, "KUMO_VOLUME_QUOTA_SNAPSHOTS": ResourceSnapshots} {
		if v, ok := os.LookupEnv(env); ok && v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < quota.Unlimited {
				return nil, fmt.Errorf("%s=%q: want -1 (unlimited) or a count", env, v)
			}
			d[res] = n
		}
	}
	return d, d.Validate()
}
