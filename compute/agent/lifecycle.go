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
	ev := a.startEvent(ctx, in.UUID, eventBuild)
	// Builds run under the instance's lock, so a domain that exists now
	// was left by a build that died (a crash of the agent): a running one
	// got through every step but recording it, and is adopted; any other
	// is undone and built again. A redelivered spawn so never builds twice.
	switch st, err := a.d.Driver.State(ctx, in.UUID); {
	case err == nil && st == hypervisor.Running:
		log.Info("adopting the running domain of an interrupted build")
		if bdms, err := a.d.Store.ListBDMs(ctx, in.UUID); err != nil {
			return err
		} else if err := a.completeVolumes(ctx, in, bdms); err != nil {
			log.Warn("complete the volumes of an adopted build", "error", err)
		}
		a.finishEvent(ctx, ev, nil)
		return a.finishBuild(ctx, in.UUID)
	case err == nil:
		log.Info("undoing an interrupted build", "power_state", st.String())
		if err := a.d.Driver.Undefine(ctx, in.UUID); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
			return err
		}
	}
	if err := a.boot(ctx, in); err != nil {
		a.finishEvent(ctx, ev, err)
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
	a.finishEvent(ctx, ev, nil)
	log.Info("spawned")
	return a.finishBuild(ctx, in.UUID)
}

// finishBuild records a built instance as ACTIVE.
func (a *Agent) finishBuild(ctx context.Context, id string) error {
	if err := a.d.Store.UpdateInstance(ctx, id, map[string]any{
		"vm_state": store.VMActive, "task_state": nil, "power_state": int(hypervisor.Running), "launched_at": time.Now().UTC(),
	}); err != nil {
		return err
	}
	a.event(ctx, id, "active")
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
	info, err := a.allocateNetwork(ctx, undo, in)
	if err != nil {
		return err
	}
	in.NetworkInfo = info

	vols, err := a.prepareVolumes(ctx, undo, in)
	if err != nil {
		return err
	}
	disk, drive := a.rootDisk(in.UUID), filepath.Join(dir, "disk.config")
	if _, bfv := rootVolume(vols); !bfv {
		if err := a.createDisk(ctx, in, disk); err != nil {
			return err
		}
	}
	if wantsConfigDrive(in) {
		if err := a.writeConfigDrive(ctx, in, drive); err != nil {
			return err
		}
	}
	if err := createFlavorDisks(ctx, undo, dir, in); err != nil {
		return err
	}
	spec := a.domainSpec(in, vols)
	if err := a.d.Driver.Define(ctx, spec); err != nil {
		return err
	}
	undo.Add(func(ctx context.Context) error { return a.d.Driver.Undefine(ctx, in.UUID) })
	if err := a.d.Driver.Start(ctx, in.UUID); err != nil {
		return err
	}
	undo.Add(func(ctx context.Context) error { return a.d.Driver.Destroy(ctx, in.UUID) })
	return a.completeVolumes(ctx, in, vols)
}

