package store

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Member statuses.
const (
	MemberPending  = "pending"
	MemberAccepted = "accepted"
	MemberRejected = "rejected"
)

// Member is a project an image is shared with.
type Member struct {
	ImageID   string `gorm:"primaryKey"`
	Member    string `gorm:"primaryKey"`
	Status    string
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
}

// TableName implements gorm's tabler.
func (Member) TableName() string { return "image_members" }

// AddMember shares an image with a project (pending); an existing membership
// is ErrConflict.
func (s *Store) AddMember(ctx context.Context, m *Member) error {
	m.CreatedAt, m.UpdatedAt = now(), now()
	if m.Status == "" {
		m.Status = MemberPending
	}
	return db.Wrap(s.q(ctx).Create(m).Error, "member "+m.Member+" of image "+m.ImageID)
}

// GetMember returns one membership.
func (s *Store) GetMember(ctx context.Context, imageID, member string) (Member, error) {
	var m Member
	err := s.q(ctx).Where("image_id = ? AND member = ?", imageID, member).Take(&m).Error
	return m, db.Wrap(err, "member "+member+" of image "+imageID)
}

// ListMembers returns an image's memberships, oldest first.
func (s *Store) ListMembers(ctx context.Context, imageID string) ([]Member, error) {
	var out []Member
	err := s.q(ctx).Where("image_id = ?", imageID).Order("created_at, member").Find(&out).Error
	return out, db.Wrap(err, "members of image "+imageID)
}

// SetMemberStatus changes a membership's status.
func (s *Store) SetMemberStatus(ctx context.Context, imageID, member, status string) (Member, error) {
	res := s.q(ctx).Model(&Member{}).Where("image_id = ? AND member = ?", imageID, member).
		Updates(map[string]any{"status": status, "updated_at": now()})
	if err := db.Affected(res, "member "+member+" of image "+imageID); err != nil {
		return Member{}, err
	}
	return s.GetMember(ctx, imageID, member)
}

// DeleteMember stops sharing an image with a project.
func (s *Store) DeleteMember(ctx context.Context, imageID, member string) error {
	res := s.q(ctx).Where("image_id = ? AND member = ?", imageID, member).Delete(&Member{})
	return db.Affected(res, "member "+member+" of image "+imageID)
}
