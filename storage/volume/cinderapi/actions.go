package cinderapi

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// volumeAction is POST /volumes/{id}/action: the body names one action.
// The route's rule lets the caller see the volume; each action checks its
// own rule against the volume's project.
func (s *Service) volumeAction(c *gin.Context, ver Version) (*api.Response, error) {
	var body map[string]json.RawMessage
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if len(body) != 1 {
		return nil, api.BadRequest("There is no such action: %s", strings.Join(keys(body), ","))
	}
	type action struct {
		rule string
		run  func(*gin.Context, Version, store.Volume, json.RawMessage) (*api.Response, error)
	}
	actions := map[string]action{
		"os-extend":                {"volume:extend", s.extend},
		"os-set_bootable":          {"volume:update", s.setBootable},
		"os-volume_upload_image":   {"volume_extension:volume_actions:upload_image", s.uploadImage},
		"os-force_delete":          {"volume_extension:volume_admin_actions:force_delete", s.forceDelete},
		"os-reset_status":          {"volume_extension:volume_admin_actions:reset_status", s.resetStatus},
		"os-reserve":               {"volume_extension:volume_actions:reserve", s.reserve},
		"os-unreserve":             {"volume_extension:volume_actions:unreserve", s.unreserve},
		"os-begin_detaching":       {"volume_extension:volume_actions:begin_detaching", s.beginDetachingAction},
		"os-roll_detaching":        {"volume_extension:volume_actions:roll_detaching", s.rollDetachingAction},
		"os-update_readonly_flag":  {"volume:update_readonly_flag", s.readonlyFlag},
		"os-initialize_connection": {"volume_extension:volume_actions:initialize_connection", s.initializeConnection},
		"os-terminate_connection":  {"volume_extension:volume_actions:terminate_connection", s.terminateConnection},
		"os-attach":                {"volume_extension:volume_actions:attach", s.attachLegacy},
		"os-detach":                {"volume_extension:volume_actions:detach", s.detachLegacy},
	}
	for name, raw := range body {
		a, ok := actions[name]
		if !ok {
			return nil, api.BadRequest("There is no such action: %s", name)
		}
		v := c.MustGet(ctxVolume).(store.Volume)
		if !api.Allowed(c, a.rule, policy.Target{"project_id": v.ProjectID, "user_id": api.Claims(c).UserID}) {
			return nil, api.Forbidden("Policy doesn't allow %s to be performed.", a.rule)
		}
		return a.run(c, ver, v, raw)
	}
	return nil, api.BadRequest("There is no such action")
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// extend grows an available volume: the growth is charged to the
// gigabytes quota with the state change, and the manager grows the data.
func (s *Service) extend(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	var body struct {
		NewSize json.RawMessage `json:"new_size"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.NewSize) == 0 {
		return nil, api.BadRequest("Invalid input for field/attribute os-extend. 'new_size' is a required property")
	}
	n, err := parseSize(body.NewSize)
	if err != nil {
		return nil, api.BadRequest("%s", strings.Replace(err.Error(), "attribute size", "attribute new_size", 1))
	}
	ctx := c.Request.Context()
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		cur, err := tx.LockVolume(ctx, v.ID)
		if err != nil {
			return notFound(err, "Volume %s could not be found.", v.ID)
		}
		if cur.Status != store.StatusAvailable {
			return invalidVolume("Volume %s status must be 'available' to extend, but current status is: %s.", v.ID, cur.Status)
		}
		if n <= cur.Size {
			return invalidInput("New size for extend must be greater than current size. (current: %d, extended: %d).", cur.Size, n)
		}
		if err := tx.UpdateVolume(ctx, v.ID, map[string]any{"status": store.StatusExtending, "new_size": n}); err != nil {
			return api.Internal(err)
		}
		v = cur
		return tx.ConsumeQuota(ctx, s.quota, cur.ProjectID, map[string]int64{store.ResourceGigabytes: int64(n - cur.Size)})
	})
	if err != nil {
		return nil, quotaError(err, n-v.Size)
	}
	if err := s.dispatchVolume(ctx, v.Host, work.Volume{VolumeID: v.ID, Op: work.OpExtend}); err != nil {
		// Nothing will make it: back to available, the growth's quota
		// given back.
		uerr := s.store.Tx(context.WithoutCancel(ctx), func(tx *store.Store) error {
			if err := tx.UpdateVolume(ctx, v.ID, map[string]any{"status": store.StatusAvailable, "new_size": 0}); err != nil {
				return err
			}
			return tx.ConsumeQuota(ctx, s.quota, v.ProjectID, map[string]int64{store.ResourceGigabytes: -int64(n - v.Size)})
		})
		if uerr != nil {
			s.log.Error("undo extend whose work was not handed over", "volume_id", v.ID, "error", uerr)
		}
		return nil, err
	}
	v.Status = store.StatusExtending
	s.event(ctx, v, "resize_start")
	return api.Accepted(nil), nil
}

// setBootable sets the bootable flag.
func (s *Service) setBootable(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	var body struct {
		Bootable json.RawMessage `json:"bootable"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Bootable) == 0 {
		return nil, api.BadRequest("Invalid input for field/attribute os-set_bootable. 'bootable' is a required property")
	}
	b, ok := jsonBool(body.Bootable)
	if !ok {
		return nil, invalidInput("Bootable: %s is not a boolean.", string(body.Bootable))
	}
	if err := s.store.UpdateVolume(c.Request.Context(), v.ID, map[string]any{"bootable": b}); err != nil {
		return nil, notFound(err, "Volume %s could not be found.", v.ID)
	}
	return api.OK(nil), nil
}

// jsonBool reads a boolean given as JSON true/false or a boolean string.
func jsonBool(raw json.RawMessage) (bool, bool) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return boolParam(s)
	}
	return false, false
}

