package cinderapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// The legacy attach actions (before the attachments API): os-reserve,
// os-initialize_connection, os-attach, then os-detach and
// os-terminate_connection. They share the attachments' state machine.

// initializeConnection returns a host's connection info, changing no
// state.
func (s *Service) initializeConnection(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	conn, err := actionConnector(raw)
	if err != nil {
		return nil, err
	}
	reply, err := s.connect(c.Request.Context(), v.Host, work.ConnectRequest{VolumeID: v.ID, Connector: conn})
	if err != nil {
		return nil, err
	}
	info := reply.ConnectionInfo
	info.Data.VolumeID = v.ID
	if info.Data.AccessMode == "" {
		info.Data.AccessMode = "rw"
	}
	return api.OK(gin.H{"connection_info": info}), nil
}

// terminateConnection undoes initializeConnection for a host.
func (s *Service) terminateConnection(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	conn, err := actionConnector(raw)
	if err != nil {
		return nil, err
	}
	if _, err := s.connect(c.Request.Context(), v.Host, work.ConnectRequest{VolumeID: v.ID, Connector: conn, Disconnect: true}); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}

func actionConnector(raw json.RawMessage) (rpc.Connector, error) {
	var body struct {
		Connector json.RawMessage `json:"connector"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return rpc.Connector{}, api.BadRequest("Malformed request body: %v", err)
	}
	conn, err := connectorOf(body.Connector)
	if err != nil {
		return rpc.Connector{}, err
	}
	if conn == nil || conn.Host == "" {
		return rpc.Connector{}, api.BadRequest("Invalid input for field/attribute connector. 'connector' with a 'host' is required")
	}
	return *conn, nil
}

// attachLegacy is os-attach: the volume is attached to the instance at
// mountpoint at once.
func (s *Service) attachLegacy(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	var body struct {
		InstanceUUID string `json:"instance_uuid"`
		MountPoint   string `json:"mountpoint"`
		Mode         string `json:"mode"`
		HostName     string `json:"host_name"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, api.BadRequest("Malformed request body: %v", err)
	}
	if body.MountPoint == "" {
		return nil, api.BadRequest("Must specify 'mountpoint'")
	}
	if uuid.Validate(body.InstanceUUID) != nil {
		return nil, api.BadRequest("Invalid request to attach volume to an invalid target")
	}
	if body.Mode == "" {
		body.Mode = "rw"
	}
	if body.Mode != "rw" && body.Mode != "ro" {
		return nil, api.BadRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'")
	}
	ctx := c.Request.Context()
	var vol store.Volume
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		cur, err := tx.LockVolume(ctx, v.ID)
		if err != nil {
			return notFound(err, "Volume %s could not be found.", v.ID)
		}
		if !attachable(cur) && cur.Status != store.StatusAttaching && cur.Status != store.StatusReserved {
			return invalidVolume("Volume %s status must be available or attaching to attach, but the current status is %s.", cur.ID, cur.Status)
		}
		t := time.Now().UTC()
		a := store.Attachment{ID: uuid.NewString(), VolumeID: cur.ID, ProjectID: cur.ProjectID, InstanceUUID: body.InstanceUUID,
			AttachStatus: rpc.AttachAttached, AttachMode: body.Mode, AttachedHost: body.HostName, Mountpoint: body.MountPoint, AttachTime: &t}
		if err := tx.CreateAttachment(ctx, &a); err != nil {
			return api.Internal(err)
		}
		if vol, err = settle(ctx, tx, cur); err != nil {
			return api.Internal(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.event(ctx, vol, "attach_end")
	return api.Accepted(nil), nil
}

// detachLegacy is os-detach: the named attachment (or the volume's only
// one) is removed.
func (s *Service) detachLegacy(c *gin.Context, _ Version, v store.Volume, raw json.RawMessage) (*api.Response, error) {
	var body struct {
		AttachmentID string `json:"attachment_id"`
	}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, api.BadRequest("Malformed request body: %v", err)
		}
	}
	ctx := c.Request.Context()
	id := body.AttachmentID
	if id == "" {
		atts, err := s.store.VolumeAttachments(ctx, v.ID)
		if err != nil {
			return nil, api.Internal(err)
		}
		if len(atts) != 1 {
			return nil, invalidVolume("Volume %s has %d attachments: name the attachment_id to detach.", v.ID, len(atts))
		}
		id = atts[0].ID
	}
	if a, err := s.store.GetAttachment(ctx, id); err != nil || a.VolumeID != v.ID {
		return nil, api.NotFound("VolumeAttachment %s could not be found.", id)
	}
	if err := s.attachmentDelete(context.WithoutCancel(ctx), callerOf(c), id, false); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}
