package store

import (
	"context"
	"fmt"
	"slices"
)

// Claim sets what consumerID holds on providerID to resources (class →
// amount), atomically checking for every class that
//
//	used by others + requested <= (total - reserved) * allocation_ratio
//
// and the inventory's min_unit, max_unit and step_size. It locks the
// consumer's row and then the provider's, re-reads usage under the lock,
// writes the allocations and bumps both generations, so concurrent claims
// never overcommit. Claim replaces the consumer's earlier allocations on that
// provider (a retried claim is a no-op) and leaves those on other providers
// alone. A claim that does not fit is a *CapacityError and changes nothing.
//
// The consumer is created on first claim with projectID and userID.
func (s *Store) Claim(ctx context.Context, consumerID, projectID, userID, providerID string, resources map[string]int64) error {
	cid, err := checkUUID("consumer", consumerID)
	if err != nil {
		return err
	}
	if err := checkRequest(resources); err != nil {
		return err
	}
	if projectID == "" || userID == "" {
		return fmt.Errorf("consumer %s: project and user are required: %w", consumerID, ErrInvalid)
	}
	return s.run(ctx, func(tx *Store) error {
		if _, err := tx.upsertConsumer(ctx, cid, projectID, userID); err != nil {
			return err
		}
		ps, err := tx.lockProviders(ctx, []string{providerID})
		if err != nil {
			return err
		}
		if err := tx.place(ctx, cid, ps[0], resources); err != nil {
			return err
		}
		return tx.bumpConsumer(ctx, cid)
	})
}

// place replaces the consumer's allocations on p (locked by the caller)
// after checking they fit beside everyone else's.
func (s *Store) place(ctx context.Context, consumer string, p Provider, resources map[string]int64) error {
	invs, err := s.inventories(ctx, p.UUID)
	if err != nil {
		return err
	}
	var rows []struct {
		ResourceClass string
		Used          int64
	}
	// Read after the provider lock: in READ COMMITTED this statement sees
	// every claim committed before ours got the lock.
	err = s.q(ctx).Raw(`SELECT resource_class, SUM(used) AS used FROM allocations
		WHERE provider_uuid = ? AND consumer_uuid <> ? GROUP BY resource_class`, p.UUID, consumer).Scan(&rows).Error
	if err != nil {
		return wrap(err, "usages of "+p.Name)
	}
	used := map[string]int64{}
	for _, r := range rows {
		used[r.ResourceClass] = r.Used
	}
	for _, rc := range sortedKeys(resources) {
		inv, ok := invs[rc]
		if e := fits(p, rc, inv, ok, used[rc], resources[rc]); e != nil {
			return e
		}
	}
	if err := s.q(ctx).Exec(`DELETE FROM allocations WHERE consumer_uuid = ? AND provider_uuid = ?`, consumer, p.UUID).Error; err != nil {
		return wrap(err, "allocations of "+consumer)
	}
	t := now()
	for _, rc := range sortedKeys(resources) {
		err := s.q(ctx).Exec(`INSERT INTO allocations (consumer_uuid, provider_uuid, resource_class, used, created_at)
			VALUES (?, ?, ?, ?, ?)`, consumer, p.UUID, rc, resources[rc], t).Error
		if err != nil {
			return wrap(err, "allocations of "+consumer)
		}
	}
	return s.bump(ctx, p.UUID)
}

func checkRequest(resources map[string]int64) error {
	if len(resources) == 0 {
		return fmt.Errorf("a claim needs at least one resource: %w", ErrInvalid)
	}
	for rc, n := range resources {
		if !ValidClass(rc) {
			return fmt.Errorf("resource class %q is neither standard nor CUSTOM_: %w", rc, ErrInvalid)
		}
		if n < 1 {
			return fmt.Errorf("amount of %s must be at least 1, not %d: %w", rc, n, ErrInvalid)
		}
	}
	return nil
}

// upsertConsumer creates the consumer or updates its owner, locking its row.
func (s *Store) upsertConsumer(ctx context.Context, id, projectID, userID string) (Consumer, error) {
	var c Consumer
	t := now()
	err := s.q(ctx).Raw(`INSERT INTO consumers (uuid, project_id, user_id, generation, created_at, updated_at)
		VALUES (?, ?, ?, 0, ?, ?)
		ON CONFLICT (uuid) DO UPDATE SET project_id = EXCLUDED.project_id, user_id = EXCLUDED.user_id, updated_at = EXCLUDED.updated_at
		RETURNING *`, id, projectID, userID, t, t).Scan(&c).Error
	return c, wrap(err, "consumer "+id)
}

