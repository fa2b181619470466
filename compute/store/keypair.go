package store

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// KeyPair is a row of the key_pairs table: a user's public key.
type KeyPair struct {
	ID          int64 `gorm:"primaryKey"`
	UserID      string
	ProjectID   string
	Name        string
	Type        string
	PublicKey   string
	Fingerprint string
	CreatedAt   time.Time
	UpdatedAt   *time.Time
}

// TableName implements gorm's tabler.
func (KeyPair) TableName() string { return "key_pairs" }

// CreateKeyPair inserts k; ErrConflict if the user has a key of that name.
func (s *Store) CreateKeyPair(ctx context.Context, k *KeyPair) error {
	k.CreatedAt = now()
	return db.Wrap(s.q(ctx).Omit("id").Create(k).Error, "key pair "+k.Name)
}

// GetKeyPair returns a user's key pair by name.
func (s *Store) GetKeyPair(ctx context.Context, userID, name string) (KeyPair, error) {
	var k KeyPair
	err := s.q(ctx).Where("user_id = ? AND name = ?", userID, name).Take(&k).Error
	return k, db.Wrap(err, "key pair "+name)
}

// ListKeyPairs returns a user's key pairs by name, those after marker (a
// name) if it is set, at most limit of them if it is positive.
func (s *Store) ListKeyPairs(ctx context.Context, userID, marker string, limit int) ([]KeyPair, error) {
	q := s.q(ctx).Where("user_id = ?", userID)
	if marker != "" {
		var n int64
		if err := s.q(ctx).Model(&KeyPair{}).Where("user_id = ? AND name = ?", userID, marker).Count(&n).Error; err != nil {
			return nil, db.Wrap(err, "key pair marker")
		}
		if n == 0 {
			return nil, db.Wrap(errMarker(marker), "key pair marker")
		}
		q = q.Where("name > ?", marker)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var out []KeyPair
	return out, db.Wrap(q.Order("name").Find(&out).Error, "list key pairs")
}

// DeleteKeyPair removes a user's key pair.
func (s *Store) DeleteKeyPair(ctx context.Context, userID, name string) error {
	return db.Affected(s.q(ctx).Where("user_id = ? AND name = ?", userID, name).Delete(&KeyPair{}), "key pair "+name)
}

// CountKeyPairs counts a user's key pairs.
func (s *Store) CountKeyPairs(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := s.q(ctx).Model(&KeyPair{}).Where("user_id = ?", userID).Count(&n).Error
	return n, db.Wrap(err, "count key pairs")
}
