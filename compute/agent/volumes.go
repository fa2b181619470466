package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/compute/cinder"
	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// Nova's names of the volume events recorded under instance actions.
const (
	eventAttachVolume = "compute_attach_volume"
	eventDetachVolume = "compute_detach_volume"
)

// volumeSettleAge is how long an attach or detach may stay in flight
// before the periodic reconcile settles it: its message may still be
// queued until then.
const volumeSettleAge = 2 * time.Minute

// connector is this host's connector, as os-brick describes a host to
// Cinder.
func (a *Agent) connector() rpc.Connector {
	return rpc.Connector{Host: a.cfg.Host, Platform: goArch(), OSType: "linux"}
}

// volumeScope is on whose behalf the agent calls the volume service: the
// server's project; the agent is trusted with any attachment of its
// servers, as Nova's compute manager is with the request context.
func volumeScope(in store.Instance) rpc.Scope {
	return rpc.Scope{ProjectID: in.ProjectID, UserID: in.UserID, AllProjects: true}
}

// target is the guest device name of a device path (/dev/vdb → vdb).
func target(device string) string { return strings.TrimPrefix(device, "/dev/") }

// volume handles work.Volume: it plugs or unplugs the volume of one
// block device mapping. A message for a mapping that is gone or already
// settled does nothing, so redeliveries are harmless.
func (a *Agent) volume(ctx context.Context, msg work.Volume) error {
	defer a.lock(msg.InstanceUUID)()
	in, ok, err := a.mine(ctx, msg.InstanceUUID)
	if err != nil || !ok {
		return err
	}
	b, err := a.d.Store.GetBDM(ctx, msg.BDMUUID)
	if errors.Is(err, store.ErrNotFound) || err == nil && b.InstanceUUID != in.UUID {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case b.Status == store.BDMAttaching && !msg.Detach:
		return a.attachVolume(ctx, in, b)
	case b.Status == store.BDMDetaching && msg.Detach:
		return a.detachVolume(ctx, in, b)
	}
	return nil
}