// lockConsumer takes an existing consumer's row; ok is false if there is none.
func (s *Store) lockConsumer(ctx context.Context, id string) (c Consumer, ok bool, err error) {
	var cs []Consumer
	if err := forUpdate(s.q(ctx)).Where("uuid = ?", id).Find(&cs).Error; err != nil {
		return c, false, wrap(err, "consumer "+id)
	}
	if len(cs) == 0 {
		return c, false, nil
	}
	return cs[0], true, nil
}

func (s *Store) bumpConsumer(ctx context.Context, id string) error {
	err := s.q(ctx).Exec(`UPDATE consumers SET generation = generation + 1, updated_at = ? WHERE uuid = ?`, now(), id).Error
	return wrap(err, "consumer "+id)
}

// providersOf returns the providers the consumers hold allocations on.
func (s *Store) providersOf(ctx context.Context, consumers ...string) ([]string, error) {
	var ids []string
	err := s.q(ctx).Raw(`SELECT DISTINCT provider_uuid::text FROM allocations WHERE consumer_uuid IN ? ORDER BY 1`, consumers).Scan(&ids).Error
	return ids, wrap(err, "allocations")
}

// Release drops every allocation of the consumer and the consumer itself.
// Releasing an unknown consumer is not an error, so Release is idempotent.
func (s *Store) Release(ctx context.Context, consumerID string) error {
	cid, err := checkUUID("consumer", consumerID)
	if err != nil {
		return err
	}
	return s.run(ctx, func(tx *Store) error {
		if _, ok, err := tx.lockConsumer(ctx, cid); err != nil || !ok {
			return err
		}
		provs, err := tx.providersOf(ctx, cid)
		if err != nil {
			return err
		}
		if _, err := tx.lockProviders(ctx, provs); err != nil {
			return err
		}
		if err := tx.q(ctx).Exec(`DELETE FROM consumers WHERE uuid = ?`, cid).Error; err != nil {
			return wrap(err, "consumer "+cid)
		}
		return tx.bump(ctx, provs...)
	})
}

