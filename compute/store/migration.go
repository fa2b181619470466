package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm/clause"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// VMResized is Nova's vm_state of a resized instance awaiting confirmation
// (status VERIFY_RESIZE).
const VMResized = "resized"

// Nova's task_state values of resize, rebuild and snapshot.
const (
	TaskResizePrep           = "resize_prep"
	TaskResizeMigrating      = "resize_migrating"
	TaskResizeFinish         = "resize_finish"
	TaskResizeReverting      = "resize_reverting"
	TaskRebuilding           = "rebuilding"
	TaskRebuildSpawning      = "rebuild_spawning"
	TaskImageSnapshotPending = "image_snapshot_pending"
	TaskImageSnapshot        = "image_snapshot"
	TaskImagePendingUpload   = "image_pending_upload"
	TaskImageUploading       = "image_uploading"
)

// Migration statuses of a resize, as Nova names them.
const (
	MigrationPreMigrating  = "pre-migrating"
	MigrationMigrating     = "migrating"
	MigrationPostMigrating = "post-migrating"
	MigrationFinished      = "finished"
	MigrationConfirming    = "confirming"
	MigrationConfirmed     = "confirmed"
	MigrationReverting     = "reverting"
	MigrationReverted      = "reverted"
	MigrationError         = "error"
)

// MigrationResize is the migration_type of a resize.
const MigrationResize = "resize"

// MigrationFlavor is the flavor an instance had or moves to, as a
// migration keeps it.
type MigrationFlavor struct {
	// ID is the flavor's internal id (old/new_instance_type_id), 0 if the
	// flavor is gone.
	ID          int64  `json:"id"`
	FlavorID    string `json:"flavorid"`
	Name        string `json:"name"`
	VCPUs       int    `json:"vcpus"`
	MemoryMB    int    `json:"memory_mb"`
	RootGB      int    `json:"root_gb"`
	EphemeralGB int    `json:"ephemeral_gb"`
	Swap        int    `json:"swap"`
	ExtraSpecs  Specs  `json:"extra_specs"`
}

// FlavorOf is the flavor an instance row carries.
func FlavorOf(in Instance) MigrationFlavor {
	return MigrationFlavor{FlavorID: in.FlavorID, Name: in.FlavorName, VCPUs: in.VCPUs, MemoryMB: in.MemoryMB,
		RootGB: in.RootGB, EphemeralGB: in.EphemeralGB, Swap: in.Swap, ExtraSpecs: in.FlavorExtraSpecs}
}

// MigrationFlavorOf copies a flavor row.
func MigrationFlavorOf(f Flavor) MigrationFlavor {
	return MigrationFlavor{ID: f.ID, FlavorID: f.FlavorID, Name: f.Name, VCPUs: f.VCPUs, MemoryMB: f.MemoryMB,
		RootGB: f.RootGB, EphemeralGB: f.EphemeralGB, Swap: f.Swap, ExtraSpecs: f.ExtraSpecs}
}

// Apply returns in with this flavor.
func (f MigrationFlavor) Apply(in Instance) Instance {
	in.FlavorID, in.FlavorName, in.VCPUs, in.MemoryMB = f.FlavorID, f.Name, f.VCPUs, f.MemoryMB
	in.RootGB, in.EphemeralGB, in.Swap, in.FlavorExtraSpecs = f.RootGB, f.EphemeralGB, f.Swap, f.ExtraSpecs
	if in.FlavorExtraSpecs == nil {
		in.FlavorExtraSpecs = Specs{}
	}
	return in
}

// columns are the instance columns that copy the flavor.
func (f MigrationFlavor) columns() map[string]any {
	specs := f.ExtraSpecs
	if specs == nil {
		specs = Specs{}
	}
	return map[string]any{"flavor_id": f.FlavorID, "flavor_name": f.Name, "vcpus": f.VCPUs, "memory_mb": f.MemoryMB,
		"root_gb": f.RootGB, "ephemeral_gb": f.EphemeralGB, "swap": f.Swap, "flavor_extra_specs": specs}
}

// Scan implements sql.Scanner.
func (f *MigrationFlavor) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		return json.Unmarshal(v, f)
	case string:
		return json.Unmarshal([]byte(v), f)
	}
	return fmt.Errorf("scan migration flavor: unexpected %T", src)
}

// Value implements driver.Valuer.
func (f MigrationFlavor) Value() (driver.Value, error) {
	raw, err := json.Marshal(f)
	return string(raw), err
}

// Migration is a row of the migrations table.
type Migration struct {
	ID                int64  `gorm:"primaryKey"`
	UUID              string `gorm:"column:uuid"`
	InstanceUUID      string
	MigrationType     string
	Status            string
	SourceCompute     string
	DestCompute       string
	SourceNode        string
	DestNode          string
	DestHost          string
	OldInstanceTypeID *int64
	NewInstanceTypeID *int64
	OldFlavor         MigrationFlavor `gorm:"type:jsonb"`
	NewFlavor         MigrationFlavor `gorm:"type:jsonb"`
	OldVMState        string          `gorm:"column:old_vm_state"`
	ProjectID         string
	UserID            string
	CreatedAt         time.Time
	UpdatedAt         *time.Time
}

