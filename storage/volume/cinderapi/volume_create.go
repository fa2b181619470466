package cinderapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/glance"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// createRequest is a volume create, from the API or from compute.
type createRequest struct {
	Size             int // 0: take the source's
	Name             *string
	Description      *string
	ImageID          string
	SnapshotID       string
	SourceVolID      string
	VolumeType       string
	AvailabilityZone string
	Metadata         map[string]string
	Multiattach      bool
}

// parseSize reads a size the way Cinder's schema does: an integer or a
// string of digits, at least 1; null or absent is 0 (not given).
func parseSize(raw json.RawMessage) (int, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	val := s
	var str string
	if json.Unmarshal(raw, &str) == nil {
		val = str
		if !digits(str) {
			return 0, api.BadRequest("Invalid input for field/attribute size. Value: %s. '%s' does not match '^[0-9]+$'", str, str)
		}
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil {
		return 0, api.BadRequest("Invalid input for field/attribute size. Value: %s. %s is not of type 'integer', 'string', 'null'", s, s)
	}
	if n < 1 {
		return 0, api.BadRequest("Invalid input for field/attribute size. Value: %d. %d is less than the minimum of 1", n, n)
	}
	if n > math.MaxInt32 {
		return 0, api.BadRequest("Invalid input for field/attribute size. Value: %d. %d is greater than the maximum of %d", n, n, math.MaxInt32)
	}
	return int(n), nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// createVolume is POST /volumes.
func (s *Service) createVolume(c *gin.Context, ver Version) (*api.Response, error) {
	var body struct {
		Volume *struct {
			Size             json.RawMessage   `json:"size"`
			Name             *string           `json:"name"`
			Description      *string           `json:"description"`
			DisplayName      *string           `json:"display_name"`
			DisplayDesc      *string           `json:"display_description"`
			ImageRef         *string           `json:"imageRef"`
			ImageID          *string           `json:"image_id"`
			SnapshotID       *string           `json:"snapshot_id"`
			SourceVolID      *string           `json:"source_volid"`
			BackupID         *string           `json:"backup_id"`
			VolumeType       *string           `json:"volume_type"`
			AvailabilityZone *string           `json:"availability_zone"`
			Metadata         map[string]string `json:"metadata"`
			Multiattach      bool              `json:"multiattach"`
		} `json:"volume"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	b := body.Volume
	if b == nil {
		return nil, api.BadRequest("Missing required element 'volume' in request body.")
	}
	if b.BackupID != nil && *b.BackupID != "" {
		return nil, api.BadRequest("Creating a volume from a backup is not supported.")
	}
	size, err := parseSize(b.Size)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(b.Metadata); err != nil {
		return nil, err
	}
	req := createRequest{Size: size, Name: first(b.Name, b.DisplayName), Description: first(b.Description, b.DisplayDesc),
		ImageID: deref(first(b.ImageRef, b.ImageID)), SnapshotID: deref(b.SnapshotID), SourceVolID: deref(b.SourceVolID),
		VolumeType: deref(b.VolumeType), AvailabilityZone: deref(b.AvailabilityZone), Metadata: b.Metadata, Multiattach: b.Multiattach}
	k := callerOf(c)
	v, err := s.create(c.Request.Context(), k, req)
	if err != nil {
		return nil, err
	}
	view, err := s.showVolume(c.Request.Context(), v, ver, k.admin)
	if err != nil {
		return nil, err
	}
	return api.Accepted(gin.H{"volume": view}), nil
}

// create validates a volume create, records the volume (status creating)
// with its quota in one transaction, and hands the work to the manager.
func (s *Service) create(ctx context.Context, k caller, req createRequest) (store.Volume, error) {
	if req.Name != nil && len(*req.Name) > 255 {
		return store.Volume{}, invalidInput("name has more than 255 characters.")
	}
	zone := req.AvailabilityZone
	if zone == "" {
		zone = s.cfg.Zone
	}
	if zone != s.cfg.Zone {
		return store.Volume{}, invalidInput("Availability zone '%s' is invalid.", zone)
	}
	sources := 0
	for _, src := range []string{req.ImageID, req.SnapshotID, req.SourceVolID} {
		if src != "" {
			sources++
		}
	}
	if sources > 1 {
		return store.Volume{}, invalidInput("Only one of snapshot, source volume or image may be given.")
	}
	v := store.Volume{ID: uuid.NewString(), ProjectID: k.project, UserID: k.user, Name: req.Name, Description: req.Description,
		Size: req.Size, Status: store.StatusCreating, AvailabilityZone: zone, Host: s.cfg.Host,
		Metadata: store.Meta(req.Metadata), Multiattach: req.Multiattach}
	vt, err := s.resolveType(ctx, k, req.VolumeType)
	if err != nil {
		return store.Volume{}, err
	}
	v.VolumeTypeID = vt.ID
	if isTrue(vt.ExtraSpecs["multiattach"]) {
		v.Multiattach = true
	}
	switch {
	case req.SnapshotID != "":
		sn, err := s.store.GetSnapshot(ctx, req.SnapshotID)
		if err == nil && !k.sees(sn.ProjectID) {
			err = store.ErrNotFound
		}
		if err != nil {
			return store.Volume{}, notFound(err, "Snapshot %s could not be found.", req.SnapshotID)
		}
		if sn.Status != store.SnapshotAvailable {
			return store.Volume{}, api.BadRequest("Invalid snapshot: Originating snapshot status must be one of 'available' values")
		}
		if v.Size == 0 {
			v.Size = sn.Size
		}
		if v.Size < sn.Size {
			return store.Volume{}, invalidInput("Volume size '%d'GB cannot be smaller than the snapshot size %dGB. They must be >= original snapshot size.", v.Size, sn.Size)
		}
		src, err := s.store.GetVolume(ctx, sn.VolumeID)
		if err != nil {
			return store.Volume{}, api.Internal(err)
		}
		v.SnapshotID, v.Host, v.Bootable, v.ImageMetadata = &sn.ID, src.Host, src.Bootable, src.ImageMetadata
	case req.SourceVolID != "":
		src, err := s.visibleVolume(ctx, k, req.SourceVolID)
		if err != nil {
			return store.Volume{}, err
		}
		if src.Status != store.StatusAvailable && src.Status != store.StatusInUse {
			return store.Volume{}, invalidVolume("Volume %s status must be available or in-use, but current status is: %s.", src.ID, src.Status)
		}
		if v.Size == 0 {
			v.Size = src.Size
		}
		if v.Size < src.Size {
			return store.Volume{}, invalidInput("Volume size '%d'GB cannot be smaller than original volume size %dGB. They must be >= original volume size.", v.Size, src.Size)
		}
		v.SourceVolID, v.Host, v.Bootable, v.ImageMetadata = &src.ID, src.Host, src.Bootable, src.ImageMetadata
	case req.ImageID != "":
		if v.Size == 0 {
			return store.Volume{}, errNoSize()
		}
		meta, err := s.checkImage(ctx, k, req.ImageID, v.Size)
		if err != nil {
			return store.Volume{}, err
		}
		v.ImageID, v.Bootable, v.ImageMetadata = &req.ImageID, true, meta
	default:
		if v.Size == 0 {
			return store.Volume{}, errNoSize()
		}
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateVolume(ctx, &v); err != nil {
			return api.Internal(err)
		}
		return tx.ConsumeQuota(ctx, s.quota, v.ProjectID, map[string]int64{
			store.ResourceVolumes: 1, store.ResourceGigabytes: int64(v.Size)})
	})
	if err != nil {
		return store.Volume{}, quotaError(err, v.Size)
	}
	r := revert.New()
	defer r.Fail(context.WithoutCancel(ctx))
	r.Add(func(ctx context.Context) error { return s.dropVolume(ctx, v) })
	msg := work.Volume{VolumeID: v.ID, Op: work.OpCreate}
	if v.ImageID != nil {
		msg.ImageURL, msg.Token = s.glance.URL(), k.token
	}
	if err := s.dispatchVolume(ctx, v.Host, msg); err != nil {
		return store.Volume{}, err
	}
	r.Success()
	s.event(ctx, v, "create_start")
	return v, nil
}

// dropVolume undoes a create whose work could not be handed over: the row
// and its quota go together.
func (s *Service) dropVolume(ctx context.Context, v store.Volume) error {
	return s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteVolume(ctx, v.ID); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, s.quota, v.ProjectID, map[string]int64{
			store.ResourceVolumes: -1, store.ResourceGigabytes: -int64(v.Size)})
	})
}

func errNoSize() error {
	return invalidInput("Invalid volume size provided for create request: None (size argument must be an integer (or string representation of an integer) and greater than zero).")
}

func isTrue(spec string) bool {
	s := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(spec), "<is>")))
	return s == "true" || s == "1" || s == "yes"
}

// resolveType finds a volume type the caller may use by name or ID; empty
// is the default.
func (s *Service) resolveType(ctx context.Context, k caller, nameOrID string) (store.VolumeType, error) {
	if nameOrID == "" {
		nameOrID = store.DefaultTypeName
	}
	t, err := s.store.GetTypeByName(ctx, nameOrID)
	if errors.Is(err, store.ErrNotFound) {
		t, err = s.store.GetType(ctx, nameOrID)
	}
	if err == nil {
		err = s.canUseType(ctx, t, k)
	}
	if err != nil {
		return store.VolumeType{}, notFound(err, "Volume type with name %s could not be found.", nameOrID)
	}
	return t, nil
}

// checkImage reads the image with the caller's token and checks that the
// volume can hold it, returning the volume_image_metadata to record.
func (s *Service) checkImage(ctx context.Context, k caller, id string, sizeGiB int) (store.Meta, error) {
	img, err := s.glance.Get(ctx, k.token, id)
	if errors.Is(err, glance.ErrNotFound) {
		return nil, api.BadRequest("Invalid image identifier or unable to access requested image.")
	}
	if err != nil {
		return nil, api.Internal(err)
	}
	if img.Status != "active" {
		return nil, api.BadRequest("Image %s is not active.", id)
	}
	gib := int64(sizeGiB) << 30
	if img.VirtualSize > gib || img.SizeBytes > gib {
		need := img.VirtualSize
		if img.SizeBytes > need {
			need = img.SizeBytes
		}
		return nil, api.BadRequest("Image %s is unacceptable: Image virtual size is %dGB and doesn't fit in a volume of size %dGB.",
			id, (need+(1<<30)-1)>>30, sizeGiB)
	}
	if img.MinDiskGigabytes > sizeGiB {
		return nil, api.BadRequest("Volume size %dGB cannot be smaller than the image minDisk size %dGB.", sizeGiB, img.MinDiskGigabytes)
	}
	return store.Meta{
		"image_id": img.ID, "image_name": img.Name, "checksum": img.Checksum, "container_format": img.ContainerFormat,
		"disk_format": img.DiskFormat, "min_disk": strconv.Itoa(img.MinDiskGigabytes), "min_ram": strconv.Itoa(img.MinRAMMegabytes),
		"size": strconv.FormatInt(img.SizeBytes, 10),
	}, nil
}

// quotaError renders an over-quota refusal as Cinder does (413 overLimit,
// with the exception's name before its message).
func quotaError(err error, requested int) error {
	var oq *quota.OverQuotaError
	if !errors.As(err, &oq) {
		var ae *api.Error
		if errors.As(err, &ae) {
			return err
		}
		return api.Internal(err)
	}
	switch oq.Resource {
	case store.ResourceGigabytes:
		return api.QuotaExceeded("VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. "+
			"Requested %dG, quota is %dG and %dG has been consumed.", requested, oq.Limit, oq.InUse+oq.Reserved)
	case store.ResourceVolumes:
		return api.QuotaExceeded("VolumeLimitExceeded: Maximum number of volumes allowed (%d) exceeded for quota 'volumes'.", oq.Limit)
	case store.ResourceSnapshots:
		return api.QuotaExceeded("SnapshotLimitExceeded: Maximum number of snapshots allowed (%d) exceeded", oq.Limit)
	}
	return api.QuotaExceeded("%s", fmt.Sprint(oq))
}
