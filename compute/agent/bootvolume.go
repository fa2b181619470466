package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// volumeCreateTimeout bounds the wait for a boot volume the API asked
// for (a copy of an image under TCG load may take minutes).
const volumeCreateTimeout = 10 * time.Minute

// volumePoll is how often a volume being created is looked at.
const volumePoll = time.Second

// prepareVolumes readies the volumes a server was created with
// (block_device_mapping_v2): it waits for those the API asked the volume
// service to create, reserves those not reserved yet and connects each
// to this host, as Nova's compute manager does before spawning. undo
// deletes the attachments again, so a failed build leaves the volumes
// available (and the server's delete deletes those marked
// delete_on_termination).
func (a *Agent) prepareVolumes(ctx context.Context, undo *revert.Stack, in store.Instance) ([]store.BDM, error) {
	bdms, err := a.d.Store.ListBDMs(ctx, in.UUID)
	if err != nil {
		return nil, err
	}
	sc := volumeScope(in)
	for i := range bdms {
		b := &bdms[i]
		if b.DestinationType != store.DestinationVolume || b.Volume() == "" {
			continue
		}
		if b.Attachment() == "" {
			if err := a.waitVolume(ctx, sc, b.Volume()); err != nil {
				return nil, err
			}
			att, err := a.volumes().AttachmentCreate(ctx, sc, b.Volume(), in.UUID)
			if err != nil {
				return nil, fmt.Errorf("reserve volume %s: %w", b.Volume(), err)
			}
			if err := a.d.Store.UpdateBDM(ctx, b.UUID, map[string]any{"attachment_id": att.ID, "status": store.BDMAttaching}); err != nil {
				return nil, err
			}
			b.AttachmentID, b.Status = &att.ID, store.BDMAttaching
		}
		bdm := *b
		undo.Add(func(ctx context.Context) error {
			if err := a.volumes().AttachmentDelete(ctx, sc, bdm.Attachment()); err != nil {
				return err
			}
			return a.d.Store.UpdateBDM(ctx, bdm.UUID, map[string]any{"attachment_id": nil, "connection_info": nil,
				"status": store.BDMAttaching})
		})
		att, err := a.volumes().AttachmentUpdate(ctx, sc, b.Attachment(), a.connector(), b.DeviceName)
		if err != nil {
			return nil, fmt.Errorf("connect volume %s: %w", b.Volume(), err)
		}
		if att.ConnectionInfo == nil {
			return nil, fmt.Errorf("volume %s: no connection info", b.Volume())
		}
		ci := store.ConnectionInfo(*att.ConnectionInfo)
		if err := a.d.Store.UpdateBDM(ctx, b.UUID, map[string]any{"connection_info": ci}); err != nil {
			return nil, err
		}
		b.ConnectionInfo = &ci
	}
	return bdms, nil
}

// waitVolume waits until a volume is available.
func (a *Agent) waitVolume(ctx context.Context, sc rpc.Scope, id string) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, volumeCreateTimeout)
	defer cancel()
	tick := time.NewTicker(volumePoll)
	defer tick.Stop()
	attempts := 0
	for {
		attempts++
		v, err := a.volumes().Get(ctx, sc, id)
		if err != nil {
			return fmt.Errorf("volume %s: %w", id, err)
		}
		switch v.Status {
		case "available":
			return nil
		case "creating", "downloading":
		default:
			return fmt.Errorf("Volume %s did not finish being created even after we waited %d seconds or %d attempts. And its status is %s.",
				id, int(time.Since(start).Seconds()), attempts, v.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("Volume %s did not finish being created even after we waited %d seconds or %d attempts. And its status is %s.",
				id, int(time.Since(start).Seconds()), attempts, v.Status)
		case <-tick.C:
		}
	}
}

// completeVolumes marks the volumes of a built server in-use.
func (a *Agent) completeVolumes(ctx context.Context, in store.Instance, bdms []store.BDM) error {
	for _, b := range bdms {
		if b.Status != store.BDMAttaching || b.Attachment() == "" || b.ConnectionInfo == nil {
			continue
		}
		if err := a.completeAttach(ctx, in, b); err != nil {
			return err
		}
	}
	return nil
}

// rootVolume returns the mapping of a server's boot volume.
func rootVolume(bdms []store.BDM) (store.BDM, bool) {
	for _, b := range bdms {
		if b.IsRoot() && b.DestinationType == store.DestinationVolume {
			return b, true
		}
	}
	return store.BDM{}, false
}

// volumeDisks are the disks of a server's connected volumes; the boot
// volume boots first.
func volumeDisks(bdms []store.BDM) []hypervisor.DiskSpec {
	var out []hypervisor.DiskSpec
	for _, b := range bdms {
		if b.ConnectionInfo == nil || b.DestinationType != store.DestinationVolume {
			continue
		}
		d, err := hypervisor.VolumeDisk(rpc.ConnectionInfo(*b.ConnectionInfo), target(b.DeviceName))
		if err != nil {
			continue // Define reports the domain without it
		}
		if b.IsRoot() {
			d.BootIndex = 1
		}
		out = append(out, d)
	}
	return out
}

// define defines the instance's domain with its volumes.
func (a *Agent) define(ctx context.Context, in store.Instance) error {
	bdms, err := a.d.Store.ListBDMs(ctx, in.UUID)
	if err != nil {
		return err
	}
	return a.d.Driver.Define(ctx, a.domainSpec(in, bdms))
}

// rootDisk is the path of the instance's local root disk.
func (a *Agent) rootDisk(id string) string { return filepath.Join(a.instanceDir(id), "disk") }

// releaseVolumes detaches every volume of a deleted server (its domain
// is gone) and deletes those marked delete_on_termination, as Nova's
// _cleanup_volumes does; the mappings go with them.
func (a *Agent) releaseVolumes(ctx context.Context, in store.Instance) error {
	bdms, err := a.d.Store.ListBDMs(ctx, in.UUID)
	if err != nil {
		return err
	}
	sc := volumeScope(in)
	for _, b := range bdms {
		log := a.log.With("server_id", in.UUID, "volume_id", b.Volume())
		if id := b.Attachment(); id != "" {
			if err := a.volumes().AttachmentDelete(ctx, sc, id); err != nil && !isVolumeGone(err) {
				return fmt.Errorf("delete attachment of volume %s: %w", b.Volume(), err)
			}
		}
		if b.DeleteOnTermination && b.Volume() != "" {
			if err := a.deleteVolume(ctx, sc, b.Volume()); err != nil {
				// The volume outlives the server rather than block its
				// delete; it shows in the volume list for the user.
				log.Warn("delete volume on termination", "error", err)
			}
		}
		if err := a.d.Store.DeleteBDM(ctx, b.UUID); err != nil {
			return err
		}
	}
	return nil
}

// deleteVolume deletes a volume once it has settled (a volume still
// being created cannot be deleted).
func (a *Agent) deleteVolume(ctx context.Context, sc rpc.Scope, id string) error {
	wctx, cancel := context.WithTimeout(ctx, volumeCreateTimeout)
	defer cancel()
	for {
		v, err := a.volumes().Get(wctx, sc, id)
		if isVolumeGone(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if v.Status != "creating" && v.Status != "downloading" && v.Status != "detaching" && v.Status != "attaching" {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("volume %s stays %s", id, v.Status)
		case <-time.After(volumePoll):
		}
	}
	if err := a.volumes().Delete(ctx, sc, id); err != nil && !isVolumeGone(err) {
		return err
	}
	return nil
}
