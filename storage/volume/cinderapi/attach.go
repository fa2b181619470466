package cinderapi

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// The attachment state machine, shared by the attachments API and
// compute's bus calls (Cinder's attachment_create/update/complete/delete):
//
//	volume:     available → reserved → attaching → in-use → detaching → available
//	attachment:             reserved → attaching → attached → (deleted)
//
// A volume's status follows its attachments: in-use while one is attached,
// attaching while one is being connected, reserved while one is only
// reserved, available when none is left.

// volumeStatusFor is a volume's status given its attachments.
func volumeStatusFor(atts []store.Attachment, current string) (status, attach string) {
	has := map[string]bool{}
	for _, a := range atts {
		has[a.AttachStatus] = true
	}
	switch {
	case current == store.StatusDetaching && has[rpc.AttachAttached]:
		return store.StatusDetaching, store.AttachAttached
	case has[rpc.AttachAttached]:
		return store.StatusInUse, store.AttachAttached
	case has[rpc.AttachAttaching]:
		return store.StatusAttaching, store.AttachDetached
	case has[rpc.AttachReserved]:
		return store.StatusReserved, store.AttachDetached
	}
	return store.StatusAvailable, store.AttachDetached
}

// settle recomputes a locked volume's status from its attachments.
func settle(ctx context.Context, tx *store.Store, v store.Volume) (store.Volume, error) {
	atts, err := tx.VolumeAttachments(ctx, v.ID)
	if err != nil {
		return v, err
	}
	st, as := volumeStatusFor(atts, v.Status)
	if st == v.Status && as == v.AttachStatus {
		return v, nil
	}
	v.Status, v.AttachStatus = st, as
	return v, tx.UpdateVolume(ctx, v.ID, map[string]any{"status": st, "attach_status": as})
}

// attachable are the statuses a volume may be reserved from; a
// multiattach volume may also be reserved while attached.
func attachable(v store.Volume) bool {
	switch v.Status {
	case store.StatusAvailable, store.StatusDownloading:
		return true
	case store.StatusInUse, store.StatusReserved, store.StatusAttaching:
		return v.Multiattach
	}
	return false
}

// attachmentCreate reserves volumeID for instance: a new attachment in
// reserved, or the instance's existing one (compute may retry).
func (s *Service) attachmentCreate(ctx context.Context, k caller, volumeID, instance, mode string) (store.Attachment, error) {
	if uuid.Validate(instance) != nil {
		return store.Attachment{}, invalidInput("instance_uuid %s is not a UUID.", instance)
	}
	switch mode {
	case "":
		mode = "rw"
	case "rw", "ro":
	default:
		return store.Attachment{}, invalidInput("Invalid attach mode %s: must be rw or ro.", mode)
	}
	var out store.Attachment
	var vol store.Volume
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		v, err := tx.LockVolume(ctx, volumeID)
		if err == nil && !k.sees(v.ProjectID) {
			err = store.ErrNotFound
		}
		if err != nil {
			return notFound(err, "Volume %s could not be found.", volumeID)
		}
		atts, err := tx.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return api.Internal(err)
		}
		for _, a := range atts {
			if a.InstanceUUID == instance && a.AttachStatus != rpc.AttachDetaching {
				out = a
				return nil
			}
		}
		if !attachable(v) {
			return invalidVolume("Volume %s status must be available or downloading to reserve, but the current status is %s.", v.ID, v.Status)
		}
		out = store.Attachment{ID: uuid.NewString(), VolumeID: v.ID, ProjectID: v.ProjectID, InstanceUUID: instance,
			AttachStatus: rpc.AttachReserved, AttachMode: mode}
		if err := tx.CreateAttachment(ctx, &out); err != nil {
			return api.Internal(err)
		}
		vol, err = settle(ctx, tx, v)
		if err != nil {
			return api.Internal(err)
		}
		return nil
	})
	if err != nil {
		return store.Attachment{}, err
	}
	if vol.ID != "" {
		s.event(ctx, vol, "attach_reserve")
	}
	return out, nil
}

// attachmentUpdate connects the connector's host through the volume's
// manager, records the connection info and moves the attachment (and the
// volume) to attaching.
func (s *Service) attachmentUpdate(ctx context.Context, k caller, id string, conn rpc.Connector, mountpoint string) (store.Attachment, error) {
	a, v, err := s.visibleAttachment(ctx, k, id)
	if err != nil {
		return store.Attachment{}, err
	}
	if a.AttachStatus != rpc.AttachReserved && a.AttachStatus != rpc.AttachAttaching && a.AttachStatus != rpc.AttachAttached {
		return store.Attachment{}, api.BadRequest("Invalid volume attachment: attachment %s is %s.", id, a.AttachStatus)
	}
	if conn.Host == "" {
		return store.Attachment{}, invalidInput("The connector needs a host.")
	}
	reply, err := s.connect(ctx, v.Host, work.ConnectRequest{VolumeID: v.ID, Connector: conn})
	if err != nil {
		return store.Attachment{}, err
	}
	info := reply.ConnectionInfo
	info.Data.VolumeID = v.ID
	info.Data.AccessMode = a.AttachMode
	rawConn, _ := json.Marshal(conn)
	rawInfo, _ := json.Marshal(info)
	var vol store.Volume
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		lv, err := tx.LockVolume(ctx, v.ID)
		if err != nil {
			return notFound(err, "Volume %s could not be found.", v.ID)
		}
		cur, err := tx.GetAttachment(ctx, id)
		if err != nil {
			return notFound(err, "VolumeAttachment %s could not be found.", id)
		}
		cols := map[string]any{"connector": store.JSON(rawConn), "connection_info": store.JSON(rawInfo), "attached_host": conn.Host}
		if mountpoint != "" {
			cols["mountpoint"] = mountpoint
		}
		if cur.AttachStatus == rpc.AttachReserved {
			cols["attach_status"] = rpc.AttachAttaching
		}
		if err := tx.UpdateAttachment(ctx, id, cols); err != nil {
			return api.Internal(err)
		}
		if vol, err = settle(ctx, tx, lv); err != nil {
			return api.Internal(err)
		}
		return nil
	})
	if err != nil {
		return store.Attachment{}, err
	}
	s.event(ctx, vol, "attach_update")
	a, err = s.store.GetAttachment(ctx, id)
	if err != nil {
		return store.Attachment{}, notFound(err, "VolumeAttachment %s could not be found.", id)
	}
	return a, nil
}

