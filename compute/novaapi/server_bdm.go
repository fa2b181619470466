package novaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// bdmRequest is one validated block_device_mapping_v2 entry.
type bdmRequest struct {
	sourceType, destinationType string
	uuid                        string
	// bootIndex is nil for a device that is not bootable.
	bootIndex           *int
	volumeSize          int
	deleteOnTermination bool
	deviceName, tag     string
	volumeType          string
}

var (
	bdmUUIDRE   = regexp.MustCompile(`^[a-zA-Z0-9._-]*$`)
	bdmDeviceRE = regexp.MustCompile(`^[a-zA-Z0-9._/-]*$`)
)

func invalidBDM(format string, args ...any) error {
	return api.BadRequest("Block Device Mapping is Invalid: %s", fmt.Sprintf(format, args...))
}

// bdmFields are the members of a block_device_mapping_v2 entry Nova's
// schema knows at v.
func bdmFields(v Version) []string {
	f := []string{"virtual_name", "volume_id", "snapshot_id", "volume_size", "device_name", "delete_on_termination",
		"no_device", "connection_info", "source_type", "uuid", "image_id", "destination_type", "guest_format",
		"device_type", "disk_bus", "boot_index"}
	if v.At(32) && !v.At(33) || v.At(42) {
		f = append(f, "tag")
	}
	if v.At(67) {
		f = append(f, "volume_type")
	}
	return f
}