// volumeServiceDown tells whether err means the volume service did not
// answer (not started yet, restarting): the work is retried later rather
// than undone.
func volumeServiceDown(err error) bool {
	return bus.HasCode(err, bus.CodeUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// attachVolume plugs a reserved volume into the instance; a failure
// undoes it (unplugged, attachment deleted, mapping removed) and records
// the failed event.
func (a *Agent) attachVolume(ctx context.Context, in store.Instance, b store.BDM) error {
	ev := a.startEvent(ctx, in.UUID, eventAttachVolume)
	err := a.plugVolume(ctx, in, &b)
	if err == nil {
		err = a.completeAttach(ctx, in, b)
	}
	a.finishEvent(ctx, ev, err)
	if volumeServiceDown(err) {
		// Every step is idempotent: the redelivered message finishes it.
		a.log.Warn("attach volume: the volume service does not answer; retrying later", "server_id", in.UUID, "volume_id", b.Volume(), "error", err)
		return err
	}
	if err != nil {
		a.log.Warn("attach volume failed", "server_id", in.UUID, "volume_id", b.Volume(), "error", err)
		a.undoAttach(context.WithoutCancel(ctx), in, b)
		return nil
	}
	a.log.Info("volume attached", "server_id", in.UUID, "volume_id", b.Volume(), "device", b.DeviceName)
	a.event(ctx, in.UUID, "volume_attach")
	return nil
}

// plugVolume hands this host's connector to the volume service, keeps the
// connection info on the mapping and hot-plugs the disk (live and
// persistent when the domain runs, persistent only when it is shut off).
func (a *Agent) plugVolume(ctx context.Context, in store.Instance, b *store.BDM) error {
	if b.Attachment() == "" {
		return fmt.Errorf("volume %s has no attachment", b.Volume())
	}
	att, err := a.volumes().AttachmentUpdate(ctx, volumeScope(in), b.Attachment(), a.connector(), b.DeviceName)
	if err != nil {
		return fmt.Errorf("connect volume %s: %w", b.Volume(), err)
	}
	if att.ConnectionInfo == nil {
		return fmt.Errorf("volume %s: no connection info", b.Volume())
	}
	ci := store.ConnectionInfo(*att.ConnectionInfo)
	if err := a.d.Store.UpdateBDM(ctx, b.UUID, map[string]any{"connection_info": ci}); err != nil {
		return err
	}
	b.ConnectionInfo = &ci
	disk, err := hypervisor.VolumeDisk(*att.ConnectionInfo, target(b.DeviceName))
	if err != nil {
		return err
	}
	return a.d.Driver.AttachDisk(ctx, in.UUID, disk)
}

// completeAttach marks the volume in-use and the mapping attached.
func (a *Agent) completeAttach(ctx context.Context, in store.Instance, b store.BDM) error {
	if err := a.volumes().AttachmentComplete(ctx, volumeScope(in), b.Attachment()); err != nil {
		return fmt.Errorf("complete attachment of volume %s: %w", b.Volume(), err)
	}
	return a.d.Store.UpdateBDM(ctx, b.UUID, map[string]any{"status": store.BDMAttached})
}

// undoAttach unplugs what an attach may have plugged, deletes its
// attachment (the volume is available again) and removes the mapping.
func (a *Agent) undoAttach(ctx context.Context, in store.Instance, b store.BDM) {
	log := a.log.With("server_id", in.UUID, "volume_id", b.Volume())
	if err := a.unplug(ctx, in, b); err != nil && !isNotFound(err) {
		log.Warn("undo attach: unplug", "error", err)
	}
	if id := b.Attachment(); id != "" {
		if err := a.volumes().AttachmentDelete(ctx, volumeScope(in), id); err != nil && !cinder.NotFound(err) {
			log.Warn("undo attach: delete attachment", "error", err)
			return // the reconcile tries again
		}
	}
	if err := a.d.Store.DeleteBDM(ctx, b.UUID); err != nil {
		log.Warn("undo attach: delete mapping", "error", err)
	}
	a.event(ctx, in.UUID, "volume_attach_error")
}

// unplug removes the volume's disk from the domain, found by its serial
// (the volume ID) whatever its target; a disk that is not there is fine.
func (a *Agent) unplug(ctx context.Context, in store.Instance, b store.BDM) error {
	disks, err := a.d.Driver.Disks(ctx, in.UUID)
	if err != nil {
		return err
	}
	d, ok := hypervisor.DiskBySerial(disks, b.Volume())
	if !ok {
		return nil
	}
	spec := hypervisor.DiskSpec{Path: "/dev/null", Format: hypervisor.FormatRaw, Bus: hypervisor.BusVirtio,
		Device: hypervisor.DeviceDisk, Target: d.Target, Serial: b.Volume()}
	if b.ConnectionInfo != nil {
		if s, err := hypervisor.VolumeDisk(rpc.ConnectionInfo(*b.ConnectionInfo), d.Target); err == nil {
			spec = s
		}
	}
	return a.d.Driver.DetachDisk(ctx, in.UUID, spec)
}

// detachVolume unplugs a volume whose detach the API began and deletes
// its attachment; when the guest does not let the disk go, the volume is
// rolled back to in-use and the mapping to attached.
func (a *Agent) detachVolume(ctx context.Context, in store.Instance, b store.BDM) error {
	log := a.log.With("server_id", in.UUID, "volume_id", b.Volume())
	ev := a.startEvent(ctx, in.UUID, eventDetachVolume)
	err := a.unplug(ctx, in, b)
	if isNotFound(err) {
		err = nil // no domain: nothing is plugged
	}
	if err != nil {
		a.finishEvent(ctx, ev, err)
		log.Warn("detach volume failed; rolling back", "error", err)
		a.rollDetach(context.WithoutCancel(ctx), in, b)
		return nil
	}
	err = a.finishDetach(ctx, in, b)
	a.finishEvent(ctx, ev, err)
	if err != nil {
		// Unplugged: the redelivered message (or the reconcile) deletes
		// the attachment once the volume service answers.
		log.Warn("detach volume", "error", err)
		return err
	}
	log.Info("volume detached")
	a.event(ctx, in.UUID, "volume_detach")
	return nil
}

// rollDetach puts a volume whose unplug failed back in use: the disk
// back in the persistent definition if the guest still has it, the
// volume in-use, the mapping attached.
func (a *Agent) rollDetach(ctx context.Context, in store.Instance, b store.BDM) {
	log := a.log.With("server_id", in.UUID, "volume_id", b.Volume())
	if disks, err := a.d.Driver.Disks(ctx, in.UUID); err == nil && b.ConnectionInfo != nil {
		if d, ok := hypervisor.DiskBySerial(disks, b.Volume()); ok && d.Live && !d.Config {
			if spec, err := hypervisor.VolumeDisk(rpc.ConnectionInfo(*b.ConnectionInfo), d.Target); err == nil {
				if err := a.d.Driver.AttachDisk(ctx, in.UUID, spec); err != nil {
					log.Warn("roll back detach: restore the persistent disk", "error", err)
				}
			}
		}
	}
	if err := a.volumes().RollDetaching(ctx, volumeScope(in), b.Volume()); err != nil {
		log.Warn("roll back detach: roll_detaching", "error", err)
	}
	if err := a.d.Store.UpdateBDM(ctx, b.UUID, map[string]any{"status": store.BDMAttached}); err != nil {
		log.Warn("roll back detach: mapping", "error", err)
	}
	a.event(ctx, in.UUID, "volume_detach_error")
}

// finishDetach deletes an unplugged volume's attachment and its mapping.
func (a *Agent) finishDetach(ctx context.Context, in store.Instance, b store.BDM) error {
	if id := b.Attachment(); id != "" {
		if err := a.volumes().AttachmentDelete(ctx, volumeScope(in), id); err != nil && !cinder.NotFound(err) {
			return fmt.Errorf("delete attachment of volume %s: %w", b.Volume(), err)
		}
	}
	return a.d.Store.DeleteBDM(ctx, b.UUID)
}

// reconcileVolumes settles the attaches and detaches of an instance that
// are in flight, after a crash (startup) or a lost message (periodic, for
// those older than volumeSettleAge), from what the domain really has: a
// plugged volume's attach is completed and its detach done again; an
// unplugged volume's attach is undone and its detach finished. So a
// volume never stays attaching or detaching.
func (a *Agent) reconcileVolumes(ctx context.Context, in store.Instance, startup bool) {
	bdms, err := a.d.Store.ListBDMs(ctx, in.UUID)
	if err != nil {
		a.log.Warn("reconcile: block device mappings", "server_id", in.UUID, "error", err)
		return
	}
	var disks []hypervisor.AttachedDisk
	listed := false
	for _, b := range bdms {
		// At startup only what the crash interrupted: attaches asked
		// since are in the hands of their messages.
		fresh := startup && b.UpdatedAt.After(a.started) || !startup && time.Since(b.UpdatedAt) < volumeSettleAge
		if b.Status == store.BDMAttached || b.Volume() == "" || fresh {
			continue
		}
		if !listed {
			if disks, err = a.d.Driver.Disks(ctx, in.UUID); err != nil && !isNotFound(err) {
				a.log.Warn("reconcile: domain disks", "server_id", in.UUID, "error", err)
				return
			}
			listed = true
		}
		d, plugged := hypervisor.DiskBySerial(disks, b.Volume())
		log := a.log.With("server_id", in.UUID, "volume_id", b.Volume(), "status", b.Status, "plugged", plugged)
		switch {
		case b.Status == store.BDMAttaching && plugged:
			log.Warn("reconcile: completing an interrupted attach", "disk", d.String())
			if err := a.completeAttach(ctx, in, b); volumeServiceDown(err) {
				log.Warn("reconcile: the volume service does not answer", "error", err)
			} else if err != nil {
				log.Warn("reconcile: complete attach failed; undoing it", "error", err)
				a.undoAttach(ctx, in, b)
			}
		case b.Status == store.BDMAttaching:
			log.Warn("reconcile: undoing an interrupted attach")
			a.undoAttach(ctx, in, b)
		case b.Status == store.BDMDetaching:
			log.Warn("reconcile: finishing an interrupted detach")
			_ = a.detachVolume(ctx, in, b)
		}
	}
}

// volumes is the volume service's client on the agent's bus.
func (a *Agent) volumes() cinder.Client { return cinder.Client{Bus: a.d.Bus} }

// isVolumeGone tells whether the volume service no longer knows the
// volume or attachment.
func isVolumeGone(err error) bool { return cinder.NotFound(err) }

// settleVolumes runs the startup settlement of in-flight attaches and
// detaches again once the volume service answers: in all-in-one it starts
// after the agent, so the pass before the consumers open may not reach it.
func (a *Agent) settleVolumes(ctx context.Context) {
	defer a.wg.Done()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); {
		_, err := a.volumes().Get(ctx, rpc.Scope{AllProjects: true}, "00000000-0000-0000-0000-000000000000")
		if err == nil || cinder.NotFound(err) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	ins, err := a.d.Store.ListInstances(ctx, store.InstanceFilter{AllProjects: true, Host: a.cfg.Host})
	if err != nil {
		a.log.Warn("settle volumes: list instances", "error", err)
		return
	}
	for _, in := range ins {
		func() {
			defer a.lock(in.UUID)()
			in, ok, err := a.mine(ctx, in.UUID)
			if err != nil || !ok || in.VMState == store.VMBuilding || in.TaskState != nil && *in.TaskState == store.TaskDeleting {
				return
			}
			a.reconcileVolumes(ctx, in, true)
		}()
	}
}