// readonlyFlag records os-update_readonly_flag in the volume's admin
// metadata, as Cinder does; new attachments then default to ro.
func (s *Service) readonlyFlag(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	var body struct {
		Readonly json.RawMessage `json:"readonly"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Readonly) == 0 {
		return nil, api.BadRequest("Invalid input for field/attribute os-update_readonly_flag. 'readonly' is a required property")
	}
	if _, ok := jsonBool(body.Readonly); !ok {
		return nil, invalidInput("Readonly: %s is not a boolean.", string(body.Readonly))
	}
	return api.Accepted(nil), nil
}

// uploadImage creates an image with the caller's token and has the
// manager upload the volume into it; the volume is uploading meanwhile.
func (s *Service) uploadImage(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	var body struct {
		ImageName       string `json:"image_name"`
		Force           any    `json:"force"`
		DiskFormat      string `json:"disk_format"`
		ContainerFormat string `json:"container_format"`
		Visibility      string `json:"visibility"`
		Protected       bool   `json:"protected"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, api.BadRequest("Malformed os-volume_upload_image: %v", err)
	}
	if body.ImageName == "" {
		return nil, api.BadRequest("Invalid input for field/attribute os-volume_upload_image. 'image_name' is a required property")
	}
	if body.DiskFormat == "" {
		body.DiskFormat = "raw"
	}
	if body.ContainerFormat == "" {
		body.ContainerFormat = "bare"
	}
	if body.DiskFormat != "raw" && body.DiskFormat != "qcow2" {
		return nil, invalidInput("Invalid disk-format '%s' is specified. Allowed disk-formats are raw, qcow2.", body.DiskFormat)
	}
	if body.Visibility == "" {
		body.Visibility = "private"
	}
	if v.Status != store.StatusAvailable {
		return nil, invalidVolume("Volume %s status must be available, but current status is: %s.", v.ID, v.Status)
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	vis := images.ImageVisibility(body.Visibility)
	img, err := s.glance.Create(ctx, k.token, images.CreateOpts{Name: body.ImageName, DiskFormat: body.DiskFormat,
		ContainerFormat: body.ContainerFormat, Visibility: &vis, Protected: &body.Protected,
		Properties: map[string]string{"kumo_volume_id": v.ID}})
	if err != nil {
		return nil, api.BadRequest("Unable to create the image: %v", err)
	}
	ok, err := s.store.SetVolumeStatus(ctx, v.ID, store.StatusUploading, store.StatusAvailable)
	if err == nil && ok {
		err = s.store.UpdateVolume(ctx, v.ID, map[string]any{"upload_image_id": img.ID})
	}
	if err != nil || !ok {
		_ = s.glance.Delete(ctx, k.token, img.ID)
		if err != nil {
			return nil, api.Internal(err)
		}
		return nil, invalidVolume("Volume %s status must be available.", v.ID)
	}
	if err := s.dispatchVolume(ctx, v.Host, work.Volume{VolumeID: v.ID, Op: work.OpUpload, ImageURL: s.glance.URL(),
		Token: k.token, DiskFormat: body.DiskFormat}); err != nil {
		// Nothing will fill the image: it goes, the volume is available.
		_ = s.glance.Delete(context.WithoutCancel(ctx), k.token, img.ID)
		if uerr := s.store.UpdateVolume(context.WithoutCancel(ctx), v.ID, map[string]any{"status": store.StatusAvailable, "upload_image_id": ""}); uerr != nil {
			s.log.Error("undo upload whose work was not handed over", "volume_id", v.ID, "error", uerr)
		}
		return nil, err
	}
	v.Status = store.StatusUploading
	s.event(ctx, v, "upload_start")
	vt, _ := s.store.GetType(ctx, v.VolumeTypeID)
	return api.Accepted(gin.H{"os-volume_upload_image": gin.H{
		"id": v.ID, "updated_at": ts(v.UpdatedAt), "status": store.StatusUploading, "display_description": strPtr(v.Description),
		"size": v.Size, "volume_type": s.typeView(vt, false), "image_id": img.ID, "container_format": body.ContainerFormat,
		"disk_format": body.DiskFormat, "image_name": body.ImageName, "protected": body.Protected, "visibility": body.Visibility,
	}}), nil
}

// validStatuses are the statuses os-reset_status accepts.
var validStatuses = map[string]bool{
	store.StatusCreating: true, store.StatusAvailable: true, store.StatusReserved: true, store.StatusAttaching: true,
	store.StatusInUse: true, store.StatusDetaching: true, store.StatusDeleting: true, store.StatusExtending: true,
	store.StatusUploading: true, store.StatusDownloading: true, store.StatusError: true, store.StatusErrorDeleting: true,
	store.StatusErrorExtending: true, "error_restoring": true, "maintenance": true, "backing-up": true, "restoring-backup": true,
}

// resetStatus is the admin's os-reset_status.
func (s *Service) resetStatus(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	var body struct {
		Status       string `json:"status"`
		AttachStatus string `json:"attach_status"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, api.BadRequest("Malformed os-reset_status: %v", err)
	}
	cols := map[string]any{}
	if body.Status != "" {
		if !validStatuses[strings.ToLower(body.Status)] {
			return nil, invalidInput("Must specify a valid status")
		}
		cols["status"] = strings.ToLower(body.Status)
	}
	if body.AttachStatus != "" {
		if body.AttachStatus != store.AttachAttached && body.AttachStatus != store.AttachDetached {
			return nil, invalidInput("Must specify a valid attach status")
		}
		cols["attach_status"] = body.AttachStatus
	}
	if len(cols) == 0 {
		return nil, invalidInput("Must specify 'status', 'attach_status' or 'migration_status' for update.")
	}
	if err := s.store.UpdateVolume(c.Request.Context(), v.ID, cols); err != nil {
		return nil, notFound(err, "Volume %s could not be found.", v.ID)
	}
	return api.Accepted(nil), nil
}

// forceDelete is the admin's os-force_delete: a delete from any status of
// a volume that is not attached.
func (s *Service) forceDelete(c *gin.Context, _ Version, v store.Volume, _ json.RawMessage) (*api.Response, error) {
	if err := s.startDelete(c.Request.Context(), v.ID, false, true); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}

// reserve is the legacy os-reserve: available → attaching.
func (s *Service) reserve(c *gin.Context, _ Version, v store.Volume, _ json.RawMessage) (*api.Response, error) {
	err := s.transition(c.Request.Context(), callerOf(c), v.ID, "reserve", func(cur store.Volume) (string, error) {
		if cur.Status != store.StatusAvailable && !(cur.Multiattach && cur.Status == store.StatusInUse) {
			return "", invalidVolume("Volume %s status must be available to reserve, but the current status is %s.", cur.ID, cur.Status)
		}
		return store.StatusAttaching, nil
	})
	if err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}

// unreserve is the legacy os-unreserve: attaching → available.
func (s *Service) unreserve(c *gin.Context, _ Version, v store.Volume, _ json.RawMessage) (*api.Response, error) {
	err := s.transition(c.Request.Context(), callerOf(c), v.ID, "unreserve", func(cur store.Volume) (string, error) {
		if cur.Status != store.StatusAttaching {
			return "", nil
		}
		atts, err := s.store.VolumeAttachments(c.Request.Context(), cur.ID)
		if err != nil {
			return "", api.Internal(err)
		}
		st, _ := volumeStatusFor(atts, cur.Status)
		return st, nil
	})
	if err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}

func (s *Service) beginDetachingAction(c *gin.Context, _ Version, v store.Volume, _ json.RawMessage) (*api.Response, error) {
	if err := s.beginDetaching(c.Request.Context(), callerOf(c), v.ID); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}

func (s *Service) rollDetachingAction(c *gin.Context, _ Version, v store.Volume, _ json.RawMessage) (*api.Response, error) {
	if err := s.rollDetaching(c.Request.Context(), callerOf(c), v.ID); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}