// createDisk creates the instance's root disk: a qcow2 overlay on its
// image, grown to the flavor's root_gb.
func (a *Agent) createDisk(ctx context.Context, in store.Instance, disk string) error {
	return a.withBaseImage(ctx, in.ImageRef, func(base, format string) error {
		args := []string{"create", "-q", "-f", "qcow2", "-F", format, "-b", base, disk}
		if in.RootGB > 0 {
			args = append(args, fmt.Sprintf("%dG", in.RootGB))
		}
		_ = os.Remove(disk) // a retried spawn starts over
		if out, err := exec.CommandContext(ctx, "qemu-img", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("create disk: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	})
}

// wantsConfigDrive tells whether an instance gets a config drive: when
// it asked for one (config_drive: true) or has no NIC, so no way to reach
// the metadata service at boot (networks "none", or an instance from
// before networks). Otherwise, as in Nova by default, its guest gets keys
// and user data from the metadata service. It depends only on what the
// instance was created with (not on interfaces attached since), so
// rebuild and resize agree with the boot.
func wantsConfigDrive(in store.Instance) bool {
	return in.ConfigDrive || in.RequestedNetworks == nil || in.RequestedNetworks.Mode == store.NetworksNone
}

// writeConfigDrive writes the instance's config drive.
func (a *Agent) writeConfigDrive(ctx context.Context, in store.Instance, drive string) error {
	cd := configdrive.Drive{Meta: configdrive.Metadata{
		UUID: in.UUID, Name: in.Name, Hostname: work.Hostname(in.Name), AvailabilityZone: in.AvailabilityZone,
		ProjectID: in.ProjectID, Meta: map[string]string(in.Metadata),
	}}
	if in.KeyName != nil && in.PublicKey != nil {
		cd.Meta.PublicKeys = map[string]string{*in.KeyName: *in.PublicKey}
	}
	cd.Network = networkData(in.NetworkInfo)
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

// domainSpec is the domain of an instance, sized by the flavor it
// carries, with its connected volumes (bdms): a server booted from a
// volume has that volume as vda and no local root disk.
func (a *Agent) domainSpec(in store.Instance, bdms []store.BDM) hypervisor.InstanceSpec {
	dir := a.instanceDir(in.UUID)
	var disks []hypervisor.DiskSpec
	if _, bfv := rootVolume(bdms); !bfv {
		disks = append(disks, hypervisor.DiskSpec{Path: filepath.Join(dir, "disk"), Format: hypervisor.FormatQCOW2,
			Bus: hypervisor.BusVirtio, Device: hypervisor.DeviceDisk, Target: "vda", BootIndex: 1})
	}
	vols := volumeDisks(bdms)
	if len(disks) == 0 && len(vols) > 0 {
		disks, vols = vols[:1], vols[1:]
	}
	if wantsConfigDrive(in) {
		// kumo-tiny's kernel has no AHCI driver: the config drive is an
		// IDE cdrom.
		disks = append(disks, hypervisor.DiskSpec{Path: filepath.Join(dir, "disk.config"), Format: hypervisor.FormatRaw,
			Bus: hypervisor.BusIDE, Device: hypervisor.DeviceCDROM, Target: "hdd", ReadOnly: true})
	}
	return hypervisor.InstanceSpec{
		UUID: in.UUID, Name: domainName(in.UUID), VCPUs: in.VCPUs, MemoryMB: in.MemoryMB, VirtType: a.cfg.VirtType,
		Disks:      append(withFlavorDisks(dir, in, disks), vols...),
		NICs:       nics(in.NetworkInfo),
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
	ev := a.startEvent(ctx, in.UUID, eventTerminate)
	err = a.teardown(ctx, in)
	a.finishEvent(ctx, ev, err)
	return err
}

func (a *Agent) teardown(ctx context.Context, in store.Instance) error {
	id := in.UUID
	if err := a.d.Driver.Destroy(ctx, id); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
		return err
	}
	if err := a.d.Driver.Undefine(ctx, id); err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
		return err
	}
	if err := os.RemoveAll(a.instanceDir(id)); err != nil {
		return err
	}
	if err := a.releaseVolumes(ctx, in); err != nil {
		return err
	}
	if err := a.abandonResize(ctx, id); err != nil {
		return err
	}
	if wantsNetwork(in) {
		if err := a.deallocateNetwork(ctx, in); err != nil {
			return err
		}
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
	ev := a.startEvent(ctx, id, actionEvents[msg.Action])
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
	a.finishEvent(ctx, ev, err)
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
// domains, instance directories and cached images this agent made that
// nothing uses any more are removed.
func (a *Agent) reconcile(ctx context.Context) { a.reconcilePass(ctx, false) }

// reconcilePass is one reconcile. With startup set it runs before the
// agent consumes any work, so no handler of this process is in flight: a
// task_state left in the database was interrupted by a crash, and the pass
// decides its outcome (see recoverTask).
func (a *Agent) reconcilePass(ctx context.Context, startup bool) {
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
		a.reconcileOne(ctx, in, byUUID, startup)
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
		a.removeLeftover(ctx, id, true)
	}
	// Instance directories without a domain (a crash before the domain was
	// defined, or between undefining it and removing the directory).
	for _, id := range a.instanceDirs() {
		if _, defined := byUUID[id]; !defined && !live[id] {
			a.removeLeftover(ctx, id, false)
		}
	}
	a.cleanBaseImages(startup)
}

// removeLeftover removes the domain and directory of an instance that is
// not (or no longer) this host's, re-checking under the instance's lock:
// the listing may predate a spawn that started since.
func (a *Agent) removeLeftover(ctx context.Context, id string, domain bool) {
	defer a.lock(id)()
	if _, ok, err := a.mine(ctx, id); err != nil || ok {
		return
	}
	if domain {
		a.log.Warn("reconcile: removing domain without instance", "domain", domainName(id))
		_ = a.d.Driver.Destroy(ctx, id)
		if err := a.d.Driver.Undefine(ctx, id); err != nil {
			return
		}
	} else if _, err := a.d.Driver.State(ctx, id); !errors.Is(err, hypervisor.ErrNotFound) {
		return // defined meanwhile, or libvirt cannot tell: leave it
	}
	a.log.Warn("reconcile: removing instance directory without instance", "server_id", id)
	_ = os.RemoveAll(a.instanceDir(id))
}

func (a *Agent) reconcileOne(ctx context.Context, in store.Instance, doms map[string]hypervisor.DomainInfo, startup bool) {
	defer a.lock(in.UUID)()
	// Re-read under the lock: a handler may have changed it meanwhile.
	in, ok, err := a.mine(ctx, in.UUID)
	if err != nil || !ok {
		return
	}
	log := a.log.With("server_id", in.UUID)
	dom, defined := doms[in.UUID]
	if st, err := a.d.Driver.State(ctx, in.UUID); err == nil {
		dom.State, defined = st, true
	} else if errors.Is(err, hypervisor.ErrNotFound) {
		defined = false
	}
	task := ""
	if in.TaskState != nil {
		task = *in.TaskState
	}
	switch {
	case task == store.TaskDeleting:
		if err := a.teardown(ctx, in); err != nil {
			log.Warn("reconcile: delete", "error", err)
		}
	case in.VMState == store.VMBuilding:
		// Under the lock no spawn of this process is running, so a
		// defined domain was left by one that died: build resumes it.
		// Without a domain the spawn message may still be on its way,
		// unless this is the pass at startup.
		if updated := in.UpdatedAt; !defined && !startup && updated != nil && time.Since(*updated) < 30*time.Second {
			return
		}
		log.Info("reconcile: finishing a build that never completed", "domain_defined", defined)
		if err := a.build(ctx, in); err != nil {
			log.Warn("reconcile: spawn", "error", err)
		}
	case !defined && in.VMState != store.VMError:
		log.Warn("reconcile: domain is gone")
		_ = a.d.Store.UpdateInstance(ctx, in.UUID, map[string]any{
			"vm_state": store.VMError, "task_state": nil, "power_state": int(hypervisor.NoState),
			"fault": store.Fault{Code: 500, Message: "The instance's domain disappeared from host " + a.cfg.Host, Created: time.Now().UTC()},
		})
	case startup && task != "":
		a.recoverTask(ctx, in, dom.State)
	case defined && task == "" && int(dom.State) != in.PowerState:
		_ = a.d.Store.UpdateInstance(ctx, in.UUID, map[string]any{"power_state": int(dom.State)})
	}
	if defined && in.VMState != store.VMBuilding && task != store.TaskDeleting {
		a.reconcileVolumes(ctx, in, startup)
	}
}

// recoverTask ends a task a crash interrupted (powering-off, rebooting,
// pausing...): the instance takes the state its domain is really in and the
// task is cleared, as Nova's init_host does for most tasks. If the action's
// message was not acknowledged it is delivered again and runs anyway: every
// action is idempotent.
func (a *Agent) recoverTask(ctx context.Context, in store.Instance, st hypervisor.PowerState) {
	cols := map[string]any{"task_state": nil, "power_state": int(st)}
	if vm := vmStateOf(in.VMState, st); vm != "" {
		cols["vm_state"] = vm
	}
	a.log.Warn("reconcile: clearing a task interrupted by a restart", "server_id", in.UUID, "task_state", *in.TaskState, "power_state", st.String())
	if err := a.d.Store.UpdateInstance(ctx, in.UUID, cols); err != nil {
		a.log.Warn("reconcile: clear task", "server_id", in.UUID, "error", err)
		return
	}
	a.event(ctx, in.UUID, "recover")
}

// vmStateOf is the vm_state a domain's power state implies for an
// instance in one of the plain power states; "" keeps vm (building, error
// and the states other features own, such as resized).
func vmStateOf(vm string, st hypervisor.PowerState) string {
	switch vm {
	case store.VMActive, store.VMStopped, store.VMPaused, store.VMSuspended:
	default:
		return ""
	}
	switch st {
	case hypervisor.Running:
		return store.VMActive
	case hypervisor.Shutdown, hypervisor.Crashed:
		return store.VMStopped
	case hypervisor.Paused:
		return store.VMPaused
	case hypervisor.Suspended:
		return store.VMSuspended
	}
	return ""
}
