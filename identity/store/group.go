package store

import (
	"context"
	"fmt"
)

// Group is a Keystone group of users, local to a domain.
type Group struct {
	ID          string
	Name        string
	Description string
	DomainID    string
}

// GroupFilter selects groups; zero fields match any.
type GroupFilter struct {
	Name     string
	DomainID string
}

type groupRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description string
	DomainID    string
}

func (groupRow) TableName() string { return "groups" }

func (r groupRow) group() Group { return Group(r) }

// CreateGroup inserts g, giving it a new ID if it has none. An unknown
// domain is ErrNotFound.
func (s *Store) CreateGroup(ctx context.Context, g *Group) error {
	if g.ID == "" {
		g.ID = NewID()
	}
	row := groupRow(*g)
	return wrap(s.q(ctx).Create(&row).Error, fmt.Sprintf("group %q", g.Name))
}

// GetGroup returns the group with the given ID.
func (s *Store) GetGroup(ctx context.Context, id string) (Group, error) {
	var row groupRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return Group{}, wrap(err, "group "+id)
	}
	return row.group(), nil
}

// UpdateGroup replaces every field of the group with g's ID.
func (s *Store) UpdateGroup(ctx context.Context, g *Group) error {
	row := groupRow(*g)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id").Updates(&row), "group "+g.ID)
}

// DeleteGroup deletes a group with its memberships and assignments.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&groupRow{}), "group "+id)
}

// ListGroups returns the groups matching f.
func (s *Store) ListGroups(ctx context.Context, f GroupFilter) ([]Group, error) {
	q := s.q(ctx).Order("name, id")
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if f.DomainID != "" {
		q = q.Where("domain_id = ?", f.DomainID)
	}
	var rows []groupRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list groups")
	}
	return groups(rows), nil
}

func groups(rows []groupRow) []Group {
	out := make([]Group, len(rows))
	for i, r := range rows {
		out[i] = r.group()
	}
	return out
}

type groupMemberRow struct {
	GroupID string `gorm:"primaryKey"`
	UserID  string `gorm:"primaryKey"`
}

func (groupMemberRow) TableName() string { return "group_members" }

// AddUserToGroup makes a user a member of a group; adding a member again is
// not an error. An unknown group or user is ErrNotFound.
func (s *Store) AddUserToGroup(ctx context.Context, groupID, userID string) error {
	err := s.q(ctx).Exec(`INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		groupID, userID).Error
	return wrap(err, fmt.Sprintf("group %s member %s", groupID, userID))
}

// RemoveUserFromGroup removes a user from a group; ErrNotFound if the user
// is not a member.
func (s *Store) RemoveUserFromGroup(ctx context.Context, groupID, userID string) error {
	res := s.q(ctx).Where("group_id = ? AND user_id = ?", groupID, userID).Delete(&groupMemberRow{})
	return affected(res, fmt.Sprintf("user %s in group %s", userID, groupID))
}

// IsUserInGroup reports whether a user is a member of a group.
func (s *Store) IsUserInGroup(ctx context.Context, groupID, userID string) (bool, error) {
	var n int64
	err := s.q(ctx).Model(&groupMemberRow{}).Where("group_id = ? AND user_id = ?", groupID, userID).Count(&n).Error
	if err != nil {
		return false, wrap(err, fmt.Sprintf("user %s in group %s", userID, groupID))
	}
	return n > 0, nil
}

// ListGroupUsers returns the members of a group.
func (s *Store) ListGroupUsers(ctx context.Context, groupID string) ([]User, error) {
	var rows []userRow
	err := s.q(ctx).Where("id IN (SELECT user_id FROM group_members WHERE group_id = ?)", groupID).
		Order("name, id").Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "list users of group "+groupID)
	}
	return users(rows), nil
}

// ListUserGroups returns the groups a user is a member of.
func (s *Store) ListUserGroups(ctx context.Context, userID string) ([]Group, error) {
	var rows []groupRow
	err := s.q(ctx).Where("id IN (SELECT group_id FROM group_members WHERE user_id = ?)", userID).
		Order("name, id").Find(&rows).Error
	if err != nil {
		return nil, wrap(err, "list groups of user "+userID)
	}
	return groups(rows), nil
}
