package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kumo-cloud/kumo/internal/glance"
	"github.com/kumo-cloud/kumo/storage/volume/driver"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// opTimeout bounds one driver operation (a copy of a large image included).
const opTimeout = 30 * time.Minute

// handleVolume makes one volume operation so. The volume row holds the
// intent: a message for a volume no longer in the operation's state was
// handled already (or superseded) and is dropped.
func (m *Manager) handleVolume(ctx context.Context, msg work.Volume) error {
	key := "volume:" + msg.VolumeID
	if err := m.busy.wait(ctx, key); err != nil {
		return err
	}
	defer m.busy.done(key)
	v, err := m.store.GetVolume(ctx, msg.VolumeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if v.Host != m.cfg.Host {
		m.log.Warn("volume work for another host dropped", "volume_id", v.ID, "volume_host", v.Host)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	switch msg.Op {
	case work.OpCreate:
		if v.Status == store.StatusCreating {
			m.create(ctx, v, msg)
		}
	case work.OpDelete:
		if v.Status == store.StatusDeleting {
			m.delete(ctx, v)
		}
	case work.OpExtend:
		if v.Status == store.StatusExtending {
			m.extend(ctx, v)
		}
	case work.OpUpload:
		if v.Status == store.StatusUploading {
			m.upload(ctx, v, msg)
		}
	default:
		m.log.Warn("unknown volume operation dropped", "volume_id", v.ID, "op", msg.Op)
	}
	if stopping(ctx) {
		return ctx.Err() // not acked: the message, with its token, comes back after a restart
	}
	return nil
}

// create fills a new volume from its source and makes it available, or
// sets it to error with the reason.
func (m *Manager) create(ctx context.Context, v store.Volume, msg work.Volume) {
	log := m.log.With("volume_id", v.ID)
	dv := driver.Volume{ID: v.ID, SizeGiB: v.Size}
	var err error
	switch {
	case v.ImageID != nil:
		if msg.Token == "" || msg.ImageURL == "" {
			err = errors.New("the request that created the volume from an image was lost")
			break
		}
		gc := glance.New(msg.ImageURL)
		var img *glance.Image
		if img, err = gc.Get(ctx, msg.Token, *v.ImageID); err == nil {
			err = m.driver.CreateFromImage(ctx, dv, imageSource(gc, msg.Token, img))
		}
	case v.SnapshotID != nil:
		err = m.driver.CreateFromSnapshot(ctx, dv, *v.SnapshotID)
	case v.SourceVolID != nil:
		err = m.driver.Clone(ctx, dv, *v.SourceVolID)
	default:
		err = m.driver.Create(ctx, dv)
	}
	if err != nil {
		log.Error("create volume", "error", err)
		m.fail(ctx, v, store.StatusCreating, store.StatusError, err)
		return
	}
	t := time.Now().UTC()
	if err := m.store.UpdateVolume(ctx, v.ID, map[string]any{"status": store.StatusAvailable, "launched_at": t, "error": ""}); err != nil {
		log.Error("record created volume", "error", err)
		return
	}
	log.Info("volume created", "size_gib", v.Size)
	m.event(ctx, v, "create_end", store.StatusAvailable)
}

// delete removes a volume's data, then its row, releasing its quota in
// the same transaction.
func (m *Manager) delete(ctx context.Context, v store.Volume) {
	log := m.log.With("volume_id", v.ID)
	// A cascading delete marked the volume's snapshots deleting: they go
	// first, as their rows reference the volume.
	snaps, err := m.store.ListSnapshots(ctx, store.SnapshotFilter{VolumeID: &v.ID})
	if err != nil {
		log.Error("list snapshots of deleted volume", "error", err)
		return
	}
	for _, sn := range snaps {
		if sn.Status == store.SnapshotDeleting {
			m.deleteSnapshot(ctx, sn)
		}
	}
	if err := m.driver.Delete(ctx, v.ID); err != nil && !errors.Is(err, driver.ErrNotFound) {
		log.Error("delete volume", "error", err)
		m.fail(ctx, v, store.StatusDeleting, store.StatusErrorDeleting, err)
		return
	}
	err = m.store.Tx(ctx, func(tx *store.Store) error {
		cur, err := tx.LockVolume(ctx, v.ID)
		if err != nil {
			return err
		}
		if cur.Status != store.StatusDeleting {
			return nil
		}
		if err := tx.DeleteVolume(ctx, v.ID); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, m.quota, v.ProjectID, map[string]int64{
			store.ResourceVolumes: -1, store.ResourceGigabytes: -int64(cur.Size)})
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Error("remove deleted volume", "error", err)
		return
	}
	log.Info("volume deleted")
	m.event(ctx, v, "delete_end", "deleted")
}

// extend grows a volume to its new_size; a failure gives the quota of the
// growth back.
func (m *Manager) extend(ctx context.Context, v store.Volume) {
	log := m.log.With("volume_id", v.ID)
	if v.NewSize <= v.Size {
		_, _ = m.store.SetVolumeStatus(ctx, v.ID, store.StatusAvailable, store.StatusExtending)
		return
	}
	if err := m.driver.Extend(ctx, v.ID, v.NewSize); err != nil {
		if stopping(ctx) {
			return
		}
		log.Error("extend volume", "error", err)
		terr := m.store.Tx(ctx, func(tx *store.Store) error {
			cur, err := tx.LockVolume(ctx, v.ID)
			if err != nil || cur.Status != store.StatusExtending {
				return err
			}
			if err := tx.UpdateVolume(ctx, v.ID, map[string]any{"status": store.StatusErrorExtending, "new_size": 0, "error": err.Error()}); err != nil {
				return err
			}
			return tx.ConsumeQuota(ctx, m.quota, v.ProjectID, map[string]int64{store.ResourceGigabytes: -int64(cur.NewSize - cur.Size)})
		})
		if terr != nil {
			log.Error("record failed extend", "error", terr)
		}
		return
	}
	if err := m.store.UpdateVolume(ctx, v.ID, map[string]any{"status": store.StatusAvailable, "size": v.NewSize, "new_size": 0}); err != nil {
		log.Error("record extended volume", "error", err)
		return
	}
	log.Info("volume extended", "size_gib", v.NewSize)
	v.Size = v.NewSize
	m.event(ctx, v, "resize_end", store.StatusAvailable)
}

// upload writes a volume's data into the image made for it; the volume is
// available again either way, and a failed upload's image is deleted.
func (m *Manager) upload(ctx context.Context, v store.Volume, msg work.Volume) {
	log := m.log.With("volume_id", v.ID, "image_id", v.UploadImageID)
	err := errors.New("the request that uploaded the volume was lost")
	if msg.Token != "" && msg.ImageURL != "" && v.UploadImageID != "" {
		err = m.uploadData(ctx, glance.New(msg.ImageURL), msg.Token, v.ID, v.UploadImageID, msg.DiskFormat)
		if err != nil && stopping(ctx) {
			return
		}
		if err != nil {
			if derr := glance.New(msg.ImageURL).Delete(context.WithoutCancel(ctx), msg.Token, v.UploadImageID); derr != nil {
				log.Warn("delete image of failed upload", "error", derr)
			}
		}
	}
	cols := map[string]any{"status": store.StatusAvailable, "upload_image_id": ""}
	if err != nil {
		log.Error("upload volume to image", "error", err)
		cols["error"] = err.Error()
	} else {
		log.Info("volume uploaded to image")
	}
	if uerr := m.store.UpdateVolume(ctx, v.ID, cols); uerr != nil {
		log.Error("record uploaded volume", "error", uerr)
		return
	}
	m.event(ctx, v, "upload_end", store.StatusAvailable)
}

// uploadData streams the driver's export of volume id into image imageID.
func (m *Manager) uploadData(ctx context.Context, gc *glance.Client, token, id, imageID, format string) error {
	if format == "" {
		format = "raw"
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := m.driver.Export(ctx, id, format, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	uerr := gc.Upload(ctx, token, imageID, pr)
	pr.CloseWithError(errors.New("upload ended"))
	if eerr := <-done; eerr != nil {
		return fmt.Errorf("export volume: %w", eerr)
	}
	return uerr
}

// stopping reports whether an operation failed because the manager is
// stopping: its volume then stays in its transitional state for the next
// start's reconcile, rather than being failed.
func stopping(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// fail moves a volume from a transitional state to an error state and
// records why.
func (m *Manager) fail(ctx context.Context, v store.Volume, from, to string, cause error) {
	if stopping(ctx) {
		m.log.Warn("volume operation cut by a stop; it is retried at the next start", "volume_id", v.ID, "status", from)
		return
	}
	ok, err := m.store.SetVolumeStatus(ctx, v.ID, to, from)
	if err == nil && ok {
		err = m.store.UpdateVolume(ctx, v.ID, map[string]any{"error": cause.Error()})
	}
	if err != nil {
		m.log.Error("record volume failure", "volume_id", v.ID, "error", err)
	}
	m.event(ctx, v, "error", to)
}

func (m *Manager) event(ctx context.Context, v store.Volume, action, status string) {
	work.PublishEvent(ctx, m.bus, m.log, "volume", action, v.ID, v.ProjectID,
		map[string]any{"id": v.ID, "status": status, "size": v.Size, "host": v.Host})
}
