package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/hypervisor"
	pstore "github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/config"
	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/virt"
)

// ReconcileInterval is how often the agent compares the database with the
// hypervisor.
const ReconcileInterval = time.Minute

// Config places the agent.
type Config struct {
	// Host is this node's name: the resource provider's name and the host
	// instances record.
	Host string
	// InstancesDir holds one directory per instance (disk, config drive,
	// console log).
	InstancesDir string
	// VirtType is kvm or qemu.
	VirtType string
	// Zone is the availability zone written to config drives.
	Zone string
	// Allocation sets the ratios and reserves of the host's placement
	// inventories; zero ratios take config.DefaultAllocation's.
	Allocation config.Allocation
}

// Deps are the agent's collaborators.
type Deps struct {
	Store     *store.Store
	Placement *pstore.Store
	Quota     *quota.Engine
	Bus       *bus.Bus
	Driver    hypervisor.Driver
	Images    ImageSource
	Log       *slog.Logger
}

// Agent is a running compute agent.
type Agent struct {
	cfg   Config
	d     Deps
	log   *slog.Logger
	locks sync.Map // instance UUID → *sync.Mutex

	queue    *bus.WorkQueue
	beats    *bus.Heartbeats[work.HostInfo]
	provider string

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stops    []func()
	console  micro.Service
	stopOnce sync.Once
	closer   func()
	// started is when Start ran: in-flight volume work older than that was
	// interrupted by a crash.
	started time.Time
}

// New returns an agent; Start runs it.
func New(cfg Config, d Deps) *Agent {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{cfg: cfg, d: d, log: log.With("service", "compute-agent", "host", cfg.Host)}
}

// Build is the daemon.Builder of the compute agent on this host's libvirt.
func Build(d daemon.Deps) (daemon.Service, error) {
	dir := d.Config.Path("instances")
	drv := hypervisor.NewLibvirt(hypervisor.LibvirtConfig{
		Config:       virt.Config{URI: d.Config.LibvirtURI, Forced: d.Config.VirtType, ProbeFile: d.Config.VirtTypeFile},
		InstancesDir: dir,
		// A TCG guest may take its time to let a disk go (or still be
		// booting when asked, and be asked again).
		DetachTimeout: time.Minute,
	}, d.Log)
	a := New(Config{Host: d.Config.Host, InstancesDir: dir, VirtType: drv.VirtType(), Zone: "nova", Allocation: d.Config.Allocation}, Deps{
		Store: store.New(d.DB), Placement: pstore.New(d.DB), Quota: d.Quota, Bus: d.Bus, Driver: drv,
		Images: LocalImages{Dir: d.Config.Path("images", "data")}, Log: d.Log,
	})
	a.closer = drv.Close
	return a, nil
}

// API serves nothing: the agent is driven over the bus.
func (a *Agent) API() api.Service { return api.Service{Name: "compute-agent"} }

// Start registers the host, recovers from a crash (one reconcile pass
// before any work is consumed), opens the bus endpoints and starts the
// heartbeat, reconcile and power sync loop and the lifecycle event watcher.
func (a *Agent) Start(ctx context.Context) error {
	if err := os.MkdirAll(a.cfg.InstancesDir, 0o755); err != nil {
		return err
	}
	var err error
	if a.queue, err = work.Queue(ctx, a.d.Bus); err != nil {
		return err
	}
	if a.beats, err = work.Heartbeats(ctx, a.d.Bus); err != nil {
		return err
	}
	if _, err := bus.EnsureEventsStream(ctx, a.d.Bus); err != nil {
		return err
	}
	if err := a.register(ctx); err != nil {
		// libvirt may come up later; the loop retries.
		a.log.Warn("register host", "error", err)
	}
	a.started = time.Now()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	// Nothing of this agent is in flight before its consumers open, so
	// the first pass can finish or undo what a crash interrupted.
	a.reconcilePass(runCtx, true)
	if a.d.Bus != nil {
		a.wg.Add(1)
		go a.settleVolumes(runCtx)
	}
	if events, err := a.d.Driver.Events(runCtx); err != nil {
		a.log.Warn("no domain lifecycle events; relying on the periodic power sync", "error", err)
	} else {
		a.wg.Add(1)
		go a.watchEvents(runCtx, events)
	}
	a.console, err = bus.AddService(a.d.Bus, micro.Config{Name: "compute-agent-console", Version: "1.0.0"})
	if err != nil {
		return err
	}
	if err := a.console.AddEndpoint("console", bus.Handle(a.consoleOutput), micro.WithEndpointSubject(work.ConsoleSubject(a.cfg.Host))); err != nil {
		return err
	}
	if err := a.console.AddEndpoint("interface", bus.Handle(a.iface), micro.WithEndpointSubject(work.InterfaceSubject(a.cfg.Host))); err != nil {
		return err
	}
	if err := a.startSerial(runCtx); err != nil {
		return err
	}
	host := work.HostToken(a.cfg.Host)
	consumers := []func() (func(), error){
		func() (func(), error) {
			return bus.Consume(runCtx, a.queue, "compute-agent-"+host+"-spawn", work.Subject(a.cfg.Host, work.VerbSpawn), a.spawn)
		},
		func() (func(), error) {
			return bus.Consume(runCtx, a.queue, "compute-agent-"+host+"-delete", work.Subject(a.cfg.Host, work.VerbDelete), a.delete)
		},
		func() (func(), error) {
			return bus.Consume(runCtx, a.queue, "compute-agent-"+host+"-action", work.Subject(a.cfg.Host, work.VerbAction), a.action)
		},
		func() (func(), error) {
			return bus.Consume(runCtx, a.queue, "compute-agent-"+host+"-task", work.Subject(a.cfg.Host, work.VerbTask), a.task)
		},
		func() (func(), error) {
			return bus.Consume(runCtx, a.queue, "compute-agent-"+host+"-volume", work.Subject(a.cfg.Host, work.VerbVolume), a.volume)
		},
	}
	for _, open := range consumers {
		stop, err := open()
		if err != nil {
			a.Stop(ctx)
			return err
		}
		a.stops = append(a.stops, stop)
	}
	a.wg.Add(1)
	go a.loop(runCtx)
	return nil
}

