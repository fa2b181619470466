package agent

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/micro"
	"github.com/vishvananda/netlink"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/metadata"
	"github.com/kumo-cloud/kumo/network/neutronapi"
	"github.com/kumo-cloud/kumo/network/store"
)

// ReconcileInterval is how often the agent converges the host even
// without events.
const ReconcileInterval = 30 * time.Second

// HostOnly maps a physical network to a host-only bridge that carries the
// subnet's gateway address and is NATed to the host's uplink (the
// all-in-one external network).
const HostOnly = "hostonly"

// Config places the agent.
type Config struct {
	// Host is this node's name: ports with binding:host_id == Host are
	// plugged here.
	Host string
	// Owner tags the datapath objects (see datapath.Config.Owner);
	// StateDir holds dnsmasq's files.
	Owner, StateDir string
	// PhysicalNetworks maps a flat network's physical network to a host
	// interface, or HostOnly; an unmapped flat network is not set up.
	PhysicalNetworks map[string]string
	// Interval overrides ReconcileInterval.
	Interval time.Duration
}

// Deps are the agent's collaborators.
type Deps struct {
	Store *store.Store
	Quota *quota.Engine
	Bus   *bus.Bus
	Log   *slog.Logger
}

// Agent is a running network agent.
type Agent struct {
	cfg Config
	d   Deps
	log *slog.Logger
	dp  *datapath.Datapath

	mu       sync.Mutex // serialises reconcile passes
	kick     chan struct{}
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopSub  func()
	plug     micro.Service
	stopOnce sync.Once
}

// New returns an agent; Start runs it.
func New(cfg Config, d Deps) (*Agent, error) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval == 0 {
		cfg.Interval = ReconcileInterval
	}
	a := &Agent{cfg: cfg, d: d, log: log.With("service", "network-agent", "host", cfg.Host), kick: make(chan struct{}, 1)}
	dp, err := datapath.New(datapath.Config{Owner: cfg.Owner, StateDir: cfg.StateDir, Log: log,
		Metadata: &metadata.Handler{Store: d.Store, Bus: d.Bus, Log: a.log}})
	if err != nil {
		return nil, err
	}
	a.dp = dp
	return a, nil
}

// Build is the daemon.Builder of the network agent. Its datapath owner is
// derived from the state directory, so two kumods on one host keep apart.
func Build(d daemon.Deps) (daemon.Service, error) {
	phys, err := ParsePhysicalNetworks(d.Config.PhysicalNetworks)
	if err != nil {
		return nil, err
	}
	d.Quota.Register(neutronapi.DefaultQuotas)
	h := fnv.New32a()
	h.Write([]byte(d.Config.StateDir))
	return New(Config{
		Host: d.Config.Host, Owner: fmt.Sprintf("a%07x", h.Sum32()&0xfffffff), StateDir: d.Config.Path("network"),
		PhysicalNetworks: phys,
	}, Deps{Store: store.New(d.DB), Quota: d.Quota, Bus: d.Bus, Log: d.Log})
}

// ParsePhysicalNetworks reads "name=interface,name2=hostonly".
func ParsePhysicalNetworks(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, dev, ok := strings.Cut(item, "=")
		name, dev = strings.TrimSpace(name), strings.TrimSpace(dev)
		if !ok || name == "" || dev == "" || len(dev) > 15 {
			return nil, fmt.Errorf("--physical-networks %q: want name=interface or name=%s", item, HostOnly)
		}
		out[name] = dev
	}
	return out, nil
}

// API serves nothing: the agent is driven over the bus.
func (a *Agent) API() api.Service { return api.Service{Name: "network-agent"} }

// Datapath is the agent's datapath (for tests).
func (a *Agent) Datapath() *datapath.Datapath { return a.dp }

// Start converges the host once, then follows events, taps and the timer,
// and serves the plug endpoint.
func (a *Agent) Start(ctx context.Context) error {
	if _, err := bus.EnsureEventsStream(ctx, a.d.Bus); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	var err error
	a.stopSub, err = bus.SubscribeEvents(runCtx, a.d.Bus, bus.EventFilter("network", "*", "*"), func(bus.Event) { a.poke() })
	if err != nil {
		a.Stop(ctx)
		return err
	}
	if err := a.Reconcile(ctx, ""); err != nil {
		a.log.Warn("first reconcile", "error", err)
	}
	a.plug, err = bus.AddService(a.d.Bus, micro.Config{Name: "network-agent", Version: "1.0.0"})
	if err == nil {
		err = a.plug.AddEndpoint("plug", bus.Handle(a.plugPort), micro.WithEndpointSubject(rpc.AgentPlugSubject(a.cfg.Host)))
	}
	if err != nil {
		a.Stop(ctx)
		return err
	}
	a.wg.Add(3)
	go func() {
		defer a.wg.Done()
		if err := a.dp.WatchTaps(runCtx); err != nil {
			a.log.Error("tap watcher ended", "error", err)
		}
	}()
	go func() {
		defer a.wg.Done()
		a.watchTaps(runCtx)
	}()
	go func() {
		defer a.wg.Done()
		a.loop(runCtx)
	}()
	return nil
}

// Stop ends the endpoints and loops, converges the host one last time
// (so what was deleted just before goes too), and stops the metadata
// listeners; the datapath of what exists stays in place so guests keep
// their network across restarts.
func (a *Agent) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		if a.plug != nil {
			_ = a.plug.Stop()
		}
		if a.stopSub != nil {
			a.stopSub()
		}
		if a.cancel != nil {
			a.cancel()
		}
		a.wg.Wait()
		if a.cancel != nil {
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			if err := a.Reconcile(last, ""); err != nil {
				a.log.Warn("last reconcile", "error", err)
			}
			cancel()
		}
		a.dp.Close()
	})
	return nil
}

func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *Agent) loop(ctx context.Context) {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
		if err := a.Reconcile(ctx, ""); err != nil && ctx.Err() == nil {
			a.log.Warn("reconcile", "error", err)
		}
	}
}

// watchTaps pokes the loop when a VM tap appears or goes, so port status
// follows the hypervisor.
func (a *Agent) watchTaps(ctx context.Context) {
	updates := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribe(updates, ctx.Done()); err != nil {
		a.log.Warn("no link updates; port status follows the periodic reconcile", "error", err)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			if strings.HasPrefix(u.Link.Attrs().Name, "tap") {
				a.poke()
			}
		}
	}
}
