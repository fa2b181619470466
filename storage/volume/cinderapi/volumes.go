package cinderapi

import (
	"context"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

func (s *Service) listVolumes(c *gin.Context, v Version) (*api.Response, error) {
	return s.volumeList(c, v, false)
}

func (s *Service) listVolumesDetail(c *gin.Context, v Version) (*api.Response, error) {
	return s.volumeList(c, v, true)
}

// volumeList lists the caller's volumes (every project's for an admin
// with all_tenants) with Cinder's filters, sorting and pagination.
func (s *Service) volumeList(c *gin.Context, ver Version, detail bool) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	f := store.VolumeFilter{ProjectID: k.project}
	if all, _ := boolParam(c.Query("all_tenants")); all && k.admin {
		f.ProjectID = c.Query("project_id")
	}
	if n, ok := c.GetQuery("name"); ok {
		f.Name = &n
	}
	if st, ok := c.GetQuery("status"); ok {
		f.Status = &st
	}
	if b, ok := c.GetQuery("bootable"); ok {
		bv, valid := boolParam(b)
		if !valid {
			return nil, invalidInput("Invalid value %s for bootable.", b)
		}
		f.Bootable = &bv
	}
	var err error
	if f.Metadata, err = parseMetadataFilter(c.Query("metadata")); err != nil {
		return nil, err
	}
	if f.Sort, err = parseSort(c, store.VolumeSortKeys); err != nil {
		return nil, err
	}
	vols, err := s.store.ListVolumes(ctx, f)
	if err != nil {
		return nil, api.Internal(err)
	}
	total := len(vols)
	vols, more, err := page(vols, func(v store.Volume) string { return v.ID }, c)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(vols))
	if detail {
		ids := make([]string, len(vols))
		for i, v := range vols {
			ids[i] = v.ID
		}
		atts, err := s.store.AttachmentsOf(ctx, ids)
		if err != nil {
			return nil, api.Internal(err)
		}
		names, err := s.typeNames(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			out = append(out, s.volumeView(v, ver, k.admin, names[v.VolumeTypeID], atts[v.ID]))
		}
	} else {
		for _, v := range vols {
			out = append(out, s.volumeBrief(v))
		}
	}
	body := gin.H{"volumes": out}
	if more && len(vols) > 0 {
		kind := "volumes"
		if detail {
			kind = "volumes/detail"
		}
		body["volumes_links"] = s.nextLink(c, kind, vols[len(vols)-1].ID)
	}
	if wc, _ := boolParam(c.Query("with_count")); wc && ver.At(45) {
		body["count"] = total
	}
	return api.OK(body), nil
}

// typeNames maps volume type IDs to names.
func (s *Service) typeNames(ctx context.Context) (map[string]string, error) {
	types, err := s.store.ListTypes(ctx, "")
	if err != nil {
		return nil, api.Internal(err)
	}
	out := make(map[string]string, len(types))
	for _, t := range types {
		out[t.ID] = t.Name
	}
	return out, nil
}

// showVolume renders one volume with its attachments and type.
func (s *Service) showVolume(ctx context.Context, v store.Volume, ver Version, admin bool) (map[string]any, error) {
	atts, err := s.store.VolumeAttachments(ctx, v.ID)
	if err != nil {
		return nil, api.Internal(err)
	}
	name := ""
	if t, err := s.store.GetType(ctx, v.VolumeTypeID); err == nil {
		name = t.Name
	}
	return s.volumeView(v, ver, admin, name, atts), nil
}

func (s *Service) getVolume(c *gin.Context, ver Version) (*api.Response, error) {
	v := c.MustGet(ctxVolume).(store.Volume)
	view, err := s.showVolume(c.Request.Context(), v, ver, isAdmin(c))
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"volume": view}), nil
}

