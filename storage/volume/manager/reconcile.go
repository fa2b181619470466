package manager

import (
	"context"

	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// reconcile runs once at start, before any work is consumed: whatever a
// stopped process left in a transitional state on this host is finished
// (every driver call is idempotent) or, when it needed the caller's token
// that only the lost message carried, failed. Work still queued for such
// a volume finds it settled and is dropped.
func (m *Manager) reconcile(ctx context.Context) error {
	pending, err := m.queue.Pending(ctx)
	if err != nil {
		return err
	}
	vols, err := m.store.VolumesOnHost(ctx, m.cfg.Host, store.StatusCreating, store.StatusDeleting, store.StatusExtending, store.StatusUploading)
	if err != nil {
		return err
	}
	for _, v := range vols {
		m.log.Warn("recovering volume left in a transitional state", "volume_id", v.ID, "status", v.Status)
		switch v.Status {
		case store.StatusCreating:
			if v.ImageID != nil && pending > 0 {
				continue // its message, with the token, may still be queued
			}
			m.create(ctx, v, work.Volume{})
		case store.StatusDeleting:
			m.delete(ctx, v)
		case store.StatusExtending:
			m.extend(ctx, v)
		case store.StatusUploading:
			if pending > 0 {
				continue
			}
			m.upload(ctx, v, work.Volume{})
		}
	}
	snaps, err := m.store.SnapshotsOnHost(ctx, m.cfg.Host, store.SnapshotCreating, store.SnapshotDeleting)
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		m.log.Warn("recovering snapshot left in a transitional state", "snapshot_id", sn.ID, "status", sn.Status)
		if sn.Status == store.SnapshotCreating {
			m.createSnapshot(ctx, sn)
		} else {
			m.deleteSnapshot(ctx, sn)
		}
	}
	return nil
}