// ReleaseProvider drops the consumer's allocations on one provider (the
// source of a finished move, say) and keeps the others. A consumer left
// with no allocation is removed, as Placement does.
func (s *Store) ReleaseProvider(ctx context.Context, consumerID, providerID string) error {
	cid, err := checkUUID("consumer", consumerID)
	if err != nil {
		return err
	}
	return s.run(ctx, func(tx *Store) error {
		if _, ok, err := tx.lockConsumer(ctx, cid); err != nil || !ok {
			return err
		}
		ps, err := tx.lockProviders(ctx, []string{providerID})
		if err != nil {
			return err
		}
		res := tx.q(ctx).Exec(`DELETE FROM allocations WHERE consumer_uuid = ? AND provider_uuid = ?`, cid, ps[0].UUID)
		if res.Error != nil {
			return wrap(res.Error, "allocations of "+cid)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		if err := tx.bump(ctx, ps[0].UUID); err != nil {
			return err
		}
		return tx.dropIfEmpty(ctx, cid)
	})
}

func (s *Store) dropIfEmpty(ctx context.Context, cid string) error {
	err := s.q(ctx).Exec(`DELETE FROM consumers c WHERE uuid = ? AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.consumer_uuid = c.uuid)`, cid).Error
	if err != nil {
		return wrap(err, "consumer "+cid)
	}
	return s.bumpConsumer(ctx, cid)
}

// Move starts a resize or migration the way Nova does: in one transaction,
// the consumer's current allocations are handed to migrationID (which then
// holds the source resources) and the consumer claims resources on
// newProviderID, which may be the same provider (a resize in place needs
// room for both). ConfirmMove then drops the migration's allocations and
// RevertMove hands them back. If the new claim does not fit, nothing
// changes. Retrying a Move whose migration already holds the source
// allocations only re-claims on the new provider.
func (s *Store) Move(ctx context.Context, consumerID, migrationID, newProviderID string, resources map[string]int64) error {
	cid, err := checkUUID("consumer", consumerID)
	if err != nil {
		return err
	}
	mid, err := checkUUID("migration", migrationID)
	if err != nil {
		return err
	}
	if cid == mid {
		return fmt.Errorf("migration %s must differ from the consumer: %w", mid, ErrInvalid)
	}
	if err := checkRequest(resources); err != nil {
		return err
	}
	return s.run(ctx, func(tx *Store) error {
		// Consumers first, in uuid order, then providers in uuid order:
		// the order every method takes its locks in.
		var c Consumer
		for _, id := range uniqueSorted([]string{cid, mid}) {
			got, ok, err := tx.lockConsumer(ctx, id)
			if err != nil {
				return err
			}
			if id == cid && !ok {
				return fmt.Errorf("consumer %s: %w", cid, ErrNotFound)
			}
			if id == cid {
				c = got
			}
		}
		// A new migration consumer is created with the consumer's owner.
		if _, err := tx.upsertConsumer(ctx, mid, c.ProjectID, c.UserID); err != nil {
			return err
		}
		provs, err := tx.providersOf(ctx, cid, mid)
		if err != nil {
			return err
		}
		ps, err := tx.lockProviders(ctx, append(provs, newProviderID))
		if err != nil {
			return err
		}
		var held int64
		if err := tx.q(ctx).Raw(`SELECT count(*) FROM allocations WHERE consumer_uuid = ?`, mid).Scan(&held).Error; err != nil {
			return wrap(err, "allocations of "+mid)
		}
		if held == 0 {
			err := tx.q(ctx).Exec(`UPDATE allocations SET consumer_uuid = ? WHERE consumer_uuid = ?`, mid, cid).Error
			if err != nil {
				return wrap(err, "move allocations of "+cid)
			}
		} else {
			// A retry: the consumer's allocations are the new claim.
			if err := tx.q(ctx).Exec(`DELETE FROM allocations WHERE consumer_uuid = ?`, cid).Error; err != nil {
				return wrap(err, "allocations of "+cid)
			}
		}
		i := slices.IndexFunc(ps, func(p Provider) bool { return p.UUID == canonical(newProviderID) })
		if err := tx.place(ctx, cid, ps[i], resources); err != nil {
			return err
		}
		if err := tx.bump(ctx, provs...); err != nil {
			return err
		}
		if err := tx.bumpConsumer(ctx, mid); err != nil {
			return err
		}
		return tx.bumpConsumer(ctx, cid)
	})
}

// ConfirmMove ends a move: the migration's (source) allocations are
// dropped.
func (s *Store) ConfirmMove(ctx context.Context, migrationID string) error {
	return s.Release(ctx, migrationID)
}

// RevertMove undoes a move: the consumer's allocations on the new provider
// are dropped and the migration's (source) allocations become the
// consumer's again. With no migration allocations it does nothing.
func (s *Store) RevertMove(ctx context.Context, consumerID, migrationID string) error {
	cid, err := checkUUID("consumer", consumerID)
	if err != nil {
		return err
	}
	mid, err := checkUUID("migration", migrationID)
	if err != nil {
		return err
	}
	return s.run(ctx, func(tx *Store) error {
		found := map[string]bool{}
		for _, id := range uniqueSorted([]string{cid, mid}) {
			_, ok, err := tx.lockConsumer(ctx, id)
			if err != nil {
				return err
			}
			found[id] = ok
		}
		if !found[mid] || !found[cid] {
			return nil
		}
		provs, err := tx.providersOf(ctx, cid, mid)
		if err != nil {
			return err
		}
		if _, err := tx.lockProviders(ctx, provs); err != nil {
			return err
		}
		steps := []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM allocations WHERE consumer_uuid = ?`, []any{cid}},
			{`UPDATE allocations SET consumer_uuid = ? WHERE consumer_uuid = ?`, []any{cid, mid}},
			{`DELETE FROM consumers WHERE uuid = ?`, []any{mid}},
		}
		for _, st := range steps {
			if err := tx.q(ctx).Exec(st.sql, st.args...).Error; err != nil {
				return wrap(err, "revert move of "+cid)
			}
		}
		if err := tx.bump(ctx, provs...); err != nil {
			return err
		}
		return tx.bumpConsumer(ctx, cid)
	})
}

func canonical(id string) string {
	if c, err := checkUUID("", id); err == nil {
		return c
	}
	return id
}
