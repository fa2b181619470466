package agent

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
)

// PowerSyncInterval is how often the agent compares the power states of
// its domains with the database, behind the hypervisor's lifecycle events
// (which may be lost). It is a cheap pass: one domain list, one query.
const PowerSyncInterval = 10 * time.Second

// powerPlan is what a power state sync does to one instance.
type powerPlan struct {
	// Power is the power_state to record.
	Power hypervisor.PowerState
	// VMState is the vm_state to record; "" keeps it.
	VMState string
	// PowerOff powers the domain off first (Nova's stop / force_stop).
	PowerOff bool
}

// planPowerSync is Nova's _sync_instance_power_state as a decision table,
// for an instance with no task in progress (ok is false when there is
// nothing to do, including whenever a task is running: its handler owns
// the states):
//
//   - the power state the hypervisor reports is always recorded;
//   - active, and the guest is shut off, crashed or suspended behind
//     kumo's back (virsh destroy, poweroff in the guest): the instance is
//     stopped (Nova calls stop: vm_state stopped);
//   - stopped, and the domain runs or is paused: it is powered off again
//     (Nova's force_stop), the database being the intent;
//   - paused, and the guest is shut off or crashed: stopped;
//   - anything else (building, error, suspended, active but paused or
//     NOSTATE) only records the power state.
func planPowerSync(vmState string, task *string, dbPower int, dom hypervisor.PowerState) (powerPlan, bool) {
	if task != nil {
		return powerPlan{}, false
	}
	p := powerPlan{Power: dom}
	off := dom == hypervisor.Shutdown || dom == hypervisor.Crashed
	switch vmState {
	case store.VMActive:
		if off || dom == hypervisor.Suspended {
			p.VMState, p.PowerOff = store.VMStopped, true
		}
	case store.VMStopped:
		if dom == hypervisor.Running || dom == hypervisor.Paused {
			p.PowerOff, p.Power = true, hypervisor.Shutdown
		}
	case store.VMPaused:
		if off {
			p.VMState, p.PowerOff = store.VMStopped, true
		}
	}
	return p, p.VMState != "" || p.PowerOff || int(p.Power) != dbPower
}

// syncPower brings one instance's recorded power state in line with its
// domain, under the instance's lock. A missing domain is left to
// reconcile.
func (a *Agent) syncPower(ctx context.Context, id string) {
	// Events come for every domain of a libvirt other clouds may share:
	// only this host's instances are worth a lock.
	if _, ok, err := a.mine(ctx, id); err != nil || !ok {
		return
	}
	defer a.lock(id)()
	in, ok, err := a.mine(ctx, id)
	if err != nil || !ok {
		return
	}
	st, err := a.d.Driver.State(ctx, id)
	if err != nil {
		if !errors.Is(err, hypervisor.ErrNotFound) {
			a.log.Warn("power sync: state", "server_id", id, "error", err)
		}
		return
	}
	plan, ok := planPowerSync(in.VMState, in.TaskState, in.PowerState, st)
	if !ok {
		return
	}
	log := a.log.With("server_id", id, "vm_state", in.VMState, "power_state", st.String())
	if plan.PowerOff {
		if err := a.d.Driver.Destroy(ctx, id); err != nil {
			log.Warn("power sync: power off", "error", err)
			return
		}
		if now, err := a.d.Driver.State(ctx, id); err == nil {
			plan.Power = now
		}
	}
	cols := map[string]any{"power_state": int(plan.Power)}
	action := "power_sync"
	if plan.VMState != "" {
		cols["vm_state"] = plan.VMState
		action = "power_off"
		log.Warn("power sync: the guest is off; the instance is stopped", "new_vm_state", plan.VMState)
	} else if plan.PowerOff {
		log.Warn("power sync: the domain of a stopped instance was running; powered it off")
	}
	if err := a.d.Store.UpdateInstance(ctx, id, cols); err != nil {
		log.Warn("power sync: record", "error", err)
		return
	}
	a.event(ctx, id, action)
}

// syncPowerStates is the periodic fallback of the lifecycle events: it
// lists domains and instances once and syncs those that disagree.
func (a *Agent) syncPowerStates(ctx context.Context) {
	ins, err := a.d.Store.ListInstances(ctx, store.InstanceFilter{AllProjects: true, Host: a.cfg.Host})
	if err != nil {
		return
	}
	doms, err := a.d.Driver.List(ctx)
	if err != nil {
		return
	}
	state := make(map[string]hypervisor.PowerState, len(doms))
	for _, d := range doms {
		state[strings.ToLower(d.UUID)] = d.State
	}
	for _, in := range ins {
		st, defined := state[in.UUID]
		if !defined {
			continue
		}
		if _, ok := planPowerSync(in.VMState, in.TaskState, in.PowerState, st); ok {
			a.syncPower(ctx, in.UUID)
		}
	}
}

// watchEvents syncs an instance whenever its domain's lifecycle changes,
// until the channel closes.
func (a *Agent) watchEvents(ctx context.Context, events <-chan hypervisor.DomainEvent) {
	defer a.wg.Done()
	for ev := range events {
		if ctx.Err() != nil {
			continue // drain until the driver closes the channel
		}
		a.syncPower(ctx, ev.UUID)
	}
}
