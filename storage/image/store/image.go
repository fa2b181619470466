package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Image statuses, as Glance names them.
const (
	StatusQueued      = "queued"
	StatusSaving      = "saving"
	StatusActive      = "active"
	StatusKilled      = "killed"
	StatusDeactivated = "deactivated"
	StatusUploading   = "uploading"
	StatusImporting   = "importing"
)

// Image is one image's metadata. Nullable attributes are pointers: Glance
// shows them as null until they are set.
type Image struct {
	ID              string `gorm:"primaryKey"`
	Name            *string
	Owner           string
	Status          string
	Visibility      string
	Protected       bool
	OSHidden        bool `gorm:"column:os_hidden"`
	DiskFormat      *string
	ContainerFormat *string
	MinDisk         int
	MinRAM          int `gorm:"column:min_ram"`
	Size            *int64
	VirtualSize     *int64
	Checksum        *string
	OSHashAlgo      *string `gorm:"column:os_hash_algo"`
	OSHashValue     *string `gorm:"column:os_hash_value"`
	// Store names the backend holding the data, "" while there is none.
	Store string
	// ChargedSize is what the image counts toward the size quota.
	ChargedSize int64
	Properties  Props     `gorm:"type:jsonb"`
	Tags        TextArray `gorm:"type:text[]"`
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt   time.Time `gorm:"autoUpdateTime:false"`
}

// TableName implements gorm's tabler.
func (Image) TableName() string { return "images" }

// CreateImage inserts img with fresh timestamps; a taken ID is ErrConflict.
func (s *Store) CreateImage(ctx context.Context, img *Image) error {
	img.CreatedAt, img.UpdatedAt = now(), now()
	if img.Properties == nil {
		img.Properties = Props{}
	}
	if img.Tags == nil {
		img.Tags = TextArray{}
	}
	return db.Wrap(s.q(ctx).Create(img).Error, "image "+img.ID)
}

// GetImage returns the image with the given ID.
func (s *Store) GetImage(ctx context.Context, id string) (Image, error) {
	var img Image
	err := s.q(ctx).Where("id = ?", id).Take(&img).Error
	return img, db.Wrap(err, "image "+id)
}

// LockImage returns the image and locks its row until the transaction ends;
// call it on the Store of a Tx.
func (s *Store) LockImage(ctx context.Context, id string) (Image, error) {
	var img Image
	err := forUpdate(s.q(ctx)).Where("id = ?", id).Take(&img).Error
	return img, db.Wrap(err, "image "+id)
}

// SaveImage writes every attribute of img and bumps its updated_at.
func (s *Store) SaveImage(ctx context.Context, img *Image) error {
	img.UpdatedAt = now()
	if img.Properties == nil {
		img.Properties = Props{}
	}
	if img.Tags == nil {
		img.Tags = TextArray{}
	}
	res := s.q(ctx).Model(&Image{}).Where("id = ?", img.ID).Select("*").Omit("id", "created_at").Updates(img)
	return db.Affected(res, "image "+img.ID)
}

// DeleteImage removes the image and its memberships.
func (s *Store) DeleteImage(ctx context.Context, id string) error {
	return db.Affected(s.q(ctx).Where("id = ?", id).Delete(&Image{}), "image "+id)
}

// SortKey orders a listing by one column.
type SortKey struct {
	Key  string
	Desc bool
}

// SortableKeys are the attributes a listing may be sorted by.
var SortableKeys = map[string]bool{
	"name": true, "status": true, "container_format": true, "disk_format": true, "size": true,
	"virtual_size": true, "id": true, "created_at": true, "updated_at": true, "visibility": true,
	"owner": true, "min_disk": true, "min_ram": true,
}

// ListFilter selects the images a caller sees and filters them; zero fields
// match any.
type ListFilter struct {
	// Admin lifts the visibility rules; Project is the caller's project.
	Admin   bool
	Project string
	// Visibility is "", "all", "public", "private", "shared" or
	// "community", as Glance's visibility filter.
	Visibility string
	// MemberStatus selects the images shared with Project by their
	// membership status: "" means accepted; "all" any.
	MemberStatus string

	ID, Name, Status, Owner, DiskFormat, ContainerFormat string
	// Tags must all be present.
	Tags             []string
	SizeMin, SizeMax *int64
	// Hidden nil lists only images that are not os_hidden.
	Hidden *bool
	// Properties must all be equal.
	Properties map[string]string
	Sort       []SortKey
}