// attachmentComplete marks the disk plugged: the attachment attached and
// the volume in-use.
func (s *Service) attachmentComplete(ctx context.Context, k caller, id string) error {
	a, v, err := s.visibleAttachment(ctx, k, id)
	if err != nil {
		return err
	}
	if a.AttachStatus == rpc.AttachReserved {
		return api.BadRequest("Invalid volume attachment: attachment %s has no connector yet.", id)
	}
	var vol store.Volume
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		lv, err := tx.LockVolume(ctx, v.ID)
		if err != nil {
			return notFound(err, "Volume %s could not be found.", v.ID)
		}
		if a.AttachStatus != rpc.AttachAttached {
			t := time.Now().UTC()
			if err := tx.UpdateAttachment(ctx, id, map[string]any{"attach_status": rpc.AttachAttached, "attach_time": t}); err != nil {
				return notFound(err, "VolumeAttachment %s could not be found.", id)
			}
		}
		if vol, err = settle(ctx, tx, lv); err != nil {
			return api.Internal(err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.event(ctx, vol, "attach_end")
	return nil
}

// attachmentDelete disconnects the attachment's host (if it was given
// one) and removes the attachment; the volume is available when it was
// the last. missingOK makes a gone attachment a success (compute's calls).
func (s *Service) attachmentDelete(ctx context.Context, k caller, id string, missingOK bool) error {
	a, v, err := s.visibleAttachment(ctx, k, id)
	if err != nil {
		var ae *api.Error
		if missingOK && errors.As(err, &ae) && ae.Kind == api.KindNotFound {
			return nil
		}
		return err
	}
	if len(a.Connector) > 0 {
		var conn rpc.Connector
		if json.Unmarshal(a.Connector, &conn) == nil {
			if _, err := s.connect(ctx, v.Host, work.ConnectRequest{VolumeID: v.ID, Connector: conn, Disconnect: true}); err != nil {
				return err
			}
		}
	}
	var vol store.Volume
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		lv, err := tx.LockVolume(ctx, v.ID)
		if err != nil {
			return notFound(err, "Volume %s could not be found.", v.ID)
		}
		if err := tx.DeleteAttachment(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return api.Internal(err)
		}
		if lv.Status == store.StatusDetaching {
			lv.Status = store.StatusInUse // settle from the remaining attachments
		}
		if vol, err = settle(ctx, tx, lv); err != nil {
			return api.Internal(err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.event(ctx, vol, "detach_end")
	return nil
}

// beginDetaching moves an in-use volume to detaching.
func (s *Service) beginDetaching(ctx context.Context, k caller, volumeID string) error {
	return s.transition(ctx, k, volumeID, "detach_start", func(v store.Volume) (string, error) {
		if v.Status == store.StatusDetaching {
			return "", nil
		}
		if v.Status != store.StatusInUse || v.AttachStatus != store.AttachAttached {
			return "", invalidVolume("Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
		}
		return store.StatusDetaching, nil
	})
}

// rollDetaching moves a detaching volume back to in-use.
func (s *Service) rollDetaching(ctx context.Context, k caller, volumeID string) error {
	return s.transition(ctx, k, volumeID, "detach_roll", func(v store.Volume) (string, error) {
		if v.Status != store.StatusDetaching {
			return "", nil
		}
		return store.StatusInUse, nil
	})
}

// transition changes a visible volume's status as next decides under the
// row lock ("" leaves it).
func (s *Service) transition(ctx context.Context, k caller, volumeID, action string, next func(store.Volume) (string, error)) error {
	var vol store.Volume
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		v, err := tx.LockVolume(ctx, volumeID)
		if err == nil && !k.sees(v.ProjectID) {
			err = store.ErrNotFound
		}
		if err != nil {
			return notFound(err, "Volume %s could not be found.", volumeID)
		}
		st, err := next(v)
		if err != nil || st == "" {
			return err
		}
		if _, err := tx.SetVolumeStatus(ctx, v.ID, st); err != nil {
			return api.Internal(err)
		}
		v.Status = st
		vol = v
		return nil
	})
	if err == nil && vol.ID != "" {
		s.event(ctx, vol, action)
	}
	return err
}

// visibleAttachment returns an attachment the caller may see and its
// volume.
func (s *Service) visibleAttachment(ctx context.Context, k caller, id string) (store.Attachment, store.Volume, error) {
	a, err := s.store.GetAttachment(ctx, id)
	if err == nil && !k.sees(a.ProjectID) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Attachment{}, store.Volume{}, notFound(err, "VolumeAttachment %s could not be found.", id)
	}
	v, err := s.store.GetVolume(ctx, a.VolumeID)
	if err != nil {
		return store.Attachment{}, store.Volume{}, notFound(err, "Volume %s could not be found.", a.VolumeID)
	}
	return a, v, nil
}
