package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/glance"
)

// snapshot handles createImage: the API created the image (queued) and
// set task_state image_snapshot_pending. The agent takes a cold snapshot
// as Nova's libvirt driver does without live snapshots: a running or
// paused guest is saved to disk (managed save) so that its disk is
// consistent, the overlay and its backing image are flattened into one
// qcow2 file, the guest is restored, and the file is uploaded through the
// image API with the caller's token. A failure deletes the image and
// records the failed action; the server stays as it was.
func (a *Agent) snapshot(ctx context.Context, in store.Instance, msg work.Task) error {
	if in.TaskState == nil || *in.TaskState != store.TaskImageSnapshotPending {
		return nil
	}
	start := time.Now()
	gl := glance.New(msg.ImageURL)
	err := a.takeSnapshot(ctx, in, msg, gl)
	cols := map[string]any{"task_state": nil, "power_state": a.powerState(ctx, in.UUID)}
	if err != nil {
		a.log.Warn("snapshot failed", "server_id", in.UUID, "image_id", msg.ImageID, "error", err)
		if derr := gl.Delete(context.WithoutCancel(ctx), msg.Token, msg.ImageID); derr != nil {
			a.log.Warn("delete image of failed snapshot", "image_id", msg.ImageID, "error", derr)
		}
	}
	if uerr := a.d.Store.UpdateInstance(ctx, in.UUID, cols); uerr != nil {
		return uerr
	}
	if err != nil {
		a.actionFailed(ctx, in.UUID, "createImage")
		a.event(ctx, in.UUID, "snapshot.error")
		return nil
	}
	a.log.Info("snapshot uploaded", "server_id", in.UUID, "image_id", msg.ImageID, "duration", time.Since(start).Round(time.Millisecond))
	a.event(ctx, in.UUID, "snapshot")
	return nil
}

func (a *Agent) takeSnapshot(ctx context.Context, in store.Instance, msg work.Task, gl *glance.Client) error {
	id := in.UUID
	task := func(t string) error { return a.d.Store.UpdateInstance(ctx, id, map[string]any{"task_state": t}) }
	if err := task(store.TaskImageSnapshot); err != nil {
		return err
	}
	st, err := a.d.Driver.State(ctx, id)
	if err != nil {
		return err
	}
	saved := false
	if st == hypervisor.Running || st == hypervisor.Paused {
		if err := a.d.Driver.Suspend(ctx, id); err != nil {
			return fmt.Errorf("save the guest: %w", err)
		}
		saved = true
	}
	// Restoring brings the guest back running or paused, as it was saved.
	restore := func() error {
		if !saved {
			return nil
		}
		saved = false
		return a.d.Driver.Resume(ctx, id)
	}
	defer func() {
		if err := restore(); err != nil {
			a.log.Error("restore guest after snapshot", "server_id", id, "error", err)
		}
	}()
	if err := task(store.TaskImagePendingUpload); err != nil {
		return err
	}
	dir := a.instanceDir(id)
	file := filepath.Join(dir, "snapshot-"+msg.ImageID)
	defer os.Remove(file)
	out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-q", "-O", "qcow2", filepath.Join(dir, "disk"), file).CombinedOutput()
	if err != nil {
		return fmt.Errorf("flatten disk: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := restore(); err != nil {
		return fmt.Errorf("restore the guest: %w", err)
	}
	if err := task(store.TaskImageUploading); err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := gl.SetFormats(ctx, msg.Token, msg.ImageID, "qcow2", "bare"); err != nil {
		return err
	}
	return gl.Upload(ctx, msg.Token, msg.ImageID, f)
}
