package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// ConsoleToken is a row of console_auth_tokens: the right to open one
// remote console of one instance until Expires. Only the token's SHA-256
// is stored.
type ConsoleToken struct {
	ID            int64 `gorm:"primaryKey"`
	TokenHash     string
	ConsoleType   string
	Host          string
	InstanceUUID  string
	AccessURLBase string `gorm:"column:access_url_base"`
	Expires       time.Time
	CreatedAt     time.Time
}

// TableName implements gorm's tabler.
func (ConsoleToken) TableName() string { return "console_auth_tokens" }

// HashConsoleToken is how a console token is stored and looked up.
func HashConsoleToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateConsoleToken stores a token for t's instance (t.TokenHash must be
// set) and, in passing, deletes every expired token.
func (s *Store) CreateConsoleToken(ctx context.Context, t *ConsoleToken) error {
	t.CreatedAt = now()
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Where("expires <= ?", t.CreatedAt).Delete(&ConsoleToken{}).Error; err != nil {
			return db.Wrap(err, "expire console tokens")
		}
		return db.Wrap(tx.q(ctx).Omit("id").Create(t).Error, "console token")
	})
}

// ConsumeConsoleToken deletes the unexpired token with that hash and
// returns it: a token authorises one connection only. ErrNotFound if it
// never existed, was used, or expired.
func (s *Store) ConsumeConsoleToken(ctx context.Context, tokenHash string) (ConsoleToken, error) {
	var rows []ConsoleToken
	err := s.q(ctx).Raw(`DELETE FROM console_auth_tokens WHERE token_hash = ? AND expires > ? RETURNING *`,
		tokenHash, now()).Scan(&rows).Error
	if err != nil {
		return ConsoleToken{}, db.Wrap(err, "console token")
	}
	if len(rows) == 0 {
		return ConsoleToken{}, fmt.Errorf("console token: %w", ErrNotFound)
	}
	return rows[0], nil
}
