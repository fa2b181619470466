package novaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/glance"
)

const gib = int64(1) << 30

// bootImage checks that an image a server boots (or rebuilds) from exists
// for the caller, is active and fits the flavor, as Nova's
// _validate_flavor_image does; it asks the image service with the
// caller's own token, so the image service's visibility rules decide.
// Without an image service configured nothing is checked.
func (s *Service) bootImage(c *gin.Context, id string, rootGB, memoryMB int, rebuild bool) (*glance.Image, error) {
	if s.glance == nil {
		return nil, nil
	}
	img, err := s.glance.Get(c.Request.Context(), api.Token(c), id)
	switch {
	case errors.Is(err, glance.ErrNotFound) && rebuild:
		return nil, api.BadRequest("Cannot find image for rebuild")
	case errors.Is(err, glance.ErrNotFound):
		return nil, api.BadRequest("Image %s could not be found.", id)
	case err != nil:
		return nil, api.Unavailable("Could not reach the image service: %v", err)
	}
	if img.Status != images.ImageStatusActive {
		return nil, api.BadRequest("Image %s is not active.", id)
	}
	if err := fitsFlavor(img, rootGB, memoryMB); err != nil {
		return nil, err
	}
	return img, nil
}

// fitsFlavor checks an image's minimum RAM and disk, and its size, against
// a flavor.
func fitsFlavor(img *glance.Image, rootGB, memoryMB int) error {
	if img.MinRAMMegabytes > memoryMB {
		return api.BadRequest("Flavor's memory is too small for requested image.")
	}
	// A flavor without a root disk boots on a disk the image's size.
	if rootGB > 0 {
		dest := int64(rootGB) * gib
		size := img.VirtualSize
		if size == 0 {
			size = img.SizeBytes
		}
		if size > dest {
			return api.BadRequest("Flavor's disk is too small for requested image. Flavor disk is %d bytes, image is %d bytes.", dest, size)
		}
		if minDisk := int64(img.MinDiskGigabytes) * gib; minDisk > dest {
			return api.BadRequest("Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is %d bytes, minimum size is %d bytes.", dest, minDisk)
		}
	}
	return nil
}

// snapshotStates are the vm_states createImage is valid in.
var snapshotStates = []string{store.VMActive, store.VMStopped, store.VMPaused, store.VMSuspended}

// createImage snapshots a server into a new image: the image is created
// (queued) in the image service as the caller, the server's task becomes
// image_snapshot_pending, and the host's agent uploads the data.
func (s *Service) createImage(c *gin.Context, v Version, arg json.RawMessage) (*api.Response, error) {
	if err := s.allowed(c, "os_compute_api:servers:create_image"); err != nil {
		return nil, err
	}
	m, err := actionObject("createImage", arg, "name", "metadata")
	if err != nil {
		return nil, err
	}
	name, ok, err := stringField(m, "name", 1, 255)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.BadRequest("Invalid input for field/attribute createImage. Value: %s. 'name' is a required property", compact(m))
	}
	meta, err := metadataField(m, "metadata")
	if err != nil {
		return nil, err
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if !contains(snapshotStates, in.VMState) || in.TaskState != nil || in.Host == nil {
		return nil, conflictState(in, "createImage")
	}
	if s.glance == nil || s.queue == nil {
		return nil, api.Unavailable("Snapshots need the image service and the compute work queue.")
	}
	ctx, tok := c.Request.Context(), api.Token(c)
	cl := api.Claims(c)
	// Nova's snapshot metadata: the base image's minimum disk or the
	// flavor's root disk, whichever is larger, the base image's minimum
	// RAM, and properties naming where it came from.
	minDisk, minRAM := in.RootGB, 0
	if base, err := s.glance.Get(ctx, tok, in.ImageRef); err == nil {
		minDisk, minRAM = max(minDisk, base.MinDiskGigabytes), base.MinRAMMegabytes
	}
	props := map[string]string{}
	for k, val := range meta {
		props[k] = val
	}
	props["instance_uuid"], props["user_id"], props["image_type"] = in.UUID, cl.UserID, "snapshot"
	if in.ImageRef != "" {
		props["base_image_ref"] = in.ImageRef
	}
	private := images.ImageVisibilityPrivate
	img, err := s.glance.Create(ctx, tok, images.CreateOpts{Name: name, Visibility: &private, MinDisk: minDisk, MinRAM: minRAM, Properties: props})
	if err != nil {
		return nil, imageServiceError(err)
	}
	undo := func() {
		if err := s.glance.Delete(context.WithoutCancel(ctx), tok, img.ID); err != nil {
			s.log.Warn("delete snapshot image", "image_id", img.ID, "error", err)
		}
	}
	in, err = s.store.BeginTask(ctx, in.UUID, snapshotStates, map[string]any{"task_state": store.TaskImageSnapshotPending}, s.actionRow(c, in, "createImage"))
	if err != nil {
		undo()
		if errors.Is(err, store.ErrState) {
			return nil, conflictState(in, "createImage")
		}
		return nil, err
	}
	msg := work.Task{InstanceUUID: in.UUID, Task: work.TaskSnapshot, ImageID: img.ID, ImageURL: s.glance.URL(), Token: tok}
	if err := s.publish(ctx, *in.Host, work.VerbTask, msg, "snapshot-"+img.ID); err != nil {
		undo()
		_ = s.store.UpdateInstance(context.WithoutCancel(ctx), in.UUID, map[string]any{"task_state": nil})
		return nil, api.Unavailable("Could not reach the compute host: %v", err)
	}
	// From 2.45 the image ID is in the body and the Location header is
	// gone. The body's type is exactly application/json, as Nova's:
	// gophercloud reads it only then (gin would add a charset).
	if v.At(45) {
		raw, _ := json.Marshal(gin.H{"image_id": img.ID})
		return &api.Response{Status: http.StatusAccepted, Stream: bytes.NewReader(raw), ContentType: "application/json"}, nil
	}
	return api.Accepted(nil).WithHeader("Location", s.glance.ImageURL(img.ID)), nil
}

// imageServiceError turns an image service refusal into the compute API's
// answer: its 4xx are the caller's fault (quota, bad metadata).
func imageServiceError(err error) error {
	var code gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &code) {
		switch {
		case code.Actual == http.StatusRequestEntityTooLarge || code.Actual == http.StatusForbidden:
			return api.Forbidden("The image service refused the snapshot: %s", code.Body)
		case code.Actual >= 400 && code.Actual < 500:
			return api.BadRequest("The image service refused the snapshot: %s", code.Body)
		}
	}
	return api.Unavailable("Could not reach the image service: %v", fmt.Sprint(err))
}
