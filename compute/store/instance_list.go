package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/internal/db"
)

// InstanceFilter selects instances for a listing; zero fields do not filter.
type InstanceFilter struct {
	// Project restricts to one project unless AllProjects.
	Project     string
	AllProjects bool
	Host        string
	// NameRegex is a POSIX regular expression matched against the name.
	NameRegex string
	VMStates  []string
	ImageRef  string
	FlavorID  string
	// ReservationID selects the servers of one multi-create.
	ReservationID string
	// ChangesSince and ChangesBefore bound updated_at; with ChangesSince
	// deleted instances are listed too, as Nova does.
	ChangesSince  *time.Time
	ChangesBefore *time.Time
	// Deleted lists only deleted instances.
	Deleted bool
	// Tags must all be present; TagsAny at least one; NotTags not all;
	// NotTagsAny none.
	Tags, TagsAny, NotTags, NotTagsAny []string
	// Locked, if set, selects locked or unlocked instances (2.73).
	Locked *bool
	// WithoutUserData leaves user_data (up to 64 KiB a row) unread, for
	// views that do not show it.
	WithoutUserData bool
	// MatchNone selects nothing (a filter on a field kumo does not have
	// yet, such as ip while servers have no addresses).
	MatchNone bool
	// Sort is the order, by SortKeys names; empty is created_at desc.
	Sort []SortKey
	// Marker is the UUID after which to start; Limit 0 is no limit.
	Marker string
	Limit  int
}

// SortKey is one key of a listing's order.
type SortKey struct {
	Key  string
	Desc bool
}

// SortKeys maps Nova's server sort keys to the SQL expression they sort
// by; nullable columns sort as their zero value so that markers compare.
var SortKeys = map[string]string{
	"created_at":          "created_at",
	"updated_at":          "COALESCE(updated_at, created_at)",
	"launched_at":         "COALESCE(launched_at, 'epoch'::timestamptz)",
	"terminated_at":       "COALESCE(terminated_at, 'epoch'::timestamptz)",
	"display_name":        "name",
	"display_description": "COALESCE(description, '')",
	"uuid":                "uuid",
	"vm_state":            "vm_state",
	"task_state":          "COALESCE(task_state, '')",
	"power_state":         "power_state",
	"host":                "COALESCE(host, '')",
	"node":                "COALESCE(host, '')",
	"hostname":            "COALESCE(hostname, name)",
	"image_ref":           "image_ref",
	"instance_type_id":    "flavor_id",
	"key_name":            "COALESCE(key_name, '')",
	"launch_index":        "launch_index",
	"locked_by":           "COALESCE(locked_by, '')",
	"memory_mb":           "memory_mb",
	"project_id":          "project_id",
	"user_id":             "user_id",
	"availability_zone":   "availability_zone",
	"config_drive":        "config_drive",
}

