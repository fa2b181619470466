// Package cinder is compute's client of the volume service over the bus
// (internal/rpc's volume contracts): the compute API reserves attachments
// and creates boot volumes, the compute agent connects, completes and
// deletes attachments, as Nova's cinder client does with Cinder's
// attachments API. It must not import the volume service's packages.
package cinder

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// callTimeout bounds one call to the volume service.
const callTimeout = 30 * time.Second

// Client calls the volume service on a bus.
type Client struct {
	Bus *bus.Bus
}

func call[Req, Resp any](ctx context.Context, c Client, subject string, req Req) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return bus.Request[Req, Resp](ctx, c.Bus, subject, req)
}

// Get shows a volume.
func (c Client) Get(ctx context.Context, sc rpc.Scope, id string) (rpc.Volume, error) {
	return call[rpc.VolumeRequest, rpc.Volume](ctx, c, rpc.SubjVolumeGet, rpc.VolumeRequest{Scope: sc, VolumeID: id})
}

// Create asks for a new volume; it comes back "creating".
func (c Client) Create(ctx context.Context, req rpc.VolumeCreateRequest) (rpc.Volume, error) {
	return call[rpc.VolumeCreateRequest, rpc.Volume](ctx, c, rpc.SubjVolumeCreate, req)
}

// Delete deletes an available volume.
func (c Client) Delete(ctx context.Context, sc rpc.Scope, id string) error {
	_, err := call[rpc.VolumeRequest, rpc.Empty](ctx, c, rpc.SubjVolumeDelete, rpc.VolumeRequest{Scope: sc, VolumeID: id})
	return err
}

// AttachmentCreate reserves a volume for an instance.
func (c Client) AttachmentCreate(ctx context.Context, sc rpc.Scope, volumeID, instanceUUID string) (rpc.Attachment, error) {
	return call[rpc.AttachmentCreateRequest, rpc.Attachment](ctx, c, rpc.SubjAttachmentCreate,
		rpc.AttachmentCreateRequest{Scope: sc, VolumeID: volumeID, InstanceUUID: instanceUUID})
}

// AttachmentUpdate hands this host's connector over and returns the
// attachment with its connection info.
func (c Client) AttachmentUpdate(ctx context.Context, sc rpc.Scope, attachmentID string, conn rpc.Connector, mountpoint string) (rpc.Attachment, error) {
	return call[rpc.AttachmentUpdateRequest, rpc.Attachment](ctx, c, rpc.SubjAttachmentUpdate,
		rpc.AttachmentUpdateRequest{Scope: sc, AttachmentID: attachmentID, Connector: conn, Mountpoint: mountpoint})
}

// AttachmentComplete marks the volume in-use.
func (c Client) AttachmentComplete(ctx context.Context, sc rpc.Scope, attachmentID string) error {
	_, err := call[rpc.AttachmentRequest, rpc.Empty](ctx, c, rpc.SubjAttachmentComplete, rpc.AttachmentRequest{Scope: sc, AttachmentID: attachmentID})
	return err
}

// AttachmentDelete removes an attachment; a missing one is fine.
func (c Client) AttachmentDelete(ctx context.Context, sc rpc.Scope, attachmentID string) error {
	_, err := call[rpc.AttachmentRequest, rpc.Empty](ctx, c, rpc.SubjAttachmentDelete, rpc.AttachmentRequest{Scope: sc, AttachmentID: attachmentID})
	return err
}

// BeginDetaching moves an in-use volume to detaching.
func (c Client) BeginDetaching(ctx context.Context, sc rpc.Scope, volumeID string) error {
	_, err := call[rpc.VolumeRequest, rpc.Empty](ctx, c, rpc.SubjBeginDetaching, rpc.VolumeRequest{Scope: sc, VolumeID: volumeID})
	return err
}

// RollDetaching moves a detaching volume back to in-use.
func (c Client) RollDetaching(ctx context.Context, sc rpc.Scope, volumeID string) error {
	_, err := call[rpc.VolumeRequest, rpc.Empty](ctx, c, rpc.SubjRollDetaching, rpc.VolumeRequest{Scope: sc, VolumeID: volumeID})
	return err
}

// NotFound tells whether err is the volume service's "not found".
func NotFound(err error) bool { return bus.HasCode(err, bus.CodeNotFound) }
