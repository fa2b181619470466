package novaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/cinder"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// volumeStates are the vm_states Nova attaches and detaches volumes in
// (with no task); shelving and resizing do not exist here.
var volumeStates = []string{store.VMActive, store.VMPaused, store.VMStopped}

// deviceRE is Nova's pattern for a requested device (match_device).
var deviceRE = regexp.MustCompile(`(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$`)

// attachmentView is one os-volume_attachments entry at v: "tag" from
// 2.70, "delete_on_termination" from 2.79, "attachment_id" and
// "bdm_uuid" instead of "id" from 2.89.
func attachmentView(b store.BDM, v Version) gin.H {
	out := gin.H{"volumeId": b.Volume(), "serverId": b.InstanceUUID}
	if !v.At(89) {
		out["id"] = b.Volume()
	}
	if b.DeviceName != "" {
		out["device"] = b.DeviceName
	}
	if v.At(70) {
		out["tag"] = b.Tag
	}
	if v.At(79) {
		out["delete_on_termination"] = b.DeleteOnTermination
	}
	if v.At(89) {
		out["attachment_id"] = b.AttachmentID
		out["bdm_uuid"] = b.UUID
	}
	return out
}

// volumes is the volume service's client on the API's bus.
func (s *Service) volumes() cinder.Client { return cinder.Client{Bus: s.bus} }

// volumeScope is the caller's scope in the volume service.
func volumeScope(c *gin.Context) rpc.Scope {
	cl := api.Claims(c)
	return rpc.Scope{ProjectID: cl.ProjectID, UserID: cl.UserID, AllProjects: isAdmin(c)}
}

// volumeError maps the volume service's errors to Nova's: an unknown
// volume is 404, a volume in the wrong state 400 (prefix names Nova's
// exception: "Invalid volume" or "Invalid input received").
func volumeError(err error, volumeID, prefix string) error {
	msg := strings.TrimPrefix(err.Error(), bus.ErrorCode(err)+": ")
	switch {
	case bus.HasCode(err, bus.CodeNotFound):
		return api.NotFound("Volume %s could not be found.", volumeID)
	case bus.HasCode(err, bus.CodeBadRequest), bus.HasCode(err, bus.CodeConflict):
		return api.BadRequest("%s: %s", prefix, msg)
	case bus.HasCode(err, bus.CodeQuotaExceeded):
		return api.Forbidden("%s", msg)
	case bus.HasCode(err, bus.CodeUnavailable):
		return api.Unavailable("The volume service is not available: %s", msg)
	}
	return api.Internal(err)
}

func (s *Service) listVolumeAttachments(c *gin.Context, v Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	q := c.Request.URL.Query()
	limit, offset := -1, 0
	for key, dst := range map[string]*int{"limit": &limit, "offset": &offset} {
		if vals, ok := q[key]; ok {
			n, err := parseNonNegative(vals[len(vals)-1])
			if err != nil {
				return nil, api.BadRequest("Invalid input for query parameters %s. Value: %s. %s", key, vals[len(vals)-1], err)
			}
			*dst = n
		}
	}
	if v.At(75) {
		for key := range q {
			if key != "limit" && key != "offset" {
				return nil, api.BadRequest("Invalid input for query parameters %s. Additional properties are not allowed ('%s' was unexpected)", key, key)
			}
		}
	}
	bdms, err := s.store.ListBDMs(c.Request.Context(), in.UUID)
	if err != nil {
		return nil, err
	}
	out := []gin.H{}
	for i, b := range bdms {
		if i < offset || b.Volume() == "" {
			continue
		}
		if limit >= 0 && len(out) >= limit {
			break
		}
		out = append(out, attachmentView(b, v))
	}
	return api.OK(gin.H{"volumeAttachments": out}), nil
}

func parseNonNegative(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(s) {
		return 0, fmt.Errorf("'%s' is not of type 'integer'", s)
	}
	if n < 0 {
		return 0, fmt.Errorf("%d is less than the minimum of 0", n)
	}
	return n, nil
}

func (s *Service) getVolumeAttachment(c *gin.Context, v Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	b, err := s.store.GetBDMByVolume(c.Request.Context(), in.UUID, c.Param("volume_id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Instance %s is not attached to volume %s", in.UUID, c.Param("volume_id"))
	}
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"volumeAttachment": attachmentView(b, v)}), nil
}

