package cinderapi

import (
	"context"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

func (s *Service) listSnapshots(c *gin.Context, v Version) (*api.Response, error) {
	return s.snapshotList(c, v, false)
}

func (s *Service) listSnapshotsDetail(c *gin.Context, v Version) (*api.Response, error) {
	return s.snapshotList(c, v, true)
}

// snapshotList lists the caller's snapshots with filters, sorting and
// pagination. Cinder shows snapshots in full in both lists.
func (s *Service) snapshotList(c *gin.Context, ver Version, detail bool) (*api.Response, error) {
	k := callerOf(c)
	f := store.SnapshotFilter{ProjectID: k.project}
	if all, _ := boolParam(c.Query("all_tenants")); all && k.admin {
		f.ProjectID = c.Query("project_id")
	}
	if n, ok := c.GetQuery("name"); ok {
		f.Name = &n
	}
	if st, ok := c.GetQuery("status"); ok {
		f.Status = &st
	}
	if vid, ok := c.GetQuery("volume_id"); ok {
		f.VolumeID = &vid
	}
	var err error
	if f.Sort, err = parseSort(c, store.SnapshotSortKeys); err != nil {
		return nil, err
	}
	snaps, err := s.store.ListSnapshots(c.Request.Context(), f)
	if err != nil {
		return nil, api.Internal(err)
	}
	total := len(snaps)
	snaps, more, err := page(snaps, func(sn store.Snapshot) string { return sn.ID }, c)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(snaps))
	for _, sn := range snaps {
		out = append(out, s.snapshotView(sn, ver))
	}
	body := gin.H{"snapshots": out}
	if more && len(snaps) > 0 {
		kind := "snapshots"
		if detail {
			kind = "snapshots/detail"
		}
		body["snapshots_links"] = s.nextLink(c, kind, snaps[len(snaps)-1].ID)
	}
	if wc, _ := boolParam(c.Query("with_count")); wc && ver.At(45) {
		body["count"] = total
	}
	return api.OK(body), nil
}

func (s *Service) getSnapshot(c *gin.Context, ver Version) (*api.Response, error) {
	return api.OK(gin.H{"snapshot": s.snapshotView(c.MustGet(ctxSnapshot).(store.Snapshot), ver)}), nil
}

