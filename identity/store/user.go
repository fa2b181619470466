package store

import (
	"context"
	"fmt"
	"time"
)

// User is a Keystone user, local to a domain.
type User struct {
	ID               string
	Name             string
	DomainID         string
	DefaultProjectID string
	// PasswordHash is "" for a user without a password.
	PasswordHash string
	Enabled      bool
	// Extra holds attributes Keystone does not define (email, ...); it may
	// be nil.
	Extra             map[string]any
	PasswordExpiresAt *time.Time
	// FailedLogins counts failed password checks since the last success or
	// lock; LockedUntil is set while the account is locked out.
	FailedLogins int
	LockedUntil  *time.Time
	CreatedAt    time.Time
}

// UserFilter selects users; zero fields match any.
type UserFilter struct {
	Name     string
	DomainID string
	Enabled  *bool
}

type userRow struct {
	ID                string `gorm:"primaryKey"`
	Name              string
	DomainID          string
	DefaultProjectID  *string
	PasswordHash      string
	Enabled           bool
	Extra             map[string]any `gorm:"serializer:json"`
	PasswordExpiresAt *time.Time
	FailedLogins      int
	LockedUntil       *time.Time
	CreatedAt         time.Time
}

func (userRow) TableName() string { return "users" }

func toUserRow(u *User) userRow {
	return userRow{
		ID: u.ID, Name: u.Name, DomainID: u.DomainID, DefaultProjectID: nullable(u.DefaultProjectID),
		PasswordHash: u.PasswordHash, Enabled: u.Enabled, Extra: u.Extra,
		PasswordExpiresAt: utcPtr(u.PasswordExpiresAt), FailedLogins: u.FailedLogins,
		LockedUntil: utcPtr(u.LockedUntil), CreatedAt: u.CreatedAt,
	}
}

func (r userRow) user() User {
	return User{
		ID: r.ID, Name: r.Name, DomainID: r.DomainID, DefaultProjectID: deref(r.DefaultProjectID),
		PasswordHash: r.PasswordHash, Enabled: r.Enabled, Extra: r.Extra,
		PasswordExpiresAt: utcPtr(r.PasswordExpiresAt), FailedLogins: r.FailedLogins,
		LockedUntil: utcPtr(r.LockedUntil), CreatedAt: r.CreatedAt.UTC(),
	}
}

// utcPtr copies an optional time, in UTC.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// CreateUser inserts u, giving it a new ID if it has none and setting
// CreatedAt. An unknown domain or default project is ErrNotFound.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	if u.ID == "" {
		u.ID = NewID()
	}
	row := toUserRow(u)
	if err := s.q(ctx).Create(&row).Error; err != nil {
		return wrap(err, fmt.Sprintf("user %q", u.Name))
	}
	u.CreatedAt = row.CreatedAt.UTC()
	return nil
}

// GetUser returns the user with the given ID.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	var row userRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return User{}, wrap(err, "user "+id)
	}
	return row.user(), nil
}

// GetUserByName returns the user named name in a domain.
func (s *Store) GetUserByName(ctx context.Context, domainID, name string) (User, error) {
	var row userRow
	if err := s.q(ctx).Where("domain_id = ? AND name = ?", domainID, name).Take(&row).Error; err != nil {
		return User{}, wrap(err, fmt.Sprintf("user %q in domain %s", name, domainID))
	}
	return row.user(), nil
}

// UpdateUser replaces every field of the user with u's ID, except
// CreatedAt.
func (s *Store) UpdateUser(ctx context.Context, u *User) error {
	row := toUserRow(u)
	return affected(s.q(ctx).Model(&row).Select("*").Omit("id", "created_at").Updates(&row), "user "+u.ID)
}

// DeleteUser deletes a user with its group memberships, assignments and
// application credentials.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&userRow{}), "user "+id)
}

// ListUsers returns the users matching f.
func (s *Store) ListUsers(ctx context.Context, f UserFilter) ([]User, error) {
	q := s.q(ctx).Order("name, id")
	if f.Name != "" {
		q = q.Where("name = ?", f.Name)
	}
	if f.DomainID != "" {
		q = q.Where("domain_id = ?", f.DomainID)
	}
	if f.Enabled != nil {
		q = q.Where("enabled = ?", *f.Enabled)
	}
	var rows []userRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list users")
	}
	return users(rows), nil
}

func users(rows []userRow) []User {
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out
}

// RecordLoginFailure counts a failed password check for a user. When the
// count reaches lockAfter (if lockAfter > 0) the user is locked for lockFor
// and the count starts again from zero, so that once the lock expires the
// user again has lockAfter attempts. It is one statement, so concurrent
// failures are all counted.
func (s *Store) RecordLoginFailure(ctx context.Context, userID string, lockAfter int, lockFor time.Duration) error {
	until := now().Add(lockFor)
	res := s.q(ctx).Exec(`UPDATE users SET
		locked_until = CASE WHEN @after > 0 AND failed_logins + 1 >= @after THEN CAST(@until AS timestamptz) ELSE locked_until END,
		failed_logins = CASE WHEN @after > 0 AND failed_logins + 1 >= @after THEN 0 ELSE failed_logins + 1 END
		WHERE id = @id`,
		map[string]any{"after": lockAfter, "until": until, "id": userID})
	return affected(res, "user "+userID)
}

// ResetLoginFailures clears a user's failure count and lock, after a
// successful login or by an administrator.
func (s *Store) ResetLoginFailures(ctx context.Context, userID string) error {
	res := s.q(ctx).Model(&userRow{}).Where("id = ?", userID).
		Updates(map[string]any{"failed_logins": 0, "locked_until": nil})
	return affected(res, "user "+userID)
}
