package manager

import (
	"context"
	"errors"

	"github.com/kumo-cloud/kumo/storage/volume/driver"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// handleSnapshot creates or deletes one snapshot; like handleVolume it
// acts only on a snapshot still in the operation's state.
func (m *Manager) handleSnapshot(ctx context.Context, msg work.Snapshot) error {
	key := "snapshot:" + msg.SnapshotID
	if err := m.busy.wait(ctx, key); err != nil {
		return err
	}
	defer m.busy.done(key)
	sn, err := m.store.GetSnapshot(ctx, msg.SnapshotID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	switch {
	case msg.Op == work.SnapCreate && sn.Status == store.SnapshotCreating:
		m.createSnapshot(ctx, sn)
	case msg.Op == work.SnapDelete && sn.Status == store.SnapshotDeleting:
		m.deleteSnapshot(ctx, sn)
	}
	if stopping(ctx) {
		return ctx.Err()
	}
	return nil
}

func (m *Manager) createSnapshot(ctx context.Context, sn store.Snapshot) {
	log := m.log.With("snapshot_id", sn.ID, "volume_id", sn.VolumeID)
	status := store.SnapshotAvailable
	cols := map[string]any{}
	if err := m.driver.CreateSnapshot(ctx, sn.VolumeID, sn.ID); err != nil {
		if stopping(ctx) {
			return
		}
		log.Error("create snapshot", "error", err)
		status, cols["error"] = store.SnapshotError, err.Error()
	}
	cols["status"] = status
	if err := m.store.UpdateSnapshot(ctx, sn.ID, cols); err != nil {
		log.Error("record snapshot", "error", err)
		return
	}
	m.snapEvent(ctx, sn, "create_end", status)
}

func (m *Manager) deleteSnapshot(ctx context.Context, sn store.Snapshot) {
	log := m.log.With("snapshot_id", sn.ID)
	if err := m.driver.DeleteSnapshot(ctx, sn.ID); err != nil && !errors.Is(err, driver.ErrNotFound) {
		if stopping(ctx) {
			return
		}
		log.Error("delete snapshot", "error", err)
		_, _ = m.store.SetSnapshotStatus(ctx, sn.ID, store.SnapshotErrorDeleting, store.SnapshotDeleting)
		m.snapEvent(ctx, sn, "error", store.SnapshotErrorDeleting)
		return
	}
	err := m.store.Tx(ctx, func(tx *store.Store) error {
		cur, err := tx.LockSnapshot(ctx, sn.ID)
		if err != nil || cur.Status != store.SnapshotDeleting {
			return err
		}
		if err := tx.DeleteSnapshot(ctx, sn.ID); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, m.quota, sn.ProjectID, map[string]int64{
			store.ResourceSnapshots: -1, store.ResourceGigabytes: -int64(sn.Size)})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Error("remove deleted snapshot", "error", err)
		return
	}
	m.snapEvent(ctx, sn, "delete_end", "deleted")
}

func (m *Manager) snapEvent(ctx context.Context, sn store.Snapshot, action, status string) {
	work.PublishEvent(ctx, m.bus, m.log, "snapshot", action, sn.ID, sn.ProjectID,
		map[string]any{"id": sn.ID, "status": status, "size": sn.Size, "volume_id": sn.VolumeID})
}
