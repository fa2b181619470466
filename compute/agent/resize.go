package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
)

// A resize on one host (Nova's allow_resize_to_same_host): the guest is
// powered off, its root disk (a small qcow2 overlay) is kept aside for a
// revert and grown to the new flavor, and the domain is redefined with the
// new vCPUs and memory and started again if it ran. The API has already
// copied the new flavor onto the instance, charged the quota and moved the
// old allocation to the migration in placement.

// resizeBackup is the instance's disk as it was before the resize.
func (a *Agent) resizeBackup(id string) string {
	return filepath.Join(a.instanceDir(id), "disk.resize-backup")
}

func (a *Agent) resize(ctx context.Context, in store.Instance, m store.Migration) error {
	switch m.Status {
	case store.MigrationPreMigrating, store.MigrationMigrating, store.MigrationPostMigrating:
	default:
		return nil // done already: a redelivered message
	}
	start := time.Now()
	if touched, err := a.doResize(ctx, in, m); err != nil {
		a.log.Warn("resize failed", "server_id", in.UUID, "error", err)
		return a.failResize(ctx, in, m, touched, err)
	}
	a.log.Info("resized", "server_id", in.UUID, "flavor", m.NewFlavor.Name, "duration", time.Since(start).Round(time.Millisecond))
	a.event(ctx, in.UUID, "resize")
	return nil
}

