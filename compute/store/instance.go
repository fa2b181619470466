package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"gorm.io/gorm/clause"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// Nova's vm_state values (nova/compute/vm_states.py) that kumo uses.
const (
	VMBuilding  = "building"
	VMActive    = "active"
	VMStopped   = "stopped"
	VMPaused    = "paused"
	VMSuspended = "suspended"
	VMError     = "error"
	VMDeleted   = "deleted"
)

// Nova's task_state values (nova/compute/task_states.py) that kumo uses.
const (
	TaskScheduling    = "scheduling"
	TaskSpawning      = "spawning"
	TaskPoweringOff   = "powering-off"
	TaskPoweringOn    = "powering-on"
	TaskRebooting     = "rebooting"
	TaskRebootingHard = "rebooting_hard"
	TaskPausing       = "pausing"
	TaskUnpausing     = "unpausing"
	TaskSuspending    = "suspending"
	TaskResuming      = "resuming"
	TaskDeleting      = "deleting"
)

// Fault is the last error of an instance, as Nova shows it on ERROR.
type Fault struct {
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Details string    `json:"details,omitempty"`
	Created time.Time `json:"created"`
}

// Scan implements sql.Scanner.
func (f *Fault) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		return json.Unmarshal(v, f)
	case string:
		return json.Unmarshal([]byte(v), f)
	}
	return fmt.Errorf("scan fault: unexpected %T", src)
}

// Value implements driver.Valuer.
func (f Fault) Value() (driver.Value, error) {
	raw, err := json.Marshal(f)
	return string(raw), err
}

// Instance is a row of the instances table: one server.
type Instance struct {
	UUID             string `gorm:"column:uuid;primaryKey"`
	Name             string
	ProjectID        string
	UserID           string
	ImageRef         string
	FlavorID         string
	FlavorName       string
	VCPUs            int `gorm:"column:vcpus"`
	MemoryMB         int
	RootGB           int
	EphemeralGB      int
	Swap             int
	FlavorExtraSpecs Specs `gorm:"type:jsonb"`
	KeyName          *string
	PublicKey        *string
	// UserData is base64, as the API received it.
	UserData         *string
	Metadata         Specs `gorm:"type:jsonb"`
	Host             *string
	VMState          string `gorm:"column:vm_state"`
	TaskState        *string
	PowerState       int
	ConfigDrive      bool
	AvailabilityZone string
	Fault            *Fault `gorm:"type:jsonb"`
	CreatedAt        time.Time
	UpdatedAt        *time.Time
	LaunchedAt       *time.Time
	TerminatedAt     *time.Time
	Deleted          bool
	DeletedAt        *time.Time
	// Description is the server's description (microversion 2.19).
	Description *string
	// Hostname overrides the name-derived hostname (microversion 2.90).
	Hostname     *string
	Locked       bool
	LockedBy     *string
	LockedReason *string
	// Tags are kept on the row, so a listing needs no second query.
	Tags          db.TextArray `gorm:"type:text[]"`
	ReservationID string
	LaunchIndex   int
	// RequestedNetworks is the create's "networks" (nil: none), and
	// NetworkInfo the cache of the instance's ports (instance_network.go).
	RequestedNetworks *RequestedNetworks `gorm:"type:jsonb"`
	NetworkInfo       NetworkInfo        `gorm:"type:jsonb"`
}

// TableName implements gorm's tabler.
func (Instance) TableName() string { return "instances" }

// InstanceAction is a row of instance_actions.
type InstanceAction struct {
	ID           int64 `gorm:"primaryKey"`
	InstanceUUID string
	Action       string
	RequestID    string
	UserID       string
	ProjectID    string
	Message      *string
	StartTime    time.Time
	FinishTime   *time.Time
	UpdatedAt    *time.Time
}

// TableName implements gorm's tabler.
func (InstanceAction) TableName() string { return "instance_actions" }

// CreateInstance inserts a new instance row.
func (s *Store) CreateInstance(ctx context.Context, in *Instance) error {
	if in.CreatedAt.IsZero() {
		in.CreatedAt = now()
	}
	t := in.CreatedAt
	in.UpdatedAt = &t
	return db.Wrap(s.q(ctx).Create(in).Error, "instance "+in.UUID)
}