// Stop ends the loop and consumers and forgets the heartbeat; it is safe to
// call twice.
func (a *Agent) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
		for _, stop := range a.stops {
			stop()
		}
		if a.console != nil {
			_ = a.console.Stop()
		}
		a.wg.Wait()
		if a.beats != nil {
			_ = a.beats.Forget(ctx, work.HostToken(a.cfg.Host))
		}
		if a.closer != nil {
			a.closer()
		}
	})
	return nil
}

func (a *Agent) loop(ctx context.Context) {
	defer a.wg.Done()
	beat := time.NewTicker(work.HeartbeatInterval)
	defer beat.Stop()
	rec := time.NewTicker(ReconcileInterval)
	defer rec.Stop()
	power := time.NewTicker(PowerSyncInterval)
	defer power.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if a.provider == "" {
				if err := a.register(ctx); err != nil {
					a.log.Warn("register host", "error", err)
					continue
				}
			}
			a.beat(ctx)
		case <-rec.C:
			a.reconcile(ctx)
		case <-power.C:
			a.syncPowerStates(ctx)
		}
	}
}

// register creates or updates this host's resource provider from the
// hypervisor's capacity and sends the first heartbeat.
func (a *Agent) register(ctx context.Context) error {
	st, err := a.d.Driver.Stats(ctx)
	if err != nil {
		return fmt.Errorf("hypervisor stats: %w", err)
	}
	// EnsureProvider replaces the inventories, so a restart with other
	// ratios or reserves updates them.
	p, err := a.d.Placement.EnsureProvider(ctx, a.cfg.Host, inventories(st, a.cfg.Allocation))
	if err != nil {
		return err
	}
	a.provider = p.UUID
	a.beat(ctx)
	return nil
}

func (a *Agent) beat(ctx context.Context) {
	if a.provider == "" {
		return
	}
	info := work.HostInfo{ProviderID: a.provider, VirtType: a.cfg.VirtType, Arch: goArch()}
	if st, err := a.d.Driver.Stats(ctx); err == nil {
		info.HypervisorType, info.HypervisorVersion, info.CPUModel = st.HypervisorType, st.HypervisorVersion, st.CPUModel
		info.RunningVMs, info.DiskGBUsed, info.DiskGBTotal = st.RunningVMs, st.DiskGBUsed, st.DiskGB
	}
	err := a.beats.Beat(ctx, work.HostToken(a.cfg.Host), info)
	if err != nil && ctx.Err() == nil {
		a.log.Warn("heartbeat", "error", err)
	}
}

func goArch() string {
	if runtime.GOARCH == "amd64" {
		return "x86_64"
	}
	return runtime.GOARCH
}

// lock serialises work on one instance.
func (a *Agent) lock(id string) func() {
	m, _ := a.locks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (a *Agent) instanceDir(id string) string { return filepath.Join(a.cfg.InstancesDir, id) }

// mine loads an instance this host owns; ok is false when it is gone or
// another host's.
func (a *Agent) mine(ctx context.Context, id string) (store.Instance, bool, error) {
	in, err := a.d.Store.GetInstance(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return in, false, nil
	}
	if err != nil {
		return in, false, err
	}
	return in, in.Host != nil && *in.Host == a.cfg.Host, nil
}

func (a *Agent) consoleOutput(ctx context.Context, req work.ConsoleRequest) (work.ConsoleReply, error) {
	_, ok, err := a.mine(ctx, req.InstanceUUID)
	if err != nil {
		return work.ConsoleReply{}, err
	}
	if !ok {
		return work.ConsoleReply{}, bus.Errorf(bus.CodeNotFound, "instance %s is not on this host", req.InstanceUUID)
	}
	out, err := a.d.Driver.ConsoleOutput(ctx, req.InstanceUUID, req.Lines)
	if errors.Is(err, hypervisor.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return work.ConsoleReply{}, bus.Errorf(bus.CodeNotFound, "instance %s has no console", req.InstanceUUID)
	}
	return work.ConsoleReply{Output: out}, err
}

// event publishes a server state change on kumo.events.compute.server.<action>;
// events are best effort, the database holds the truth.
func (a *Agent) event(ctx context.Context, id, action string) {
	if a.d.Bus == nil {
		return
	}
	in, err := a.d.Store.GetInstance(ctx, id)
	payload := map[string]any{"deleted": errors.Is(err, store.ErrNotFound)}
	if err == nil {
		payload = map[string]any{"vm_state": in.VMState, "task_state": in.TaskState, "power_state": in.PowerState, "host": a.cfg.Host}
	}
	raw, _ := json.Marshal(payload)
	ev := bus.Event{Service: work.Service, Resource: "server", Action: action, ResourceID: id, ProjectID: in.ProjectID, Payload: raw}
	if err := bus.PublishEvent(context.WithoutCancel(ctx), a.d.Bus, ev); err != nil {
		a.log.Warn("publish event", "server_id", id, "action", action, "error", err)
	}
}
