package store

import (
	"context"

	"github.com/kumo-cloud/kumo/internal/db"
)

// MaxTags is Nova's limit of tags per server.
const MaxTags = 50

// UpdateMetadata changes the metadata of the live instance uuid under a row
// lock: fn receives the current metadata and returns the new one (or an
// error, which aborts). It returns what was stored.
func (s *Store) UpdateMetadata(ctx context.Context, uuid string, fn func(Specs) (Specs, error)) (Specs, error) {
	var out Specs
	err := s.Tx(ctx, func(tx *Store) error {
		in, err := tx.LockInstance(ctx, uuid)
		if err != nil {
			return err
		}
		cur := Specs{}
		for k, v := range in.Metadata {
			cur[k] = v
		}
		if out, err = fn(cur); err != nil {
			return err
		}
		return tx.UpdateInstance(ctx, uuid, map[string]any{"metadata": out})
	})
	return out, err
}

// UpdateTags changes the tags of the live instance uuid under a row lock,
// as UpdateMetadata does for metadata.
func (s *Store) UpdateTags(ctx context.Context, uuid string, fn func([]string) ([]string, error)) ([]string, error) {
	var out []string
	err := s.Tx(ctx, func(tx *Store) error {
		in, err := tx.LockInstance(ctx, uuid)
		if err != nil {
			return err
		}
		if out, err = fn(append([]string{}, in.Tags...)); err != nil {
			return err
		}
		return tx.UpdateInstance(ctx, uuid, map[string]any{"tags": db.TextArray(out)})
	})
	return out, err
}
