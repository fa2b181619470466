package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// AppCredential is an application credential: a secret with which a user
// authenticates to one project, with a subset of the user's roles there
// (RoleIDs).
type AppCredential struct {
	ID          string
	Name        string
	Description string
	UserID      string
	ProjectID   string
	SecretHash  string
	// ExpiresAt is nil for a credential that does not expire.
	ExpiresAt *time.Time
	// Unrestricted credentials may create further credentials and trusts.
	Unrestricted bool
	RoleIDs      []string
	CreatedAt    time.Time
}

type appCredRow struct {
	ID           string `gorm:"primaryKey"`
	Name         string
	Description  string
	UserID       string
	ProjectID    string
	SecretHash   string
	ExpiresAt    *time.Time
	Unrestricted bool
	RoleIDs      db.TextArray `gorm:"column:role_ids"`
	CreatedAt    time.Time
}

func (appCredRow) TableName() string { return "application_credentials" }

func (r appCredRow) appCredential() AppCredential {
	return AppCredential{
		ID: r.ID, Name: r.Name, Description: r.Description, UserID: r.UserID, ProjectID: r.ProjectID,
		SecretHash: r.SecretHash, ExpiresAt: utcPtr(r.ExpiresAt), Unrestricted: r.Unrestricted,
		RoleIDs: clone(r.RoleIDs), CreatedAt: r.CreatedAt.UTC(),
	}
}

// CreateAppCredential inserts c, giving it a new ID if it has none, non-nil
// RoleIDs and setting CreatedAt. Names are unique per user; an unknown user
// or project is ErrNotFound.
func (s *Store) CreateAppCredential(ctx context.Context, c *AppCredential) error {
	if c.ID == "" {
		c.ID = NewID()
	}
	c.RoleIDs = clone(c.RoleIDs)
	row := appCredRow{
		ID: c.ID, Name: c.Name, Description: c.Description, UserID: c.UserID, ProjectID: c.ProjectID,
		SecretHash: c.SecretHash, ExpiresAt: utcPtr(c.ExpiresAt), Unrestricted: c.Unrestricted,
		RoleIDs: clone(c.RoleIDs), CreatedAt: c.CreatedAt,
	}
	if err := s.q(ctx).Create(&row).Error; err != nil {
		return wrap(err, fmt.Sprintf("application credential %q", c.Name))
	}
	c.CreatedAt = row.CreatedAt.UTC()
	return nil
}

// GetAppCredential returns the application credential with the given ID.
func (s *Store) GetAppCredential(ctx context.Context, id string) (AppCredential, error) {
	var row appCredRow
	if err := s.q(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return AppCredential{}, wrap(err, "application credential "+id)
	}
	return row.appCredential(), nil
}

// GetAppCredentialByName returns a user's application credential by name.
func (s *Store) GetAppCredentialByName(ctx context.Context, userID, name string) (AppCredential, error) {
	var row appCredRow
	if err := s.q(ctx).Where("user_id = ? AND name = ?", userID, name).Take(&row).Error; err != nil {
		return AppCredential{}, wrap(err, fmt.Sprintf("application credential %q of user %s", name, userID))
	}
	return row.appCredential(), nil
}

// DeleteAppCredential deletes an application credential.
func (s *Store) DeleteAppCredential(ctx context.Context, id string) error {
	return affected(s.q(ctx).Where("id = ?", id).Delete(&appCredRow{}), "application credential "+id)
}

// ListAppCredentials returns the application credentials of a user with a
// name; "" matches any user or name.
func (s *Store) ListAppCredentials(ctx context.Context, userID, name string) ([]AppCredential, error) {
	q := s.q(ctx).Order("name, id")
	if userID != "" {
		q = q.Where("user_id = ?", userID)
	}
	if name != "" {
		q = q.Where("name = ?", name)
	}
	var rows []appCredRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list application credentials")
	}
	out := make([]AppCredential, len(rows))
	for i, r := range rows {
		out[i] = r.appCredential()
	}
	return out, nil
}
