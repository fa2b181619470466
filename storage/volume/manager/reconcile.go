package manager

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// tokenLifetime bounds how long a queued message carrying the caller's
// token (an image create, an upload) can still be handled: past it, the
// token has expired and the operation fails.
const tokenLifetime = time.Hour

// reconcile finishes or fails what is left in a transitional state on this
// host: every driver call is idempotent, so a create, delete, extend or
// snapshot is retried; an image create or an upload, which need the
// caller's token that only their message carried, fail once no message
// can still bring it. The first pass (staleAfter 0) takes everything, as
// nothing of this manager ran before it; later passes skip what is younger
// than staleAfter. Either skips what the consumers are running (busy).
func (m *Manager) reconcile(ctx context.Context, staleAfter time.Duration) error {
	pending, err := m.queue.Pending(ctx)
	if err != nil {
		return err
	}
	vols, err := m.store.VolumesOnHost(ctx, m.cfg.Host, store.StatusCreating, store.StatusDeleting, store.StatusExtending, store.StatusUploading)
	if err != nil {
		return err
	}
	for _, v := range vols {
		age := time.Since(v.UpdatedAt)
		if age < staleAfter {
			continue
		}
		needsToken := v.Status == store.StatusUploading || v.Status == store.StatusCreating && v.ImageID != nil
		if needsToken && pending > 0 && age < tokenLifetime {
			continue // its message, with the token, may still be queued
		}
		m.runVolume(ctx, v)
	}
	snaps, err := m.store.SnapshotsOnHost(ctx, m.cfg.Host, store.SnapshotCreating, store.SnapshotDeleting)
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		if time.Since(sn.UpdatedAt) < staleAfter {
			continue
		}
		key := "snapshot:" + sn.ID
		if !m.busy.try(key) {
			continue
		}
		m.log.Warn("recovering snapshot left in a transitional state", "snapshot_id", sn.ID, "status", sn.Status)
		if cur, err := m.store.GetSnapshot(ctx, sn.ID); err == nil && cur.Status == sn.Status {
			if sn.Status == store.SnapshotCreating {
				m.createSnapshot(ctx, cur)
			} else {
				m.deleteSnapshot(ctx, cur)
			}
		}
		m.busy.done(key)
	}
	return nil
}

// runVolume redoes a volume's transitional operation unless one is
// running; a message-less image create or upload fails.
func (m *Manager) runVolume(ctx context.Context, v store.Volume) {
	key := "volume:" + v.ID
	if !m.busy.try(key) {
		return
	}
	defer m.busy.done(key)
	cur, err := m.store.GetVolume(ctx, v.ID)
	if err != nil || cur.Status != v.Status {
		return // settled meanwhile
	}
	m.log.Warn("recovering volume left in a transitional state", "volume_id", v.ID, "status", v.Status)
	switch cur.Status {
	case store.StatusCreating:
		m.create(ctx, cur, work.Volume{})
	case store.StatusDeleting:
		m.delete(ctx, cur)
	case store.StatusExtending:
		m.extend(ctx, cur)
	case store.StatusUploading:
		m.upload(ctx, cur, work.Volume{})
	}
}