// parseBDMs reads block_device_mapping_v2 as Nova's schema and
// BlockDeviceDict.from_api do. kumo supports volumes (from a volume, an
// image, a snapshot or blank) and the local image root disk; local blank
// disks (ephemeral and swap beyond the flavor's) are refused.
func parseBDMs(raw json.RawMessage, v Version) ([]bdmRequest, error) {
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, api.BadRequest("Invalid input for field/attribute block_device_mapping_v2. Value: %s. %s is not of type 'array'", raw, raw)
	}
	allowed := bdmFields(v)
	var out []bdmRequest
	for _, m := range list {
		if m == nil {
			return nil, api.BadRequest("Invalid input for field/attribute block_device_mapping_v2. Value: %s. None is not of type 'object'", raw)
		}
		for k := range m {
			if !contains(allowed, k) {
				return nil, api.BadRequest("Invalid input for field/attribute block_device_mapping_v2. Additional properties are not allowed ('%s' was unexpected)", k)
			}
		}
		var b bdmRequest
		var err error
		str := func(key string, re *regexp.Regexp) (string, error) {
			s, _, err := stringField(m, key, 0, 255)
			if err == nil && re != nil && !re.MatchString(s) {
				err = api.BadRequest("Invalid input for field/attribute %s. Value: %s. '%s' does not match '%s'", key, s, s, re)
			}
			return s, err
		}
		if b.sourceType, err = str("source_type", nil); err != nil {
			return nil, err
		}
		if b.destinationType, err = str("destination_type", nil); err != nil {
			return nil, err
		}
		if b.uuid, err = str("uuid", bdmUUIDRE); err != nil {
			return nil, err
		}
		if b.deviceName, err = str("device_name", bdmDeviceRE); err != nil {
			return nil, err
		}
		if b.tag, err = str("tag", nil); err != nil {
			return nil, err
		}
		if b.volumeType, err = str("volume_type", nil); err != nil {
			return nil, err
		}
		if b.deleteOnTermination, err = boolField(m, "delete_on_termination", false); err != nil {
			return nil, err
		}
		if rawSize, ok := m["volume_size"]; ok && !isNull(rawSize) {
			n, err := intField(m, "volume_size", 1, 0)
			if err != nil {
				return nil, err
			}
			b.volumeSize = int(n)
		}
		if rawBoot, ok := m["boot_index"]; ok && !isNull(rawBoot) {
			var n json.Number
			var s string
			if json.Unmarshal(rawBoot, &n) != nil {
				if json.Unmarshal(rawBoot, &s) != nil {
					return nil, api.BadRequest("Invalid input for field/attribute boot_index. Value: %s. %s is not of type 'integer', 'string', 'null'", rawBoot, rawBoot)
				}
				n = json.Number(s)
			}
			i, err := strconv.Atoi(n.String())
			if err != nil {
				return nil, api.BadRequest("Invalid input for field/attribute boot_index. Value: %s. %s does not match '^-?[0-9]+$'", rawBoot, rawBoot)
			}
			if i >= 0 { // a negative index means "not bootable"
				b.bootIndex = &i
			}
		}
		switch b.sourceType {
		case store.SourceVolume, store.SourceImage, store.SourceSnapshot, store.SourceBlank:
		default:
			return nil, invalidBDM("Invalid source_type field.")
		}
		if b.sourceType == store.SourceBlank && b.uuid != "" {
			return nil, invalidBDM("Invalid device UUID.")
		}
		if b.sourceType != store.SourceBlank && b.uuid == "" {
			return nil, invalidBDM("Missing device UUID.")
		}
		if b.destinationType == "" {
			b.destinationType = store.DestinationVolume
			if b.sourceType == store.SourceImage || b.sourceType == store.SourceBlank {
				b.destinationType = store.DestinationLocal
			}
		}
		if b.destinationType != store.DestinationVolume && b.destinationType != store.DestinationLocal {
			return nil, api.BadRequest("Invalid input for field/attribute destination_type. Value: %s. '%s' is not one of ['local', 'volume']", b.destinationType, b.destinationType)
		}
		if b.destinationType == store.DestinationLocal && b.sourceType != store.SourceImage {
			return nil, invalidBDM("Mapping a %s to a local disk is not supported; use destination_type volume.", b.sourceType)
		}
		if b.destinationType == store.DestinationLocal && (b.bootIndex == nil || *b.bootIndex != 0) {
			return nil, invalidBDM("An image mapped to a local disk must be the boot device (boot_index 0).")
		}
		if (b.sourceType == store.SourceBlank || b.sourceType == store.SourceImage) && b.destinationType == store.DestinationVolume && b.volumeSize == 0 {
			return nil, api.BadRequest("Images with destination_type 'volume' need to have a non-zero size specified")
		}
		if b.uuid != "" && uuid.Validate(b.uuid) != nil {
			return nil, invalidBDM("failed to get %s %s.", b.sourceType, b.uuid)
		}
		b.uuid = strings.ToLower(b.uuid)
		out = append(out, b)
	}
	// Boot indexes must be 0, 1, 2... without gaps or repeats.
	var idx []int
	for _, b := range out {
		if b.bootIndex != nil {
			idx = append(idx, *b.bootIndex)
		}
	}
	seen := map[int]bool{}
	for _, i := range idx {
		seen[i] = true
	}
	for i := range idx {
		if !seen[i] || len(seen) != len(idx) {
			return nil, invalidBDM("Boot sequence for the instance and image/block device mapping combination is not valid.")
		}
	}
	return out, nil
}

// bootVolume is the entry a server boots from, if it boots from a volume.
func bootVolume(bdms []bdmRequest) (bdmRequest, bool) {
	for _, b := range bdms {
		if b.bootIndex != nil && *b.bootIndex == 0 && b.destinationType == store.DestinationVolume {
			return b, true
		}
	}
	return bdmRequest{}, false
}