const memberOf = "EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = images.id AND m.member = ?"

// ListImages returns the images matching f, in f's order (created_at
// descending by default), ID breaking ties.
func (s *Store) ListImages(ctx context.Context, f ListFilter) ([]Image, error) {
	q := s.q(ctx).Model(&Image{})
	member := memberOf + " AND m.status = ?)"
	memberArg := []any{f.Project, f.MemberStatus}
	switch f.MemberStatus {
	case "":
		memberArg[1] = "accepted"
	case "all":
		member = memberOf + ")"
		memberArg = memberArg[:1]
	}
	shared := "(images.visibility = 'shared' AND " + member + ")"
	if f.Admin {
		if f.Visibility != "" && f.Visibility != "all" {
			q = q.Where("images.visibility = ?", f.Visibility)
		}
	} else {
		switch f.Visibility {
		case "":
			q = q.Where("(images.visibility = 'public' OR images.owner = ? OR "+shared+")", append([]any{f.Project}, memberArg...)...)
		case "all":
			q = q.Where("(images.visibility IN ('public', 'community') OR images.owner = ? OR "+shared+")", append([]any{f.Project}, memberArg...)...)
		case "public", "community":
			q = q.Where("images.visibility = ?", f.Visibility)
		case "private":
			q = q.Where("images.visibility = 'private' AND images.owner = ?", f.Project)
		case "shared":
			q = q.Where("images.visibility = 'shared' AND (images.owner = ? OR "+member+")", append([]any{f.Project}, memberArg...)...)
		default:
			return nil, fmt.Errorf("visibility %q: %w", f.Visibility, ErrNotFound)
		}
	}
	for col, v := range map[string]string{"id": f.ID, "name": f.Name, "status": f.Status, "owner": f.Owner,
		"disk_format": f.DiskFormat, "container_format": f.ContainerFormat} {
		if v != "" {
			q = q.Where("images."+col+" = ?", v)
		}
	}
	if len(f.Tags) > 0 {
		q = q.Where("images.tags @> ?", TextArray(f.Tags))
	}
	if f.SizeMin != nil {
		q = q.Where("images.size >= ?", *f.SizeMin)
	}
	if f.SizeMax != nil {
		q = q.Where("images.size <= ?", *f.SizeMax)
	}
	hidden := false
	if f.Hidden != nil {
		hidden = *f.Hidden
	}
	q = q.Where("images.os_hidden = ?", hidden)
	for k, v := range f.Properties {
		q = q.Where("images.properties ->> ? = ?", k, v)
	}
	sort := f.Sort
	if len(sort) == 0 {
		sort = []SortKey{{Key: "created_at", Desc: true}}
	}
	last := false
	for _, k := range sort {
		if !SortableKeys[k.Key] {
			return nil, fmt.Errorf("sort key %q: %w", k.Key, ErrNotFound)
		}
		q = q.Order(orderBy(k))
		last = k.Desc
	}
	q = q.Order(orderBy(SortKey{Key: "id", Desc: last}))
	var out []Image
	if err := q.Find(&out).Error; err != nil {
		return nil, db.Wrap(err, "list images")
	}
	return out, nil
}

func orderBy(k SortKey) string {
	dir := " ASC"
	if k.Desc {
		dir = " DESC"
	}
	return "images." + strings.ToLower(k.Key) + dir
}

// CountOwned counts the images a project owns (for usage reports).
func (s *Store) CountOwned(ctx context.Context, project string) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&Image{}).Where("owner = ?", project).Count(&n).Error
	return n, db.Wrap(err, "count images")
}

// ResetStatus moves every image in status from to status to and returns
// their IDs (for recovery of uploads a stopped process left behind).
func (s *Store) ResetStatus(ctx context.Context, from, to string) ([]string, error) {
	var ids []string
	res := s.q(ctx).Raw(`UPDATE images SET status = ?, updated_at = ? WHERE status = ? RETURNING id`, to, now(), from).Scan(&ids)
	return ids, db.Wrap(res.Error, "reset images in "+from)
}
