package manager

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/glance"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/storage/volume/driver"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// Config tunes a manager.
type Config struct {
	// Host is the backend host this manager serves (the volumes' host).
	Host string
	// ReconcileEvery is how often the manager looks for operations left
	// in flight (a lost message); StaleAfter is how long an operation may
	// sit unhandled before it is retried. Zero means 1 and 5 minutes.
	ReconcileEvery, StaleAfter time.Duration
}

// Deps are what a manager needs from the daemon.
type Deps struct {
	Store  *store.Store
	Bus    *bus.Bus
	Quota  *quota.Engine
	Driver driver.Driver
	Log    *slog.Logger
}

// Manager is one backend host's volume manager.
type Manager struct {
	cfg    Config
	store  *store.Store
	bus    *bus.Bus
	quota  *quota.Engine
	driver driver.Driver
	log    *slog.Logger

	queue   *bus.WorkQueue
	stops   []func()
	connect micro.Service
	closer  func()
	busy    busy
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// New builds a manager.
func New(cfg Config, d Deps) *Manager {
	if cfg.ReconcileEvery <= 0 {
		cfg.ReconcileEvery = time.Minute
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 5 * time.Minute
	}
	return &Manager{cfg: cfg, store: d.Store, bus: d.Bus, quota: d.Quota, driver: d.Driver,
		log: d.Log.With("service", "volume-manager", "host", cfg.Host)}
}

// API serves nothing: the manager is driven over the bus.
func (m *Manager) API() api.Service { return api.Service{Name: "volume-manager"} }

// Start opens the connect endpoint and the work consumers, and starts the
// reconcile loop, whose first pass recovers what a stopped process left in
// flight.
func (m *Manager) Start(ctx context.Context) error {
	var err error
	if m.queue, err = work.Queue(ctx, m.bus); err != nil {
		return err
	}
	if _, err := bus.EnsureEventsStream(ctx, m.bus); err != nil {
		return err
	}
	m.connect, err = bus.AddService(m.bus, micro.Config{Name: work.ManagerService, Version: "1.0.0",
		Metadata: map[string]string{"host": m.cfg.Host, "backend": m.driver.Name()}})
	if err != nil {
		return err
	}
	if err := m.connect.AddEndpoint("connect", bus.Handle(m.handleConnect), micro.WithEndpointSubject(work.ConnectSubject(m.cfg.Host))); err != nil {
		m.Stop(ctx)
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	host := bus.HostToken(m.cfg.Host)
	for _, c := range []func() (func(), error){
		func() (func(), error) {
			return bus.Consume(runCtx, m.queue, "volume-manager-"+host+"-volume", work.Subject(m.cfg.Host, work.VerbVolume), m.handleVolume,
				bus.WithAckWait(2*time.Minute))
		},
		func() (func(), error) {
			return bus.Consume(runCtx, m.queue, "volume-manager-"+host+"-snapshot", work.Subject(m.cfg.Host, work.VerbSnapshot), m.handleSnapshot)
		},
	} {
		stop, err := c()
		if err != nil {
			m.Stop(ctx)
			return err
		}
		m.stops = append(m.stops, stop)
	}
	m.wg.Add(1)
	go m.loop(runCtx)
	return nil
}

// loop reconciles at once (what a stopped process left in flight, however
// recent: nothing of this manager's ran before it) and then periodically
// (what is stale) until the manager stops. The busy set keeps it from
// redoing an operation the consumers run at the same time.
func (m *Manager) loop(ctx context.Context) {
	defer m.wg.Done()
	if err := m.reconcile(ctx, 0); err != nil && ctx.Err() == nil {
		m.log.Warn("reconcile volumes at start", "error", err)
	}
	t := time.NewTicker(m.cfg.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.reconcile(ctx, m.cfg.StaleAfter); err != nil && ctx.Err() == nil {
				m.log.Warn("reconcile volumes", "error", err)
			}
		}
	}
}

// Stop ends the consumers (waiting for work in flight) and the connect
// endpoint; it is safe to call twice.
func (m *Manager) Stop(context.Context) error {
	m.once.Do(func() {
		if m.cancel != nil {
			m.cancel()
		}
		m.wg.Wait()
		for _, stop := range m.stops {
			stop()
		}
		if m.connect != nil {
			_ = m.connect.Stop()
		}
		if m.closer != nil {
			m.closer()
		}
	})
	return nil
}

// handleConnect runs the driver's Connect or Disconnect for a host.
func (m *Manager) handleConnect(ctx context.Context, req work.ConnectRequest) (work.ConnectReply, error) {
	if req.Disconnect {
		err := m.driver.Disconnect(ctx, req.VolumeID, req.Connector)
		if errors.Is(err, driver.ErrNotFound) {
			err = nil
		}
		return work.ConnectReply{}, err
	}
	info, err := m.driver.Connect(ctx, req.VolumeID, req.Connector)
	if errors.Is(err, driver.ErrNotFound) {
		return work.ConnectReply{}, bus.Errorf(bus.CodeNotFound, "volume %s has no data on %s", req.VolumeID, m.cfg.Host)
	}
	return work.ConnectReply{ConnectionInfo: info}, err
}

// imageSource is how the driver reads the image a volume is created from.
func imageSource(c *glance.Client, token string, img *glance.Image) driver.Image {
	sum := img.Checksum
	if v, ok := img.Properties["os_hash_value"].(string); ok && v != "" {
		sum = v
	}
	return driver.Image{ID: img.ID, Checksum: sum, DiskFormat: img.DiskFormat,
		Open: func(ctx context.Context) (io.ReadCloser, error) { return c.Download(ctx, token, img.ID) }}
}
