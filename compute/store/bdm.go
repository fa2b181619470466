package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// Block device mapping source and destination types (Nova's
// block_device_mapping_v2).
const (
	SourceImage    = "image"
	SourceVolume   = "volume"
	SourceSnapshot = "snapshot"
	SourceBlank    = "blank"

	DestinationVolume = "volume"
	DestinationLocal  = "local"
)

// Statuses of a block device mapping: an attach or detach in flight, or
// settled (attached).
const (
	BDMAttaching = "attaching"
	BDMAttached  = "attached"
	BDMDetaching = "detaching"
)

// ConnectionInfo is a volume's connection info as the volume service gave
// it at attachment_update, kept so a detach or a domain redefinition
// needs no call to it.
type ConnectionInfo rpc.ConnectionInfo

// Scan implements sql.Scanner.
func (c *ConnectionInfo) Scan(src any) error { return scanJSON(src, c, "connection info") }

// Value implements driver.Valuer.
func (c ConnectionInfo) Value() (driver.Value, error) {
	raw, err := json.Marshal(c)
	return string(raw), err
}

// BDM is a row of block_device_mappings: one volume of a server.
type BDM struct {
	UUID            string `gorm:"column:uuid;primaryKey"`
	InstanceUUID    string
	SourceType      string
	DestinationType string
	// BootIndex is 0 for the boot disk, nil for a disk that is not
	// bootable.
	BootIndex           *int
	DeviceName          string
	VolumeID            *string
	ImageID             *string
	SnapshotID          *string
	VolumeSize          *int
	DeleteOnTermination bool
	AttachmentID        *string
	Tag                 *string
	ConnectionInfo      *ConnectionInfo `gorm:"type:jsonb"`
	Status              string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// TableName implements gorm's tabler.
func (BDM) TableName() string { return "block_device_mappings" }

// Volume is the BDM's volume ID, "" when it has none yet.
func (b BDM) Volume() string {
	if b.VolumeID == nil {
		return ""
	}
	return *b.VolumeID
}

// Attachment is the BDM's volume attachment ID, "" when it has none.
func (b BDM) Attachment() string {
	if b.AttachmentID == nil {
		return ""
	}
	return *b.AttachmentID
}

// IsRoot tells whether the BDM is the server's boot disk.
func (b BDM) IsRoot() bool { return b.BootIndex != nil && *b.BootIndex == 0 }

// CreateBDM inserts a block device mapping; a second mapping of the same
// volume or device name on one server is ErrConflict.
func (s *Store) CreateBDM(ctx context.Context, b *BDM) error {
	t := now()
	b.CreatedAt, b.UpdatedAt = t, t
	return db.Wrap(s.q(ctx).Create(b).Error, "block device mapping "+b.UUID)
}

// ListBDMs returns a server's block device mappings, boot disk first, then
// by device name.
func (s *Store) ListBDMs(ctx context.Context, instanceUUID string) ([]BDM, error) {
	var out []BDM
	err := s.q(ctx).Where("instance_uuid = ?", instanceUUID).
		Order("boot_index ASC NULLS LAST, device_name ASC").Find(&out).Error
	return out, db.Wrap(err, "block device mappings of "+instanceUUID)
}

// BDMsOf returns the block device mappings of many servers, by server
// UUID, for server listings.
func (s *Store) BDMsOf(ctx context.Context, instanceUUIDs []string) (map[string][]BDM, error) {
	out := map[string][]BDM{}
	if len(instanceUUIDs) == 0 {
		return out, nil
	}
	var rows []BDM
	err := s.q(ctx).Where("instance_uuid IN ?", instanceUUIDs).
		Order("boot_index ASC NULLS LAST, device_name ASC").Find(&rows).Error
	if err != nil {
		return nil, db.Wrap(err, "block device mappings")
	}
	for _, b := range rows {
		out[b.InstanceUUID] = append(out[b.InstanceUUID], b)
	}
	return out, nil
}

// GetBDMByVolume returns the mapping of volumeID on a server.
func (s *Store) GetBDMByVolume(ctx context.Context, instanceUUID, volumeID string) (BDM, error) {
	var b BDM
	if !uuidRE.MatchString(volumeID) {
		return b, fmt.Errorf("volume %s: %w", volumeID, ErrNotFound)
	}
	err := s.q(ctx).Where("instance_uuid = ? AND volume_id = ?", instanceUUID, volumeID).Take(&b).Error
	return b, db.Wrap(err, "volume "+volumeID+" of "+instanceUUID)
}

// GetBDM returns the mapping with that UUID.
func (s *Store) GetBDM(ctx context.Context, uuid string) (BDM, error) {
	var b BDM
	if !uuidRE.MatchString(uuid) {
		return b, fmt.Errorf("block device mapping %s: %w", uuid, ErrNotFound)
	}
	err := s.q(ctx).Where("uuid = ?", uuid).Take(&b).Error
	return b, db.Wrap(err, "block device mapping "+uuid)
}

// UpdateBDM sets columns of a mapping.
func (s *Store) UpdateBDM(ctx context.Context, uuid string, cols map[string]any) error {
	cols["updated_at"] = now()
	return db.Affected(s.q(ctx).Model(&BDM{}).Where("uuid = ?", uuid).Updates(cols), "block device mapping "+uuid)
}

// SetBDMStatus moves a mapping from status from to status to; it is
// ErrConflict when the mapping is not in from (another request moved it
// first) and ErrNotFound when it is gone.
func (s *Store) SetBDMStatus(ctx context.Context, uuid, from, to string) error {
	res := s.q(ctx).Model(&BDM{}).Where("uuid = ? AND status = ?", uuid, from).
		Updates(map[string]any{"status": to, "updated_at": now()})
	if err := db.Affected(res, "block device mapping "+uuid); !errors.Is(err, ErrNotFound) {
		return err
	}
	if _, err := s.GetBDM(ctx, uuid); err != nil {
		return err
	}
	return fmt.Errorf("block device mapping %s is not %s: %w", uuid, from, ErrConflict)
}

// DeleteBDM removes a mapping; one that is gone already is fine.
func (s *Store) DeleteBDM(ctx context.Context, uuid string) error {
	return db.Wrap(s.q(ctx).Where("uuid = ?", uuid).Delete(&BDM{}).Error, "block device mapping "+uuid)
}

// DeleteBDMsOf removes every mapping of a server.
func (s *Store) DeleteBDMsOf(ctx context.Context, instanceUUID string) error {
	return db.Wrap(s.q(ctx).Where("instance_uuid = ?", instanceUUID).Delete(&BDM{}).Error, "block device mappings of "+instanceUUID)
}

// NextDeviceName is the first /dev/vdX a server's disks leave free, after
// the names its root disk and the flavor's disks (ephemeral, swap) take,
// as Nova's get_next_device_name does; used is the set of names in use.
func NextDeviceName(used map[string]bool) (string, error) {
	for c := 'a'; c <= 'z'; c++ {
		name := fmt.Sprintf("/dev/vd%c", c)
		if !used[name] {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free device name: %w", ErrConflict)
}