// TableName implements gorm's tabler.
func (Migration) TableName() string { return "migrations" }

// Done reports whether the migration reached a final status.
func (m Migration) Done() bool {
	return m.Status == MigrationConfirmed || m.Status == MigrationReverted || m.Status == MigrationError
}

// resizeQuota is what a resize charges beyond the old flavor: while it is
// unconfirmed the project pays for the larger of both flavors, so neither
// confirming nor reverting can ever exceed a quota.
func resizeQuota(from, to MigrationFlavor) map[string]int64 {
	return map[string]int64{QuotaCores: int64(max(0, to.VCPUs-from.VCPUs)), QuotaRAM: int64(max(0, to.MemoryMB-from.MemoryMB))}
}

func negate(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, n := range m {
		out[k] = -n
	}
	return out
}

// ErrState means the instance's vm_state or task_state does not allow what
// was asked; the instance returned with it is the current row.
var ErrState = errors.New("instance state does not allow it")

// BeginTask starts a task on an instance: under the row lock it checks
// that the instance is in one of vmStates with no task running, applies
// cols (the task_state and whatever the request changes) and records the
// action. An instance in another state is ErrState, returned with the
// current row.
func (s *Store) BeginTask(ctx context.Context, uuid string, vmStates []string, cols map[string]any, act *InstanceAction) (Instance, error) {
	var in Instance
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if in, err = tx.LockInstance(ctx, uuid); err != nil {
			return err
		}
		if !slices.Contains(vmStates, in.VMState) || in.TaskState != nil || in.Host == nil {
			return ErrState
		}
		if err := tx.UpdateInstance(ctx, uuid, cols); err != nil {
			return err
		}
		if act != nil {
			return tx.AddInstanceAction(ctx, act)
		}
		return nil
	})
	return in, err
}

// StartResize records a resize: under the instance's lock it checks the
// instance is active or stopped with no task, charges the growth to the
// project's quota (an *quota.OverQuotaError if it does not fit), creates
// the migration, copies the new flavor onto the instance with task_state
// resize_prep and records the action, all in one transaction.
func (s *Store) StartResize(ctx context.Context, q *quota.Engine, m *Migration, act *InstanceAction) (Instance, error) {
	var in Instance
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if in, err = tx.LockInstance(ctx, m.InstanceUUID); err != nil {
			return err
		}
		if (in.VMState != VMActive && in.VMState != VMStopped) || in.TaskState != nil || in.Host == nil {
			return ErrState
		}
		// The old flavor is what the instance carries; the caller only
		// knows its internal id.
		id := m.OldFlavor.ID
		m.OldFlavor, m.OldVMState = FlavorOf(in), in.VMState
		m.OldFlavor.ID = id
		if err := tx.ConsumeQuota(ctx, q, in.ProjectID, resizeQuota(m.OldFlavor, m.NewFlavor)); err != nil {
			return err
		}
		m.MigrationType, m.Status = MigrationResize, MigrationPreMigrating
		m.SourceCompute, m.DestCompute, m.SourceNode, m.DestNode, m.DestHost = *in.Host, *in.Host, *in.Host, *in.Host, *in.Host
		if m.OldFlavor.ID != 0 {
			m.OldInstanceTypeID = &m.OldFlavor.ID
		}
		if m.NewFlavor.ID != 0 {
			m.NewInstanceTypeID = &m.NewFlavor.ID
		}
		m.CreatedAt = now()
		t := m.CreatedAt
		m.UpdatedAt = &t
		if err := db.Wrap(tx.q(ctx).Create(m).Error, "migration "+m.UUID); err != nil {
			return err
		}
		cols := m.NewFlavor.columns()
		cols["task_state"] = TaskResizePrep
		if err := tx.UpdateInstance(ctx, in.UUID, cols); err != nil {
			return err
		}
		return tx.AddInstanceAction(ctx, act)
	})
	return in, err
}

// GetMigration returns the migration with that UUID.
func (s *Store) GetMigration(ctx context.Context, uuid string) (Migration, error) {
	var m Migration
	if !uuidRE.MatchString(uuid) {
		return m, fmt.Errorf("migration %s: %w", uuid, ErrNotFound)
	}
	err := s.q(ctx).Where("uuid = ?", uuid).Take(&m).Error
	return m, db.Wrap(err, "migration "+uuid)
}

// OpenMigration returns the instance's newest migration that has not
// reached a final status.
func (s *Store) OpenMigration(ctx context.Context, instanceUUID string) (Migration, error) {
	var m Migration
	err := s.q(ctx).Where("instance_uuid = ? AND status NOT IN ?", instanceUUID,
		[]string{MigrationConfirmed, MigrationReverted, MigrationError}).
		Order("created_at DESC, id DESC").Take(&m).Error
	return m, db.Wrap(err, "open migration of "+instanceUUID)
}

