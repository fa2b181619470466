package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
)

// task handles work.Task: the long server tasks (resize and its confirm or
// revert, rebuild, snapshot). Each checks the state the API left the
// instance (or migration) in, so a redelivered message does nothing twice.
func (a *Agent) task(ctx context.Context, msg work.Task) error {
	defer a.lock(msg.InstanceUUID)()
	in, ok, err := a.mine(ctx, msg.InstanceUUID)
	if err != nil || !ok {
		return err
	}
	if in.TaskState != nil && *in.TaskState == store.TaskDeleting {
		return nil
	}
	switch msg.Task {
	case work.TaskResize, work.TaskConfirmResize, work.TaskRevertResize:
		m, err := a.d.Store.GetMigration(ctx, msg.MigrationUUID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		switch msg.Task {
		case work.TaskResize:
			return a.resize(ctx, in, m)
		case work.TaskConfirmResize:
			return a.confirmResize(ctx, in, m)
		default:
			return a.revertResize(ctx, in, m)
		}
	case work.TaskRebuild:
		return a.rebuild(ctx, in)
	case work.TaskSnapshot:
		return a.snapshot(ctx, in, msg)
	}
	a.log.Warn("unknown task", "server_id", in.UUID, "task", msg.Task)
	return nil
}

// powerOff stops a domain: a clean shutdown first, then power off if the
// guest ignores it. A domain already off is fine.
func (a *Agent) powerOff(ctx context.Context, id string) error {
	st, err := a.d.Driver.State(ctx, id)
	if err != nil {
		return err
	}
	if st != hypervisor.Running {
		return a.d.Driver.Destroy(ctx, id)
	}
	err = a.d.Driver.Shutdown(ctx, id, stopTimeout)
	if errors.Is(err, hypervisor.ErrTimeout) {
		err = a.d.Driver.Destroy(ctx, id)
	}
	return err
}

// powerState is the domain's state for the power_state column.
func (a *Agent) powerState(ctx context.Context, id string) int {
	st, err := a.d.Driver.State(ctx, id)
	if err != nil {
		return int(hypervisor.NoState)
	}
	return int(st)
}

// fault is an instance fault recorded now.
func fault(err error) store.Fault {
	return store.Fault{Code: 500, Message: err.Error(), Created: time.Now().UTC()}
}

// actionFailed marks the instance action as failed; best effort, the
// instance's state already says what happened.
func (a *Agent) actionFailed(ctx context.Context, id, action string) {
	if err := a.d.Store.MarkActionError(ctx, id, action); err != nil {
		a.log.Warn("record action error", "server_id", id, "action", action, "error", err)
	}
}

// copyFile copies src to dst through a temporary file, so dst is either
// the old file or a complete copy.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