// GetInstance returns the instance that is not deleted with that UUID.
func (s *Store) GetInstance(ctx context.Context, uuid string) (Instance, error) {
	var in Instance
	if !uuidRE.MatchString(uuid) {
		return in, fmt.Errorf("instance %s: %w", uuid, ErrNotFound)
	}
	err := s.q(ctx).Where("uuid = ? AND NOT deleted", uuid).Take(&in).Error
	return in, db.Wrap(err, "instance "+uuid)
}

// LockInstance is GetInstance with a row lock, for use inside Tx.
func (s *Store) LockInstance(ctx context.Context, uuid string) (Instance, error) {
	var in Instance
	if !uuidRE.MatchString(uuid) {
		return in, fmt.Errorf("instance %s: %w", uuid, ErrNotFound)
	}
	err := s.q(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("uuid = ? AND NOT deleted", uuid).Take(&in).Error
	return in, db.Wrap(err, "instance "+uuid)
}

// UpdateInstance sets columns of the live instance uuid and updated_at.
func (s *Store) UpdateInstance(ctx context.Context, uuid string, cols map[string]any) error {
	cols["updated_at"] = now()
	res := s.q(ctx).Model(&Instance{}).Where("uuid = ? AND NOT deleted", uuid).Updates(cols)
	return db.Affected(res, "instance "+uuid)
}

// MarkInstanceDeleted soft-deletes the instance; deleting it again is not an
// error.
func (s *Store) MarkInstanceDeleted(ctx context.Context, uuid string) error {
	t := now()
	return db.Wrap(s.q(ctx).Model(&Instance{}).Where("uuid = ? AND NOT deleted", uuid).Updates(map[string]any{
		"deleted": true, "deleted_at": t, "terminated_at": t, "updated_at": t,
		"vm_state": VMDeleted, "task_state": nil, "power_state": 0,
	}).Error, "instance "+uuid)
}

// AddInstanceAction records an action asked of an instance.
func (s *Store) AddInstanceAction(ctx context.Context, a *InstanceAction) error {
	if a.StartTime.IsZero() {
		a.StartTime = now()
	}
	if a.UpdatedAt == nil {
		t := a.StartTime
		a.UpdatedAt = &t
	}
	return db.Wrap(s.q(ctx).Create(a).Error, "instance action")
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// Quota resources an instance is charged for; the compute API registers
// their defaults.
const (
	QuotaInstances = "compute.instances"
	QuotaCores     = "compute.cores"
	QuotaRAM       = "compute.ram"
)

// InstanceQuota is what in charges to its project's quota; negate it to
// release.
func InstanceQuota(in Instance) map[string]int64 {
	return map[string]int64{QuotaInstances: 1, QuotaCores: int64(in.VCPUs), QuotaRAM: int64(in.MemoryMB)}
}

// DeleteInstance releases the instance's quota (deltas from InstanceQuota)
// and marks it deleted in one transaction; an instance already deleted is
// not an error and releases nothing.
func (s *Store) DeleteInstance(ctx context.Context, q *quota.Engine, uuid string) error {
	return s.Tx(ctx, func(tx *Store) error {
		in, err := tx.LockInstance(ctx, uuid)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		neg := map[string]int64{}
		for k, n := range InstanceQuota(in) {
			neg[k] = -n
		}
		if err := tx.ConsumeQuota(ctx, q, in.ProjectID, neg); err != nil {
			return err
		}
		if err := tx.MarkInstanceDeleted(ctx, uuid); err != nil {
			return err
		}
		// A deleted server leaves its server groups.
		return db.Wrap(tx.q(ctx).Exec(`DELETE FROM server_group_members WHERE instance_uuid = ?`, uuid).Error, "server group members")
	})
}

// GetInstanceWithDeleted returns the instance with that UUID even if it is
// deleted, as instance actions are shown for deleted servers.
func (s *Store) GetInstanceWithDeleted(ctx context.Context, uuid string) (Instance, error) {
	var in Instance
	if !uuidRE.MatchString(uuid) {
		return in, fmt.Errorf("instance %s: %w", uuid, ErrNotFound)
	}
	err := s.q(ctx).Where("uuid = ?", uuid).Take(&in).Error
	return in, db.Wrap(err, "instance "+uuid)
}