// doResize runs the resize; touched says whether the guest was powered
// off or its disk changed before a failure.
func (a *Agent) doResize(ctx context.Context, in store.Instance, m store.Migration) (touched bool, err error) {
	// As Nova's libvirt driver, refuse a smaller disk before touching the
	// guest.
	if m.NewFlavor.RootGB < m.OldFlavor.RootGB {
		return false, errors.New("Resize error: Unable to resize disk down.")
	}
	st := a.d.Store
	err = st.ResizeStep(ctx, m, []string{store.MigrationPreMigrating, store.MigrationMigrating, store.MigrationPostMigrating},
		store.MigrationMigrating, map[string]any{"task_state": store.TaskResizeMigrating}, nil)
	if err != nil {
		return false, err
	}
	if err := a.powerOff(ctx, in.UUID); err != nil {
		return true, fmt.Errorf("power off: %w", err)
	}
	disk, backup := filepath.Join(a.instanceDir(in.UUID), "disk"), a.resizeBackup(in.UUID)
	if _, err := os.Stat(backup); err == nil {
		// A resize that was interrupted starts again from the old disk.
		if err := copyFile(backup, disk); err != nil {
			return true, err
		}
	} else if err := copyFile(disk, backup); err != nil {
		return true, err
	}
	if m.NewFlavor.RootGB > m.OldFlavor.RootGB {
		out, err := exec.CommandContext(ctx, "qemu-img", "resize", "-q", disk, fmt.Sprintf("%dG", m.NewFlavor.RootGB)).CombinedOutput()
		if err != nil {
			return true, fmt.Errorf("grow disk: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	err = st.ResizeStep(ctx, m, []string{store.MigrationMigrating}, store.MigrationPostMigrating,
		map[string]any{"task_state": store.TaskResizeFinish}, nil)
	if err != nil {
		return true, err
	}
	if err := a.define(ctx, m.NewFlavor.Apply(in)); err != nil {
		return true, err
	}
	if m.OldVMState == store.VMActive {
		if err := a.d.Driver.Start(ctx, in.UUID); err != nil {
			return true, err
		}
	}
	return true, st.ResizeStep(ctx, m, []string{store.MigrationPostMigrating}, store.MigrationFinished, map[string]any{
		"vm_state": store.VMResized, "task_state": nil, "power_state": a.powerState(ctx, in.UUID),
	}, nil)
}

// failResize puts the instance back as it was before the resize (old disk,
// old flavor, old power state, old allocation), records the fault and the
// failed action, and ends the migration in error, as Nova's
// InstanceFaultRollback does. Only if the old domain cannot be restored
// does the instance go to ERROR.
func (a *Agent) failResize(ctx context.Context, in store.Instance, m store.Migration, touched bool, cause error) error {
	ctx = context.WithoutCancel(ctx)
	id := in.UUID
	restore := func() error {
		if err := a.d.Driver.Destroy(ctx, id); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
			return err
		}
		if _, err := os.Stat(a.resizeBackup(id)); err == nil {
			if err := os.Rename(a.resizeBackup(id), filepath.Join(a.instanceDir(id), "disk")); err != nil {
				return err
			}
		}
		if err := a.define(ctx, m.OldFlavor.Apply(in)); err != nil {
			return err
		}
		if m.OldVMState == store.VMActive {
			return a.d.Driver.Start(ctx, id)
		}
		return nil
	}
	vm := m.OldVMState
	if !touched {
		restore = func() error { return nil }
	}
	if err := restore(); err != nil {
		a.log.Error("restore instance after failed resize", "server_id", id, "error", err)
		vm = store.VMError
	}
	if err := a.d.Placement.RevertMove(ctx, id, m.UUID); err != nil {
		return err // redelivered: the restore above is idempotent
	}
	err := a.d.Store.EndResize(ctx, a.d.Quota, m, store.MigrationError, map[string]any{
		"vm_state": vm, "task_state": nil, "power_state": a.powerState(ctx, id), "fault": fault(cause),
	})
	if err != nil {
		return err
	}
	a.actionFailed(ctx, id, "resize")
	a.event(ctx, id, "resize.error")
	return nil
}

// confirmResize drops what the resize kept for a revert: the old disk and
// the old flavor's allocation, held by the migration.
func (a *Agent) confirmResize(ctx context.Context, in store.Instance, m store.Migration) error {
	if m.Status != store.MigrationConfirming {
		return nil
	}
	if err := os.Remove(a.resizeBackup(in.UUID)); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := a.d.Placement.ConfirmMove(ctx, m.UUID); err != nil {
		return err
	}
	ps := a.powerState(ctx, in.UUID)
	vm := store.VMActive
	if ps != int(hypervisor.Running) {
		vm = store.VMStopped
	}
	if err := a.d.Store.EndResize(ctx, a.d.Quota, m, store.MigrationConfirmed, map[string]any{
		"vm_state": vm, "task_state": nil, "power_state": ps,
	}); err != nil {
		return err
	}
	a.log.Info("resize confirmed", "server_id", in.UUID)
	a.event(ctx, in.UUID, "resize.confirm")
	return nil
}

// revertResize restores the old disk and flavor and the old allocation,
// and starts the guest if it ran before the resize. A revert that cannot
// restore the guest leaves it in ERROR.
func (a *Agent) revertResize(ctx context.Context, in store.Instance, m store.Migration) error {
	if m.Status != store.MigrationReverting {
		return nil
	}
	start := time.Now()
	id := in.UUID
	if err := a.d.Placement.RevertMove(ctx, id, m.UUID); err != nil {
		return err
	}
	err := func() error {
		if err := a.d.Driver.Destroy(ctx, id); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
			return err
		}
		if err := os.Rename(a.resizeBackup(id), filepath.Join(a.instanceDir(id), "disk")); err != nil {
			return fmt.Errorf("restore the disk from before the resize: %w", err)
		}
		if err := a.define(ctx, m.OldFlavor.Apply(in)); err != nil {
			return err
		}
		if m.OldVMState == store.VMActive {
			return a.d.Driver.Start(ctx, id)
		}
		return nil
	}()
	cols := map[string]any{"vm_state": m.OldVMState, "task_state": nil, "power_state": a.powerState(ctx, id)}
	status := store.MigrationReverted
	if err != nil {
		a.log.Warn("revert resize failed", "server_id", id, "error", err)
		cols["vm_state"], cols["fault"], status = store.VMError, fault(err), store.MigrationError
	}
	if err := a.d.Store.EndResize(ctx, a.d.Quota, m, status, cols); err != nil {
		return err
	}
	if err != nil {
		a.actionFailed(ctx, id, "revertResize")
	} else {
		a.log.Info("resize reverted", "server_id", id, "duration", time.Since(start).Round(time.Millisecond))
	}
	a.event(ctx, id, "resize.revert")
	return nil
}

// abandonResize settles a resize left unconfirmed when its instance is
// deleted, as Nova confirms it: the migration's allocation is dropped and
// the quota charged beyond the new flavor released, so that deleting the
// instance then releases exactly what remains.
func (a *Agent) abandonResize(ctx context.Context, id string) error {
	m, err := a.d.Store.OpenMigration(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := a.d.Placement.ConfirmMove(ctx, m.UUID); err != nil {
		return err
	}
	return a.d.Store.EndResize(ctx, a.d.Quota, m, store.MigrationConfirmed, nil)
}
