package agent

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/compute/configdrive"
	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/revert"
)

// stopTimeout is how long a stop waits for the guest's clean shutdown
// before powering it off.
const stopTimeout = 20 * time.Second

// domainName is the libvirt name of an instance's domain.
func domainName(id string) string { return "instance-" + id }

// spawn handles work.Spawn: it builds and boots the instance, or records
// why it could not. A spawn of an instance no longer building does nothing.
func (a *Agent) spawn(ctx context.Context, msg work.Spawn) error {
	defer a.lock(msg.InstanceUUID)()
	in, ok, err := a.mine(ctx, msg.InstanceUUID)
	if err != nil || !ok {
		return err
	}
	if in.VMState != store.VMBuilding || (in.TaskState != nil && *in.TaskState == store.TaskDeleting) {
		return nil
	}
	return a.build(ctx, in)
}

// build runs the steps of a spawn with an undo stack; a failure puts the
// instance in ERROR with a fault and releases its placement allocation.
func (a *Agent) build(ctx context.Context, in store.Instance) error {
	log := a.log.With("server_id", in.UUID)
	if err := a.boot(ctx, in); err != nil {
		log.Warn("spawn failed", "error", err)
		if rerr := a.d.Placement.Release(ctx, in.UUID); rerr != nil {
			log.Error("release allocation", "error", rerr)
		}
		if err := a.d.Store.UpdateInstance(ctx, in.UUID, map[string]any{
			"vm_state": store.VMError, "task_state": nil, "power_state": int(hypervisor.NoState),
			"fault": store.Fault{Code: 500, Message: "Build of instance " + in.UUID + " aborted: " + err.Error(), Created: time.Now().UTC()},
		}); err != nil {
			return err
		}
		a.event(ctx, in.UUID, "error")
		return nil
	}
	t := time.Now().UTC()
	log.Info("spawned")
	if err := a.d.Store.UpdateInstance(ctx, in.UUID, map[string]any{
		"vm_state": store.VMActive, "task_state": nil, "power_state": int(hypervisor.Running), "launched_at": t,
	}); err != nil {
		return err
	}
	a.event(ctx, in.UUID, "active")
	return nil
}