// volumeInstance loads the server of an attach or detach: not locked, in
// a state Nova allows, on a host, with no task.
func (s *Service) volumeInstance(c *gin.Context, action string) (store.Instance, error) {
	in, err := s.instance(c)
	if err != nil {
		return in, err
	}
	if err := checkLock(c, in); err != nil {
		return in, err
	}
	if !contains(volumeStates, in.VMState) || in.TaskState != nil || in.Host == nil {
		return in, conflictState(in, action)
	}
	if s.bus == nil {
		return in, api.Unavailable("The volume service is not available")
	}
	return in, nil
}

// attachRequest is a validated POST os-volume_attachments body.
type attachRequest struct {
	volumeID, device, tag string
	deleteOnTermination   bool
}

func parseAttach(c *gin.Context, v Version) (attachRequest, error) {
	var r attachRequest
	allowed := []string{"volumeId", "device"}
	if v.At(49) {
		allowed = append(allowed, "tag")
	}
	if v.At(79) {
		allowed = append(allowed, "delete_on_termination")
	}
	m, err := object(c, "volumeAttachment", allowed...)
	if err != nil {
		return r, err
	}
	id, ok, err := stringField(m, "volumeId", 0, 255)
	if err != nil {
		return r, err
	}
	if !ok {
		return r, api.BadRequest("Invalid input for field/attribute volumeAttachment. Value: %s. 'volumeId' is a required property", compact(m))
	}
	if uuid.Validate(id) != nil {
		return r, api.BadRequest("Invalid input for field/attribute volumeId. Value: %s. '%s' is not a 'uuid'", id, id)
	}
	r.volumeID = strings.ToLower(id)
	if raw, given := m["device"]; given && !isNull(raw) {
		if r.device, _, err = stringField(m, "device", 0, 255); err != nil {
			return r, err
		}
		if !deviceRE.MatchString(r.device) {
			return r, api.BadRequest("Invalid input for field/attribute device. Value: %s. '%s' does not match '%s'", r.device, r.device, deviceRE)
		}
	}
	if raw, given := m["tag"]; given {
		var tag string
		if err := json.Unmarshal(raw, &tag); err != nil {
			return r, api.BadRequest("Invalid input for field/attribute tag. Value: %s. %s is not of type 'string'", raw, raw)
		}
		if why := tagError(tag); why != "" {
			return r, api.BadRequest("Invalid input for field/attribute tag. Value: %s. %s", tag, why)
		}
		r.tag = tag
	}
	if r.deleteOnTermination, err = boolField(m, "delete_on_termination", false); err != nil {
		return r, err
	}
	return r, nil
}

// usedDevices are the device names a server's disks take: the local root
// disk (unless it boots from a volume), the flavor's ephemeral and swap
// disks, and its volumes.
func usedDevices(in store.Instance, bdms []store.BDM) map[string]bool {
	used := map[string]bool{}
	root := true
	for _, b := range bdms {
		used[b.DeviceName] = true
		root = root && !b.IsRoot()
	}
	if root {
		used["/dev/vda"] = true
	}
	next := 'b'
	if in.EphemeralGB > 0 {
		used[fmt.Sprintf("/dev/vd%c", next)] = true
		next++
	}
	if in.Swap > 0 {
		used[fmt.Sprintf("/dev/vd%c", next)] = true
	}
	return used
}