// checkBDMs checks what the mappings name before anything is created:
// volumes to attach exist and are available, images are usable.
func (s *Service) checkBDMs(c *gin.Context, bdms []bdmRequest, count int) error {
	if len(bdms) > 0 && s.bus == nil {
		return api.Unavailable("The volume service is not available")
	}
	for _, b := range bdms {
		switch b.sourceType {
		case store.SourceVolume:
			if count > 1 {
				return api.BadRequest("Cannot attach one or more volumes to multiple instances")
			}
			v, err := s.volumes().Get(c.Request.Context(), volumeScope(c), b.uuid)
			if bus.HasCode(err, bus.CodeNotFound) {
				return invalidBDM("failed to get volume %s.", b.uuid)
			}
			if err != nil {
				return volumeError(err, b.uuid, "Invalid volume")
			}
			if v.Status != "available" {
				return api.BadRequest("Invalid volume: volume '%s' status must be 'available'. Currently in '%s'", v.ID, v.Status)
			}
		case store.SourceImage:
			if b.destinationType != store.DestinationVolume || s.glance == nil {
				continue
			}
			if _, err := s.bootImage(c, b.uuid, 0, 1<<30, false); err != nil {
				var ae *api.Error
				if errors.As(err, &ae) && ae.Kind == api.KindBadRequest && strings.Contains(ae.Message, "could not be found") {
					return invalidBDM("failed to get image %s.", b.uuid)
				}
				return err
			}
		}
	}
	return nil
}