func (a *Agent) boot(ctx context.Context, in store.Instance) (err error) {
	undo := revert.New()
	defer func() {
		if err != nil {
			if uerr := undo.Fail(context.WithoutCancel(ctx)); uerr != nil {
				a.log.Warn("undo spawn", "server_id", in.UUID, "error", uerr)
			}
		}
	}()
	dir := a.instanceDir(in.UUID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	undo.Add(func(context.Context) error { return os.RemoveAll(dir) })

	disk, drive := filepath.Join(dir, "disk"), filepath.Join(dir, "disk.config")
	if err := a.createDisk(ctx, in, disk); err != nil {
		return err
	}
	if err := a.writeConfigDrive(ctx, in, drive); err != nil {
		return err
	}
	spec := a.domainSpec(in)
	if err := a.d.Driver.Define(ctx, spec); err != nil {
		return err
	}
	undo.Add(func(ctx context.Context) error { return a.d.Driver.Undefine(ctx, in.UUID) })
	if err := a.d.Driver.Start(ctx, in.UUID); err != nil {
		return err
	}
	undo.Add(func(ctx context.Context) error { return a.d.Driver.Destroy(ctx, in.UUID) })
	return nil
}

// createDisk creates the instance's root disk: a qcow2 overlay on its
// image, grown to the flavor's root_gb.
func (a *Agent) createDisk(ctx context.Context, in store.Instance, disk string) error {
	base, format, err := a.d.Images.Image(ctx, in.ImageRef)
	if err != nil {
		return err
	}
	args := []string{"create", "-q", "-f", "qcow2", "-F", format, "-b", base, disk}
	if in.RootGB > 0 {
		args = append(args, fmt.Sprintf("%dG", in.RootGB))
	}
	_ = os.Remove(disk) // a retried spawn starts over
	if out, err := exec.CommandContext(ctx, "qemu-img", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("create disk: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// writeConfigDrive writes the instance's config drive. There is no
// metadata service yet, so every instance gets one: it is how keys and
// user data reach the guest.
func (a *Agent) writeConfigDrive(ctx context.Context, in store.Instance, drive string) error {
	cd := configdrive.Drive{Meta: configdrive.Metadata{
		UUID: in.UUID, Name: in.Name, Hostname: work.Hostname(in.Name), AvailabilityZone: in.AvailabilityZone,
		ProjectID: in.ProjectID, Meta: map[string]string(in.Metadata),
	}}
	if in.KeyName != nil && in.PublicKey != nil {
		cd.Meta.PublicKeys = map[string]string{*in.KeyName: *in.PublicKey}
	}
	if in.UserData != nil && *in.UserData != "" {
		var err error
		if cd.UserData, err = base64.StdEncoding.DecodeString(*in.UserData); err != nil {
			return fmt.Errorf("user data: %w", err)
		}
	}
	if err := cd.WriteISO(ctx, drive); err != nil {
		return fmt.Errorf("config drive: %w", err)
	}
	return nil
}

// domainSpec is the domain of an instance, sized by the flavor it carries.
func (a *Agent) domainSpec(in store.Instance) hypervisor.InstanceSpec {
	dir := a.instanceDir(in.UUID)
	return hypervisor.InstanceSpec{
		UUID: in.UUID, Name: domainName(in.UUID), VCPUs: in.VCPUs, MemoryMB: in.MemoryMB, VirtType: a.cfg.VirtType,
		Disks: []hypervisor.DiskSpec{
			{Path: filepath.Join(dir, "disk"), Format: hypervisor.FormatQCOW2, Bus: hypervisor.BusVirtio, Device: hypervisor.DeviceDisk, Target: "vda", BootIndex: 1},
			// kumo-tiny's kernel has no AHCI driver: the config drive is an
			// IDE cdrom.
			{Path: filepath.Join(dir, "disk.config"), Format: hypervisor.FormatRaw, Bus: hypervisor.BusIDE, Device: hypervisor.DeviceCDROM, Target: "hdd", ReadOnly: true},
		},
		ConsoleLog: filepath.Join(dir, "console.log"),
		Metadata: map[string]string{"name": in.Name, "flavor": in.FlavorName, "project": in.ProjectID,
			"user": in.UserID, "host": a.cfg.Host},
	}
}

// delete handles work.Delete: it tears the instance down on this host,
// releases its allocation and quota and marks it deleted.
func (a *Agent) delete(ctx context.Context, msg work.Delete) error {
	defer a.lock(msg.InstanceUUID)()
	in, ok, err := a.mine(ctx, msg.InstanceUUID)
	if err != nil || !ok {
		return err
	}
	return a.teardown(ctx, in.UUID)
}

func (a *Agent) teardown(ctx context.Context, id string) error {
	if err := a.d.Driver.Destroy(ctx, id); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
		return err
	}
	if err := a.d.Driver.Undefine(ctx, id); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
		return err
	}
	if err := os.RemoveAll(a.instanceDir(id)); err != nil {
		return err
	}
	if err := a.abandonResize(ctx, id); err != nil {
		return err
	}
	if err := a.d.Placement.Release(ctx, id); err != nil {
		return err
	}
	if err := a.d.Store.DeleteInstance(ctx, a.d.Quota, id); err != nil {
		return err
	}
	a.log.Info("deleted", "server_id", id)
	a.event(ctx, id, "delete")
	return nil
}

// action handles work.Action: a power change, then the states it led to.
// A failed action clears the task and leaves the instance as it is.
func (a *Agent) action(ctx context.Context, msg work.Action) error {
	defer a.lock(msg.InstanceUUID)()
	in, ok, err := a.mine(ctx, msg.InstanceUUID)
	if err != nil || !ok {
		return err
	}
	if in.TaskState != nil && *in.TaskState == store.TaskDeleting {
		return nil
	}
	drv, id := a.d.Driver, in.UUID
	vm := in.VMState
	switch msg.Action {
	case work.ActionStop:
		err = drv.Shutdown(ctx, id, stopTimeout)
		if errors.Is(err, hypervisor.ErrTimeout) {
			err = drv.Destroy(ctx, id)
		}
		vm = store.VMStopped
	case work.ActionStart:
		err, vm = drv.Start(ctx, id), store.VMActive
	case work.ActionRebootSoft:
		err = drv.Reboot(ctx, id, false)
		if errors.Is(err, hypervisor.ErrTimeout) {
			err = drv.Reboot(ctx, id, true)
		}
		vm = store.VMActive
	case work.ActionRebootHard:
		if st, serr := drv.State(ctx, id); serr == nil && st != hypervisor.Running {
			_ = drv.Destroy(ctx, id)
			err = drv.Start(ctx, id)
		} else {
			err = drv.Reboot(ctx, id, true)
		}
		vm = store.VMActive
	case work.ActionPause:
		err, vm = drv.Pause(ctx, id), store.VMPaused
	case work.ActionUnpause:
		err, vm = drv.Unpause(ctx, id), store.VMActive
	case work.ActionSuspend:
		err, vm = drv.Suspend(ctx, id), store.VMSuspended
	case work.ActionResume:
		err, vm = drv.Resume(ctx, id), store.VMActive
	default:
		err = fmt.Errorf("unknown action %q", msg.Action)
	}
	cols := map[string]any{"task_state": nil}
	if err != nil {
		a.log.Warn("action failed", "server_id", id, "action", msg.Action, "error", err)
	} else {
		cols["vm_state"] = vm
	}
	if st, serr := drv.State(ctx, id); serr == nil {
		cols["power_state"] = int(st)
	}
	if err := a.d.Store.UpdateInstance(ctx, id, cols); err != nil {
		return err
	}
	a.event(ctx, id, msg.Action)
	return nil
}

// reconcile brings the hypervisor and the database into agreement: work
// this host was given but never did is done (spawns, deletes), instances
// whose domain vanished go to ERROR, power states are refreshed, and
// domains this agent created for instances that no longer exist are
// removed.
func (a *Agent) reconcile(ctx context.Context) {
	ins, err := a.d.Store.ListInstances(ctx, store.InstanceFilter{AllProjects: true, Host: a.cfg.Host})
	if err != nil {
		a.log.Warn("reconcile: list instances", "error", err)
		return
	}
	doms, err := a.d.Driver.List(ctx)
	if err != nil {
		a.log.Warn("reconcile: list domains", "error", err)
		return
	}
	byUUID := map[string]hypervisor.DomainInfo{}
	for _, d := range doms {
		byUUID[strings.ToLower(d.UUID)] = d
	}
	live := map[string]bool{}
	for _, in := range ins {
		live[in.UUID] = true
		a.reconcileOne(ctx, in, byUUID)
	}
	for _, d := range doms {
		id := strings.ToLower(d.UUID)
		if !d.Managed || live[id] {
			continue
		}
		// Only domains whose instance directory is ours: other kumo
		// clouds may share this libvirt.
		if _, err := os.Stat(a.instanceDir(id)); err != nil {
			continue
		}
		a.log.Warn("reconcile: removing domain without instance", "domain", d.Name)
		_ = a.d.Driver.Destroy(ctx, id)
		if err := a.d.Driver.Undefine(ctx, id); err == nil {
			_ = os.RemoveAll(a.instanceDir(id))
		}
	}
}

func (a *Agent) reconcileOne(ctx context.Context, in store.Instance, doms map[string]hypervisor.DomainInfo) {
	defer a.lock(in.UUID)()
	// Re-read under the lock: a handler may have changed it meanwhile.
	in, ok, err := a.mine(ctx, in.UUID)
	if err != nil || !ok {
		return
	}
	log := a.log.With("server_id", in.UUID)
	dom, defined := doms[in.UUID]
	if defined {
		if st, err := a.d.Driver.State(ctx, in.UUID); err == nil {
			dom.State, defined = st, true
		} else if errors.Is(err, hypervisor.ErrNotFound) {
			defined = false
		}
	}
	task := ""
	if in.TaskState != nil {
		task = *in.TaskState
	}
	switch {
	case task == store.TaskDeleting:
		if err := a.teardown(ctx, in.UUID); err != nil {
			log.Warn("reconcile: delete", "error", err)
		}
	case in.VMState == store.VMBuilding:
		if defined {
			return // a spawn is finishing; its handler records the outcome
		}
		if updated := in.UpdatedAt; updated != nil && time.Since(*updated) < 30*time.Second {
			return // the spawn message is likely on its way
		}
		log.Info("reconcile: spawning instance that was never built")
		if err := a.build(ctx, in); err != nil {
			log.Warn("reconcile: spawn", "error", err)
		}
	case !defined && in.VMState != store.VMError:
		log.Warn("reconcile: domain is gone")
		_ = a.d.Store.UpdateInstance(ctx, in.UUID, map[string]any{
			"vm_state": store.VMError, "task_state": nil, "power_state": int(hypervisor.NoState),
			"fault": store.Fault{Code: 500, Message: "The instance's domain disappeared from host " + a.cfg.Host, Created: time.Now().UTC()},
		})
	case defined && task == "" && int(dom.State) != in.PowerState:
		_ = a.d.Store.UpdateInstance(ctx, in.UUID, map[string]any{"power_state": int(dom.State)})
	}
}