func (s *Service) attachVolume(c *gin.Context, v Version) (*api.Response, error) {
	ctx := c.Request.Context()
	r, err := parseAttach(c, v)
	if err != nil {
		return nil, err
	}
	in, err := s.volumeInstance(c, "attach_volume")
	if err != nil {
		return nil, err
	}
	sc := volumeScope(c)
	vol, err := s.volumes().Get(ctx, sc, r.volumeID)
	if err != nil {
		return nil, volumeError(err, r.volumeID, "Invalid volume")
	}
	if _, err := s.store.GetBDMByVolume(ctx, in.UUID, vol.ID); err == nil {
		return nil, api.BadRequest("Invalid volume: volume %s already attached", vol.ID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	size := vol.SizeGiB
	b := store.BDM{UUID: uuid.NewString(), InstanceUUID: in.UUID, SourceType: store.SourceVolume,
		DestinationType: store.DestinationVolume, VolumeID: &vol.ID, VolumeSize: &size,
		DeleteOnTermination: r.deleteOnTermination, Status: store.BDMAttaching}
	if r.tag != "" {
		b.Tag = &r.tag
	}
	// The device name is reserved under the server's row lock, so
	// concurrent attaches pick different names.
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if _, err := tx.LockInstance(ctx, in.UUID); err != nil {
			return err
		}
		bdms, err := tx.ListBDMs(ctx, in.UUID)
		if err != nil {
			return err
		}
		used := usedDevices(in, bdms)
		if strings.HasPrefix(r.device, "/dev/vd") && len(r.device) == len("/dev/vdb") && !used[r.device] {
			b.DeviceName = r.device
		} else if b.DeviceName, err = store.NextDeviceName(used); err != nil {
			return api.Forbidden("The maximum allowed number of disk devices (26) to attach to a single instance has been exceeded.")
		}
		return tx.CreateBDM(ctx, &b)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, api.BadRequest("Invalid volume: volume %s already attached", vol.ID)
	}
	if err != nil {
		return nil, err
	}
	undo := func() {
		if err := s.store.DeleteBDM(context.WithoutCancel(ctx), b.UUID); err != nil {
			s.log.Warn("undo attach: delete mapping", "server_id", in.UUID, "error", err)
		}
	}
	att, err := s.volumes().AttachmentCreate(ctx, sc, vol.ID, in.UUID)
	if err != nil {
		undo()
		return nil, volumeError(err, vol.ID, "Invalid input received")
	}
	if err := s.store.UpdateBDM(ctx, b.UUID, map[string]any{"attachment_id": att.ID}); err != nil {
		_ = s.volumes().AttachmentDelete(context.WithoutCancel(ctx), sc, att.ID)
		undo()
		return nil, err
	}
	b.AttachmentID = &att.ID
	s.action(c, in, "attach_volume")
	if err := s.publish(ctx, *in.Host, work.VerbVolume, work.Volume{InstanceUUID: in.UUID, BDMUUID: b.UUID}, "volume-attach-"+b.UUID); err != nil {
		_ = s.volumes().AttachmentDelete(context.WithoutCancel(ctx), sc, att.ID)
		undo()
		return nil, api.Unavailable("Could not reach the compute host: %v", err)
	}
	out := gin.H{"id": vol.ID, "serverId": in.UUID, "volumeId": vol.ID, "device": b.DeviceName}
	if v.At(70) {
		out["tag"] = b.Tag
	}
	if v.At(79) {
		out["delete_on_termination"] = b.DeleteOnTermination
	}
	return api.OK(gin.H{"volumeAttachment": out}), nil
}

func (s *Service) detachVolume(c *gin.Context, _ Version) (*api.Response, error) {
	ctx := c.Request.Context()
	in, err := s.volumeInstance(c, "detach_volume")
	if err != nil {
		return nil, err
	}
	id := strings.ToLower(c.Param("volume_id"))
	sc := volumeScope(c)
	if _, err := s.volumes().Get(ctx, sc, id); err != nil {
		return nil, volumeError(err, id, "Invalid volume")
	}
	b, err := s.store.GetBDMByVolume(ctx, in.UUID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Instance %s is not attached to volume %s", in.UUID, id)
	}
	if err != nil {
		return nil, err
	}
	if b.IsRoot() {
		return nil, api.BadRequest("Cannot detach a root device volume")
	}
	notAttached := api.BadRequest("Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
	if err := s.store.SetBDMStatus(ctx, b.UUID, store.BDMAttached, store.BDMDetaching); errors.Is(err, store.ErrConflict) {
		return nil, notAttached
	} else if err != nil {
		return nil, err
	}
	rollback := func() {
		_ = s.store.SetBDMStatus(context.WithoutCancel(ctx), b.UUID, store.BDMDetaching, store.BDMAttached)
	}
	if err := s.volumes().BeginDetaching(ctx, sc, id); err != nil {
		rollback()
		return nil, volumeError(err, id, "Invalid volume")
	}
	s.action(c, in, "detach_volume")
	msgID := fmt.Sprintf("volume-detach-%s-%d", b.UUID, time.Now().UnixNano())
	if err := s.publish(ctx, *in.Host, work.VerbVolume, work.Volume{InstanceUUID: in.UUID, BDMUUID: b.UUID, Detach: true}, msgID); err != nil {
		_ = s.volumes().RollDetaching(context.WithoutCancel(ctx), sc, id)
		rollback()
		return nil, api.Unavailable("Could not reach the compute host: %v", err)
	}
	return api.Accepted(nil), nil
}

// updateVolumeAttachment is PUT os-volume_attachments/{volume_id}: from
// 2.85 it updates delete_on_termination; swapping volumes (a volumeId
// other than the attached one, or any PUT before 2.85) is what Cinder
// asks during a volume migration, which kumo's volume service never
// does, so it is refused as Nova refuses it for a volume not migrating.
func (s *Service) updateVolumeAttachment(c *gin.Context, v Version) (*api.Response, error) {
	ctx := c.Request.Context()
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	id := strings.ToLower(c.Param("volume_id"))
	allowed := []string{"volumeId"}
	if v.At(85) {
		allowed = append(allowed, "device", "tag", "delete_on_termination", "serverId", "id")
	}
	m, err := object(c, "volumeAttachment", allowed...)
	if err != nil {
		return nil, err
	}
	newID, ok, err := stringField(m, "volumeId", 0, 255)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.BadRequest("Invalid input for field/attribute volumeAttachment. Value: %s. 'volumeId' is a required property", compact(m))
	}
	if uuid.Validate(newID) != nil {
		return nil, api.BadRequest("Invalid input for field/attribute volumeId. Value: %s. '%s' is not a 'uuid'", newID, newID)
	}
	swap := !v.At(85) || !strings.EqualFold(newID, id)
	rule := "os_compute_api:os-volumes-attachments:update"
	if swap {
		rule = "os_compute_api:os-volumes-attachments:swap"
	}
	if !api.Allowed(c, rule, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	b, err := s.store.GetBDMByVolume(ctx, in.UUID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Instance %s is not attached to volume %s", in.UUID, id)
	}
	if err != nil {
		return nil, err
	}
	if !swap {
		str := func(key string) (string, bool) {
			var x string
			raw, given := m[key]
			if !given {
				return "", false
			}
			_ = json.Unmarshal(raw, &x)
			return x, true
		}
		if x, given := str("id"); given && x != id {
			return nil, api.BadRequest("The id property is not mutable")
		}
		if x, given := str("serverId"); given && x != in.UUID {
			return nil, api.BadRequest("The serverId property is not mutable")
		}
		if x, given := str("device"); given && x != b.DeviceName {
			return nil, api.BadRequest("The device property is not mutable")
		}
		if x, given := str("tag"); given && (b.Tag == nil || x != *b.Tag) {
			return nil, api.BadRequest("The tag property is not mutable")
		}
		if _, given := m["delete_on_termination"]; given {
			dot, err := boolField(m, "delete_on_termination", false)
			if err != nil {
				return nil, err
			}
			if err := s.store.UpdateBDM(ctx, b.UUID, map[string]any{"delete_on_termination": dot}); err != nil {
				return nil, err
			}
		}
		return api.Accepted(nil), nil
	}
	return nil, api.Conflict("volume %s is not migrating; this API should only be called by Cinder", id)
}

// volumesAttachedView is a server's "os-extended-volumes:volumes_attached":
// its volumes, with delete_on_termination from 2.3.
func volumesAttachedView(bdms []store.BDM, v Version) []gin.H {
	out := []gin.H{}
	for _, b := range bdms {
		if b.Volume() == "" {
			continue
		}
		e := gin.H{"id": b.Volume()}
		if v.At(3) {
			e["delete_on_termination"] = b.DeleteOnTermination
		}
		out = append(out, e)
	}
	return out
}

// withVolumes fills the volumes_attached of one server's view.
func (s *Service) withVolumes(c *gin.Context, view gin.H, id string, v Version) error {
	bdms, err := s.store.ListBDMs(c.Request.Context(), id)
	if err != nil {
		return err
	}
	view["os-extended-volumes:volumes_attached"] = volumesAttachedView(bdms, v)
	return nil
}