// updateVolume changes a volume's name, description and metadata.
func (s *Service) updateVolume(c *gin.Context, ver Version) (*api.Response, error) {
	var body struct {
		Volume *struct {
			Name        *string           `json:"name"`
			Description *string           `json:"description"`
			DisplayName *string           `json:"display_name"`
			DisplayDesc *string           `json:"display_description"`
			Metadata    map[string]string `json:"metadata"`
		} `json:"volume"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.Volume == nil {
		return nil, api.BadRequest("Missing required element 'volume' in request body.")
	}
	u := body.Volume
	cols := map[string]any{}
	if n := first(u.Name, u.DisplayName); n != nil {
		if len(*n) > 255 {
			return nil, invalidInput("name has more than 255 characters.")
		}
		cols["name"] = *n
	}
	if d := first(u.Description, u.DisplayDesc); d != nil {
		cols["description"] = *d
	}
	if u.Metadata != nil {
		if err := checkMetadata(u.Metadata); err != nil {
			return nil, err
		}
		cols["metadata"] = store.Meta(u.Metadata)
	}
	v := c.MustGet(ctxVolume).(store.Volume)
	ctx := c.Request.Context()
	if len(cols) > 0 {
		if err := s.store.UpdateVolume(ctx, v.ID, cols); err != nil {
			return nil, notFound(err, "Volume %s could not be found.", v.ID)
		}
	}
	v, err := s.store.GetVolume(ctx, v.ID)
	if err != nil {
		return nil, notFound(err, "Volume %s could not be found.", v.ID)
	}
	s.event(ctx, v, "update")
	view, err := s.showVolume(ctx, v, ver, isAdmin(c))
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"volume": view}), nil
}

func first(ps ...*string) *string {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// checkMetadata applies Cinder's metadata limits.
func checkMetadata(m map[string]string) error {
	for k, v := range m {
		if k == "" || len(k) > 255 {
			return invalidInput("Metadata property key blank or greater than 255 characters.")
		}
		if len(v) > 255 {
			return invalidInput("Metadata property value greater than 255 characters.")
		}
	}
	return nil
}

// deletable are the statuses a volume may be deleted from (Cinder's
// volume API delete).
var deletable = map[string]bool{store.StatusAvailable: true, store.StatusError: true,
	"error_restoring": true, store.StatusErrorExtending: true, "error_managing": true}

// deleteVolume starts deleting a volume (with its snapshots when cascade
// is set); the manager removes the data and the row.
func (s *Service) deleteVolume(c *gin.Context, _ Version) (*api.Response, error) {
	cascade, _ := boolParam(c.Query("cascade"))
	v := c.MustGet(ctxVolume).(store.Volume)
	if err := s.startDelete(c.Request.Context(), v.ID, cascade, false); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}

// errNotDeletable is Cinder's message for a volume that cannot be deleted.
func errNotDeletable() error {
	return invalidVolume("Volume status must be available or error or error_restoring or error_extending or error_managing " +
		"and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, " +
		"or be disassociated from snapshots after volume transfer.")
}

// startDelete moves a volume to deleting and hands the work to its
// manager; force (the admin's os-force_delete) skips the status check,
// never the attachment one.
func (s *Service) startDelete(ctx context.Context, id string, cascade, force bool) error {
	var v store.Volume
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if v, err = tx.LockVolume(ctx, id); err != nil {
			return notFound(err, "Volume %s could not be found.", id)
		}
		if v.Status == store.StatusDeleting {
			return nil
		}
		atts, err := tx.VolumeAttachments(ctx, id)
		if err != nil {
			return api.Internal(err)
		}
		if !(deletable[v.Status] || force) || len(atts) > 0 || v.AttachStatus == store.AttachAttached {
			return errNotDeletable()
		}
		snaps, err := tx.ListSnapshots(ctx, store.SnapshotFilter{VolumeID: &id})
		if err != nil {
			return api.Internal(err)
		}
		if len(snaps) > 0 && !cascade {
			return errNotDeletable()
		}
		for _, sn := range snaps {
			if sn.Status != store.SnapshotAvailable && sn.Status != store.SnapshotError && sn.Status != store.SnapshotDeleting {
				return invalidVolume("Snapshot %s status must be available or error and must not be part of a group.", sn.ID)
			}
			if _, err := tx.SetSnapshotStatus(ctx, sn.ID, store.SnapshotDeleting); err != nil {
				return api.Internal(err)
			}
		}
		if _, err := tx.SetVolumeStatus(ctx, id, store.StatusDeleting); err != nil {
			return api.Internal(err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.event(ctx, v, "delete_start")
	return s.dispatchVolume(ctx, v.Host, work.Volume{VolumeID: id, Op: work.OpDelete})
}

func (s *Service) event(ctx context.Context, v store.Volume, action string) {
	work.PublishEvent(ctx, s.bus, s.log, "volume", action, v.ID, v.ProjectID,
		map[string]any{"id": v.ID, "status": v.Status, "size": v.Size, "name": strings.TrimSpace(deref(v.Name))})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// volumeSummary is GET /volumes/summary (3.12): the count and total size
// of the caller's volumes, and (3.36) the values of their metadata keys.
func (s *Service) volumeSummary(c *gin.Context, ver Version) (*api.Response, error) {
	k := callerOf(c)
	f := store.VolumeFilter{ProjectID: k.project}
	if all, _ := boolParam(c.Query("all_tenants")); all && k.admin {
		f.ProjectID = ""
	}
	vols, err := s.store.ListVolumes(c.Request.Context(), f)
	if err != nil {
		return nil, api.Internal(err)
	}
	size := 0
	values := map[string][]string{}
	for _, v := range vols {
		size += v.Size
		for key, val := range v.Metadata {
			if !slices.Contains(values[key], val) {
				values[key] = append(values[key], val)
			}
		}
	}
	sum := gin.H{"total_count": len(vols), "total_size": size}
	if ver.At(36) {
		sum["metadata"] = values
	}
	return api.OK(gin.H{"volume-summary": sum}), nil
}
