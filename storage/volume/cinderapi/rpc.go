package cinderapi

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// startRPC serves compute's volume calls (internal/rpc) on the bus.
func (s *Service) startRPC() error {
	svc, err := bus.AddService(s.bus, micro.Config{Name: "volume-api", Version: "1.0.0"})
	if err != nil {
		return err
	}
	for _, e := range []struct {
		name, subject string
		h             micro.Handler
	}{
		{"volume_get", rpc.SubjVolumeGet, bus.Handle(s.rpcVolumeGet)},
		{"volume_create", rpc.SubjVolumeCreate, bus.Handle(s.rpcVolumeCreate)},
		{"volume_delete", rpc.SubjVolumeDelete, bus.Handle(s.rpcVolumeDelete)},
		{"attachment_create", rpc.SubjAttachmentCreate, bus.Handle(s.rpcAttachmentCreate)},
		{"attachment_update", rpc.SubjAttachmentUpdate, bus.Handle(s.rpcAttachmentUpdate)},
		{"attachment_complete", rpc.SubjAttachmentComplete, bus.Handle(s.rpcAttachmentComplete)},
		{"attachment_delete", rpc.SubjAttachmentDelete, bus.Handle(s.rpcAttachmentDelete)},
		{"begin_detaching", rpc.SubjBeginDetaching, bus.Handle(s.rpcBeginDetaching)},
		{"roll_detaching", rpc.SubjRollDetaching, bus.Handle(s.rpcRollDetaching)},
	} {
		if err := svc.AddEndpoint(e.name, e.h, micro.WithEndpointSubject(e.subject), micro.WithEndpointQueueGroup("volume-api")); err != nil {
			_ = svc.Stop()
			return err
		}
	}
	s.rpc = svc
	return nil
}

func scopeCaller(sc rpc.Scope, token string) caller {
	return caller{project: sc.ProjectID, user: sc.UserID, admin: sc.AllProjects, token: token}
}

// rpcVolume is what compute sees of a volume.
func (s *Service) rpcVolume(ctx context.Context, v store.Volume) (rpc.Volume, error) {
	out := rpc.Volume{ID: v.ID, Name: deref(v.Name), ProjectID: v.ProjectID, Status: v.Status, SizeGiB: v.Size,
		Bootable: v.Bootable, Multiattach: v.Multiattach, AvailabilityZone: v.AvailabilityZone, ImageID: v.ImageMetadata["image_id"]}
	if t, err := s.store.GetType(ctx, v.VolumeTypeID); err == nil {
		out.VolumeType = t.Name
	}
	atts, err := s.store.VolumeAttachments(ctx, v.ID)
	if err != nil {
		return rpc.Volume{}, err
	}
	for _, a := range atts {
		out.Attachments = append(out.Attachments, rpcAttachment(a))
	}
	return out, nil
}

func rpcAttachment(a store.Attachment) rpc.Attachment {
	out := rpc.Attachment{ID: a.ID, VolumeID: a.VolumeID, InstanceUUID: a.InstanceUUID, Status: a.AttachStatus,
		Host: a.AttachedHost, Mountpoint: a.Mountpoint}
	if len(a.ConnectionInfo) > 0 {
		var info rpc.ConnectionInfo
		if json.Unmarshal(a.ConnectionInfo, &info) == nil {
			out.ConnectionInfo = &info
		}
	}
	return out
}

func (s *Service) rpcVolumeGet(ctx context.Context, req rpc.VolumeRequest) (rpc.Volume, error) {
	v, err := s.visibleVolume(ctx, scopeCaller(req.Scope, ""), req.VolumeID)
	if err != nil {
		return rpc.Volume{}, api.BusError(err)
	}
	out, err := s.rpcVolume(ctx, v)
	return out, api.BusError(err)
}

func (s *Service) rpcVolumeCreate(ctx context.Context, req rpc.VolumeCreateRequest) (rpc.Volume, error) {
	if req.SizeGiB < 0 {
		return rpc.Volume{}, bus.Errorf(bus.CodeBadRequest, "Invalid input received: size must be positive")
	}
	k := scopeCaller(req.Scope, req.Token)
	k.admin = false // a volume compute creates belongs to the server's project
	var name *string
	if req.Name != "" {
		name = &req.Name
	}
	v, err := s.create(ctx, k, createRequest{Size: req.SizeGiB, Name: name, ImageID: req.ImageID, SnapshotID: req.SnapshotID,
		SourceVolID: req.SourceVolumeID, VolumeType: req.VolumeType, AvailabilityZone: req.AvailabilityZone})
	if err != nil {
		return rpc.Volume{}, api.BusError(err)
	}
	out, err := s.rpcVolume(ctx, v)
	return out, api.BusError(err)
}

func (s *Service) rpcVolumeDelete(ctx context.Context, req rpc.VolumeRequest) (rpc.Empty, error) {
	v, err := s.visibleVolume(ctx, scopeCaller(req.Scope, ""), req.VolumeID)
	if err != nil {
		return rpc.Empty{}, api.BusError(err)
	}
	return rpc.Empty{}, api.BusError(s.startDelete(ctx, v.ID, false, false))
}

func (s *Service) rpcAttachmentCreate(ctx context.Context, req rpc.AttachmentCreateRequest) (rpc.Attachment, error) {
	a, err := s.attachmentCreate(ctx, scopeCaller(req.Scope, ""), req.VolumeID, req.InstanceUUID, req.Mode)
	if err != nil {
		return rpc.Attachment{}, api.BusError(err)
	}
	return rpcAttachment(a), nil
}

func (s *Service) rpcAttachmentUpdate(ctx context.Context, req rpc.AttachmentUpdateRequest) (rpc.Attachment, error) {
	a, err := s.attachmentUpdate(ctx, scopeCaller(req.Scope, ""), req.AttachmentID, req.Connector, req.Mountpoint)
	if err != nil {
		return rpc.Attachment{}, api.BusError(err)
	}
	return rpcAttachment(a), nil
}

func (s *Service) rpcAttachmentComplete(ctx context.Context, req rpc.AttachmentRequest) (rpc.Empty, error) {
	return rpc.Empty{}, api.BusError(s.attachmentComplete(ctx, scopeCaller(req.Scope, ""), req.AttachmentID))
}

func (s *Service) rpcAttachmentDelete(ctx context.Context, req rpc.AttachmentRequest) (rpc.Empty, error) {
	return rpc.Empty{}, api.BusError(s.attachmentDelete(ctx, scopeCaller(req.Scope, ""), req.AttachmentID, true))
}

func (s *Service) rpcBeginDetaching(ctx context.Context, req rpc.VolumeRequest) (rpc.Empty, error) {
	return rpc.Empty{}, api.BusError(s.beginDetaching(ctx, scopeCaller(req.Scope, ""), req.VolumeID))
}

func (s *Service) rpcRollDetaching(ctx context.Context, req rpc.VolumeRequest) (rpc.Empty, error) {
	return rpc.Empty{}, api.BusError(s.rollDetaching(ctx, scopeCaller(req.Scope, ""), req.VolumeID))
}