// createSnapshot snapshots an available volume (an in-use one with
// force), charging the snapshot and its size with the row.
func (s *Service) createSnapshot(c *gin.Context, ver Version) (*api.Response, error) {
	var body struct {
		Snapshot *struct {
			VolumeID    string            `json:"volume_id"`
			Force       any               `json:"force"`
			Name        *string           `json:"name"`
			Description *string           `json:"description"`
			DisplayName *string           `json:"display_name"`
			DisplayDesc *string           `json:"display_description"`
			Metadata    map[string]string `json:"metadata"`
		} `json:"snapshot"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	b := body.Snapshot
	if b == nil {
		return nil, api.BadRequest("Missing required element 'snapshot' in request body.")
	}
	if b.VolumeID == "" {
		return nil, api.BadRequest("Invalid input for field/attribute snapshot. 'volume_id' is a required property")
	}
	if err := checkMetadata(b.Metadata); err != nil {
		return nil, err
	}
	force := false
	switch f := b.Force.(type) {
	case bool:
		force = f
	case string:
		var ok bool
		if force, ok = boolParam(f); !ok {
			return nil, invalidInput("Invalid value '%s' for force.", f)
		}
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	sn := store.Snapshot{ID: uuid.NewString(), ProjectID: k.project, UserID: k.user, VolumeID: b.VolumeID,
		Name: first(b.Name, b.DisplayName), Description: first(b.Description, b.DisplayDesc), Status: store.SnapshotCreating,
		Metadata: store.Meta(b.Metadata)}
	var host string
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		v, err := tx.LockVolume(ctx, b.VolumeID)
		if err == nil && !k.sees(v.ProjectID) {
			err = store.ErrNotFound
		}
		if err != nil {
			return notFound(err, "Volume %s could not be found.", b.VolumeID)
		}
		ok := v.Status == store.StatusAvailable || force && v.Status == store.StatusInUse
		if !ok {
			if v.Status == store.StatusInUse {
				return invalidVolume("Volume %s status must be available, but current status is: in-use.", v.ID)
			}
			return invalidVolume("Volume %s status must be available or in-use, but current status is: %s.", v.ID, v.Status)
		}
		sn.Size, sn.ProjectID, host = v.Size, v.ProjectID, v.Host
		if err := tx.CreateSnapshot(ctx, &sn); err != nil {
			return api.Internal(err)
		}
		return tx.ConsumeQuota(ctx, s.quota, v.ProjectID, map[string]int64{store.ResourceSnapshots: 1, store.ResourceGigabytes: int64(v.Size)})
	})
	if err != nil {
		return nil, quotaError(err, sn.Size)
	}
	if err := s.dispatchSnapshot(ctx, host, work.Snapshot{SnapshotID: sn.ID, Op: work.SnapCreate}); err != nil {
		// Nothing will make it: the row and its quota go together.
		uerr := s.store.Tx(context.WithoutCancel(ctx), func(tx *store.Store) error {
			if err := tx.DeleteSnapshot(ctx, sn.ID); err != nil {
				return err
			}
			return tx.ConsumeQuota(ctx, s.quota, sn.ProjectID, map[string]int64{store.ResourceSnapshots: -1, store.ResourceGigabytes: -int64(sn.Size)})
		})
		if uerr != nil {
			s.log.Error("undo snapshot whose work was not handed over", "snapshot_id", sn.ID, "error", uerr)
		}
		return nil, err
	}
	work.PublishEvent(ctx, s.bus, s.log, "snapshot", "create_start", sn.ID, sn.ProjectID, map[string]any{"id": sn.ID, "volume_id": sn.VolumeID})
	return api.Accepted(gin.H{"snapshot": s.snapshotView(sn, ver)}), nil
}

// updateSnapshot changes a snapshot's name and description.
func (s *Service) updateSnapshot(c *gin.Context, ver Version) (*api.Response, error) {
	var body struct {
		Snapshot *struct {
			Name        *string `json:"name"`
			Description *string `json:"description"`
			DisplayName *string `json:"display_name"`
			DisplayDesc *string `json:"display_description"`
		} `json:"snapshot"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.Snapshot == nil {
		return nil, api.BadRequest("Missing required element 'snapshot' in request body.")
	}
	sn := c.MustGet(ctxSnapshot).(store.Snapshot)
	cols := map[string]any{}
	if n := first(body.Snapshot.Name, body.Snapshot.DisplayName); n != nil {
		cols["name"] = *n
	}
	if d := first(body.Snapshot.Description, body.Snapshot.DisplayDesc); d != nil {
		cols["description"] = *d
	}
	ctx := c.Request.Context()
	if len(cols) > 0 {
		if err := s.store.UpdateSnapshot(ctx, sn.ID, cols); err != nil {
			return nil, notFound(err, "Snapshot %s could not be found.", sn.ID)
		}
	}
	sn, err := s.store.GetSnapshot(ctx, sn.ID)
	if err != nil {
		return nil, notFound(err, "Snapshot %s could not be found.", sn.ID)
	}
	return api.OK(gin.H{"snapshot": s.snapshotView(sn, ver)}), nil
}

// deleteSnapshot starts deleting an available or failed snapshot.
func (s *Service) deleteSnapshot(c *gin.Context, _ Version) (*api.Response, error) {
	sn := c.MustGet(ctxSnapshot).(store.Snapshot)
	ctx := c.Request.Context()
	ok, err := s.store.SetSnapshotStatus(ctx, sn.ID, store.SnapshotDeleting, store.SnapshotAvailable, store.SnapshotError, store.SnapshotDeleting)
	if err != nil {
		return nil, api.Internal(err)
	}
	if !ok {
		return nil, api.BadRequest("Invalid snapshot: Volume Snapshot status must be available or error and must not be part of a group.")
	}
	v, err := s.store.GetVolume(ctx, sn.VolumeID)
	if err != nil {
		return nil, api.Internal(err)
	}
	if err := s.dispatchSnapshot(ctx, v.Host, work.Snapshot{SnapshotID: sn.ID, Op: work.SnapDelete}); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}
