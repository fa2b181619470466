package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
)

// rebuild handles a rebuild the API recorded (task_state rebuilding, the
// new image, name, keys and user data already on the instance): the
// domain is torn down, the root disk recreated from the new image and the
// config drive rewritten, and the domain defined and booted again under
// the same UUID. A server that was stopped stays stopped, as in Nova; a
// failure leaves it in ERROR with a fault.
func (a *Agent) rebuild(ctx context.Context, in store.Instance) error {
	if in.TaskState == nil || *in.TaskState != store.TaskRebuilding {
		return nil
	}
	start := time.Now()
	id := in.UUID
	stopped := in.VMState == store.VMStopped
	err := func() error {
		if err := a.d.Store.UpdateInstance(ctx, id, map[string]any{"task_state": store.TaskRebuildSpawning}); err != nil {
			return err
		}
		if err := a.d.Driver.Undefine(ctx, id); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
			return err
		}
		dir := a.instanceDir(id)
		if err := a.createDisk(ctx, in, filepath.Join(dir, "disk")); err != nil {
			return err
		}
		if wantsConfigDrive(in) {
			if err := a.writeConfigDrive(ctx, in, filepath.Join(dir, "disk.config")); err != nil {
				return err
			}
		}
		if err := a.define(ctx, in); err != nil {
			return err
		}
		if stopped {
			return nil
		}
		return a.d.Driver.Start(ctx, id)
	}()
	if err != nil {
		a.log.Warn("rebuild failed", "server_id", id, "error", err)
		if uerr := a.d.Store.UpdateInstance(ctx, id, map[string]any{
			"vm_state": store.VMError, "task_state": nil, "power_state": a.powerState(ctx, id),
			"fault": fault(fmt.Errorf("Rebuild of instance %s failed: %w", id, err)),
		}); uerr != nil {
			return uerr
		}
		a.actionFailed(ctx, id, "rebuild")
		a.event(ctx, id, "rebuild.error")
		return nil
	}
	vm := store.VMActive
	if stopped {
		vm = store.VMStopped
	}
	if err := a.d.Store.UpdateInstance(ctx, id, map[string]any{
		"vm_state": vm, "task_state": nil, "power_state": a.powerState(ctx, id), "launched_at": time.Now().UTC(),
	}); err != nil {
		return err
	}
	a.log.Info("rebuilt", "server_id", id, "image_id", in.ImageRef, "duration", time.Since(start).Round(time.Millisecond))
	a.event(ctx, id, "rebuild")
	return nil
}