// SetMigrationStatus moves a migration to status.
func (s *Store) SetMigrationStatus(ctx context.Context, uuid, status string) error {
	res := s.q(ctx).Model(&Migration{}).Where("uuid = ?", uuid).Updates(map[string]any{"status": status, "updated_at": now()})
	return db.Affected(res, "migration "+uuid)
}

// ResizeStep moves a migration from one of the statuses in from to status
// and applies the instance columns, under the instance's lock, so that
// the API's confirm or revert and the agent's progress never overwrite each
// other. A migration in another status is ErrState.
func (s *Store) ResizeStep(ctx context.Context, m Migration, from []string, status string, cols map[string]any, act *InstanceAction) error {
	return s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.LockInstance(ctx, m.InstanceUUID); err != nil {
			return err
		}
		cur, err := tx.lockMigration(ctx, m.UUID)
		if err != nil {
			return err
		}
		if !slices.Contains(from, cur.Status) {
			return ErrState
		}
		if err := tx.SetMigrationStatus(ctx, m.UUID, status); err != nil {
			return err
		}
		if len(cols) > 0 {
			if err := tx.UpdateInstance(ctx, m.InstanceUUID, cols); err != nil {
				return err
			}
		}
		if act != nil {
			return tx.AddInstanceAction(ctx, act)
		}
		return nil
	})
}

func (s *Store) lockMigration(ctx context.Context, uuid string) (Migration, error) {
	var m Migration
	err := s.q(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("uuid = ?", uuid).Take(&m).Error
	return m, db.Wrap(err, "migration "+uuid)
}

// EndResize settles a resize in one transaction: status is
// MigrationConfirmed (the instance keeps the new flavor and the quota
// charged for the old one beyond it is released) or MigrationReverted /
// MigrationError (the old flavor is copied back and the growth released).
// cols are further instance columns (vm_state, task_state...). A migration
// already settled is left alone, so EndResize is idempotent.
func (s *Store) EndResize(ctx context.Context, q *quota.Engine, m Migration, status string, cols map[string]any) error {
	return s.Tx(ctx, func(tx *Store) error {
		in, err := tx.LockInstance(ctx, m.InstanceUUID)
		if err != nil {
			return err
		}
		cur, err := tx.lockMigration(ctx, m.UUID)
		if err != nil || cur.Done() {
			return err
		}
		all := map[string]any{}
		release := resizeQuota(cur.NewFlavor, cur.OldFlavor)
		if status != MigrationConfirmed {
			release = resizeQuota(cur.OldFlavor, cur.NewFlavor)
			all = cur.OldFlavor.columns()
		}
		if err := tx.ConsumeQuota(ctx, q, in.ProjectID, negate(release)); err != nil {
			return err
		}
		if err := tx.SetMigrationStatus(ctx, m.UUID, status); err != nil {
			return err
		}
		for k, v := range cols {
			all[k] = v
		}
		if len(all) == 0 {
			return nil
		}
		return tx.UpdateInstance(ctx, m.InstanceUUID, all)
	})
}

// MigrationFilter selects migrations for a listing; zero fields do not
// filter.
type MigrationFilter struct {
	InstanceUUID  string
	Project       string
	Host          string
	Status        string
	MigrationType string
	// Open keeps migrations that have not reached a final status.
	Open bool
}

// ListMigrations returns the migrations matching f, newest first.
func (s *Store) ListMigrations(ctx context.Context, f MigrationFilter) ([]Migration, error) {
	q := s.q(ctx).Model(&Migration{})
	if f.InstanceUUID != "" {
		q = q.Where("instance_uuid = ?", f.InstanceUUID)
	}
	if f.Project != "" {
		q = q.Where("project_id = ?", f.Project)
	}
	if f.Host != "" {
		q = q.Where("source_compute = ? OR dest_compute = ?", f.Host, f.Host)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.MigrationType != "" {
		q = q.Where("migration_type = ?", f.MigrationType)
	}
	if f.Open {
		q = q.Where("status NOT IN ?", []string{MigrationConfirmed, MigrationReverted, MigrationError})
	}
	var out []Migration
	err := q.Order("created_at DESC, id DESC").Find(&out).Error
	return out, db.Wrap(err, "list migrations")
}

// MarkActionError records that the newest action of that name on the
// instance failed: its message becomes "Error", as Nova marks an action
// one of whose events failed.
func (s *Store) MarkActionError(ctx context.Context, instanceUUID, action string) error {
	err := s.q(ctx).Exec(`UPDATE instance_actions SET message = 'Error', finish_time = ?
		WHERE id = (SELECT id FROM instance_actions WHERE instance_uuid = ? AND action = ?
		ORDER BY start_time DESC, id DESC LIMIT 1)`, now(), instanceUUID, action).Error
	return db.Wrap(err, "instance action "+action)
}