// createBDMs records an instance's mappings and readies their volumes:
// volumes to attach are reserved, volumes to create are asked of the
// volume service with the caller's token (the agent waits for them).
// undo releases all of it.
func (s *Service) createBDMs(c *gin.Context, undo *revert.Stack, in store.Instance, bdms []bdmRequest) error {
	ctx := c.Request.Context()
	sc := volumeScope(c)
	var rows []store.BDM
	for _, r := range bdms {
		if r.destinationType != store.DestinationVolume {
			continue
		}
		b := store.BDM{UUID: uuid.NewString(), InstanceUUID: in.UUID, SourceType: r.sourceType,
			DestinationType: r.destinationType, BootIndex: r.bootIndex, DeleteOnTermination: r.deleteOnTermination,
			Status: store.BDMAttaching}
		if r.volumeSize > 0 {
			size := r.volumeSize
			b.VolumeSize = &size
		}
		if r.tag != "" {
			tag := r.tag
			b.Tag = &tag
		}
		if b.IsRoot() {
			b.DeviceName = "/dev/vda"
		}
		rows = append(rows, b)
	}
	// Devices: the boot volume is vda; the others take their requested
	// /dev/vdX when free, else the next free one, after the flavor's disks.
	for i := range rows {
		if rows[i].DeviceName != "" {
			continue
		}
		want := bdms[indexOfDest(bdms, i)].deviceName
		if !strings.HasPrefix(want, "/dev/") && want != "" {
			want = "/dev/" + want
		}
		taken := usedDevices(in, rows)
		if strings.HasPrefix(want, "/dev/vd") && len(want) == len("/dev/vdb") && !taken[want] {
			rows[i].DeviceName = want
			continue
		}
		name, err := store.NextDeviceName(taken)
		if err != nil {
			return api.Forbidden("The maximum allowed number of disk devices (26) to attach to a single instance has been exceeded.")
		}
		rows[i].DeviceName = name
	}
	for i := range rows {
		b := &rows[i]
		r := bdms[indexOfDest(bdms, i)]
		switch r.sourceType {
		case store.SourceVolume:
			id := r.uuid
			b.VolumeID = &id
		default:
			req := rpc.VolumeCreateRequest{Scope: sc, Name: "", SizeGiB: r.volumeSize, VolumeType: r.volumeType,
				AvailabilityZone: in.AvailabilityZone, Token: api.Token(c)}
			switch r.sourceType {
			case store.SourceImage:
				req.ImageID = r.uuid
				b.ImageID = &r.uuid
			case store.SourceSnapshot:
				req.SnapshotID = r.uuid
				b.SnapshotID = &r.uuid
			}
			v, err := s.volumes().Create(ctx, req)
			if err != nil {
				if bus.HasCode(err, bus.CodeNotFound) {
					return invalidBDM("failed to get %s %s.", r.sourceType, r.uuid)
				}
				return volumeError(err, r.uuid, "Invalid input received")
			}
			b.VolumeID = &v.ID
			if b.VolumeSize == nil {
				size := v.SizeGiB
				b.VolumeSize = &size
			}
			if b.DeleteOnTermination {
				vid := v.ID
				undo.Add(func(ctx context.Context) error {
					return s.volumes().Delete(ctx, rpc.Scope{ProjectID: in.ProjectID, AllProjects: true}, vid)
				})
			}
		}
		if err := s.store.CreateBDM(ctx, b); err != nil {
			return err
		}
		if r.sourceType == store.SourceVolume {
			att, err := s.volumes().AttachmentCreate(ctx, sc, b.Volume(), in.UUID)
			if err != nil {
				return volumeError(err, b.Volume(), "Invalid input received")
			}
			attID := att.ID
			undo.Add(func(ctx context.Context) error { return s.volumes().AttachmentDelete(ctx, sc, attID) })
			if err := s.store.UpdateBDM(ctx, b.UUID, map[string]any{"attachment_id": attID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexOfDest is the index in bdms of the i-th entry with a volume
// destination.
func indexOfDest(bdms []bdmRequest, i int) int {
	n := 0
	for j, b := range bdms {
		if b.destinationType != store.DestinationVolume {
			continue
		}
		if n == i {
			return j
		}
		n++
	}
	return -1
}

// bootsFromVolume tells whether the instance's root disk is a volume.
func (s *Service) bootsFromVolume(ctx context.Context, id string) (bool, error) {
	bdms, err := s.store.ListBDMs(ctx, id)
	if err != nil {
		return false, err
	}
	for _, b := range bdms {
		if b.IsRoot() && b.DestinationType == store.DestinationVolume {
			return true, nil
		}
	}
	return false, nil
}

// releaseVolumes frees the volumes of a server deleted before any host
// had it: attachments deleted, volumes made for it deleted when asked.
func (s *Service) releaseVolumes(ctx context.Context, in store.Instance) {
	bdms, err := s.store.ListBDMs(ctx, in.UUID)
	if err != nil {
		s.log.Warn("release volumes", "server_id", in.UUID, "error", err)
		return
	}
	sc := rpc.Scope{ProjectID: in.ProjectID, UserID: in.UserID, AllProjects: true}
	for _, b := range bdms {
		if id := b.Attachment(); id != "" {
			if err := s.volumes().AttachmentDelete(ctx, sc, id); err != nil && !bus.HasCode(err, bus.CodeNotFound) {
				s.log.Warn("release volumes: delete attachment", "server_id", in.UUID, "volume_id", b.Volume(), "error", err)
			}
		}
		if b.DeleteOnTermination && b.Volume() != "" {
			if err := s.volumes().Delete(ctx, sc, b.Volume()); err != nil && !bus.HasCode(err, bus.CodeNotFound) {
				s.log.Warn("release volumes: delete volume", "server_id", in.UUID, "volume_id", b.Volume(), "error", err)
			}
		}
		_ = s.store.DeleteBDM(ctx, b.UUID)
	}
}

// createVolumes readies the mappings of each new instance; on a failure
// everything is undone, the instances included.
func (s *Service) createVolumes(c *gin.Context, ins []store.Instance, bdms []bdmRequest) (err error) {
	if len(bdms) == 0 {
		return nil
	}
	undo := revert.New()
	defer func() {
		if err == nil {
			return
		}
		ctx := context.WithoutCancel(c.Request.Context())
		if uerr := undo.Fail(ctx); uerr != nil {
			s.log.Warn("undo server create volumes", "error", uerr)
		}
		for _, in := range ins {
			if derr := s.store.DeleteBDMsOf(ctx, in.UUID); derr != nil {
				s.log.Warn("undo server create mappings", "server_id", in.UUID, "error", derr)
			}
			if derr := s.finishDelete(ctx, in); derr != nil {
				s.log.Warn("undo server create", "server_id", in.UUID, "error", derr)
			}
		}
	}()
	for _, in := range ins {
		if err := s.createBDMs(c, undo, in, bdms); err != nil {
			return err
		}
	}
	return nil
}