// ListInstances returns the instances matching f, newest first (Nova's
// default created_at desc) unless f.Sort says otherwise, the UUID
// breaking ties. It runs one query (two with a marker) whatever the page
// size: tags are on the row.
func (s *Store) ListInstances(ctx context.Context, f InstanceFilter) ([]Instance, error) {
	out := []Instance{}
	if f.MatchNone {
		return out, nil
	}
	q := s.q(ctx).Model(&Instance{})
	if f.WithoutUserData {
		q = q.Omit("user_data")
	}
	switch {
	case f.Deleted:
		q = q.Where("deleted")
	case f.ChangesSince == nil:
		q = q.Where("NOT deleted")
	}
	if !f.AllProjects {
		q = q.Where("project_id = ?", f.Project)
	}
	if f.Host != "" {
		q = q.Where("host = ?", f.Host)
	}
	if f.NameRegex != "" {
		q = q.Where("name ~ ?", f.NameRegex)
	}
	if len(f.VMStates) > 0 {
		q = q.Where("vm_state IN ?", f.VMStates)
	}
	if f.ImageRef != "" {
		q = q.Where("image_ref = ?", f.ImageRef)
	}
	if f.FlavorID != "" {
		q = q.Where("flavor_id = ?", f.FlavorID)
	}
	if f.ReservationID != "" {
		q = q.Where("reservation_id = ?", f.ReservationID)
	}
	if f.ChangesSince != nil {
		q = q.Where("COALESCE(updated_at, created_at) >= ?", *f.ChangesSince)
	}
	if f.ChangesBefore != nil {
		q = q.Where("COALESCE(updated_at, created_at) <= ?", *f.ChangesBefore)
	}
	if f.Locked != nil {
		q = q.Where("locked = ?", *f.Locked)
	}
	if len(f.Tags) > 0 {
		q = q.Where("tags @> ?", db.TextArray(f.Tags))
	}
	if len(f.TagsAny) > 0 {
		q = q.Where("tags && ?", db.TextArray(f.TagsAny))
	}
	if len(f.NotTags) > 0 {
		q = q.Where("NOT (tags @> ?)", db.TextArray(f.NotTags))
	}
	if len(f.NotTagsAny) > 0 {
		q = q.Where("NOT (tags && ?)", db.TextArray(f.NotTagsAny))
	}
	keys := f.Sort
	if len(keys) == 0 {
		keys = []SortKey{{Key: "created_at", Desc: true}}
	}
	exprs := make([]string, 0, len(keys)+1)
	desc := make([]bool, 0, len(keys)+1)
	for _, k := range keys {
		e, ok := SortKeys[k.Key]
		if !ok {
			return nil, fmt.Errorf("sort key %q: %w", k.Key, ErrInvalid)
		}
		exprs, desc = append(exprs, e), append(desc, k.Desc)
	}
	// The UUID breaks ties in the direction of the last key.
	exprs, desc = append(exprs, "uuid"), append(desc, desc[len(desc)-1])
	if f.Marker != "" {
		var err error
		if q, err = s.afterMarker(ctx, q, f.Marker, exprs, desc); err != nil {
			return nil, err
		}
	}
	order := make([]string, len(exprs))
	for i, e := range exprs {
		order[i] = e + map[bool]string{true: " DESC", false: " ASC"}[desc[i]]
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	err := q.Order(strings.Join(order, ", ")).Find(&out).Error
	return out, db.Wrap(err, "list instances")
}

// afterMarker restricts q to the rows after the marker row in the order
// exprs/desc: (a > m.a) OR (a = m.a AND b > m.b) OR ...
func (s *Store) afterMarker(ctx context.Context, q *gorm.DB, marker string, exprs []string, desc []bool) (*gorm.DB, error) {
	if !uuidRE.MatchString(marker) {
		return nil, errMarker(marker)
	}
	vals := make([]any, len(exprs))
	ptrs := make([]any, len(exprs))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	row := s.q(ctx).Raw("SELECT "+strings.Join(exprs, ", ")+" FROM instances WHERE uuid = ?", marker).Row()
	if err := row.Scan(ptrs...); err != nil {
		return nil, errMarker(marker)
	}
	var ors []string
	var args []any
	for i := range exprs {
		var and []string
		for j := 0; j < i; j++ {
			and = append(and, exprs[j]+" = ?")
			args = append(args, vals[j])
		}
		op := " > ?"
		if desc[i] {
			op = " < ?"
		}
		and = append(and, exprs[i]+op)
		args = append(args, vals[i])
		ors = append(ors, "("+strings.Join(and, " AND ")+")")
	}
	return q.Where("("+strings.Join(ors, " OR ")+")", args...), nil
}

// RunningCounts counts the live instances on each host, in one query.
func (s *Store) RunningCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Host string
		N    int
	}
	err := s.q(ctx).Raw(`SELECT host, count(*) AS n FROM instances WHERE NOT deleted AND host IS NOT NULL GROUP BY host`).Scan(&rows).Error
	out := map[string]int{}
	for _, r := range rows {
		out[r.Host] = r.N
	}
	return out, db.Wrap(err, "count instances by host")
}
