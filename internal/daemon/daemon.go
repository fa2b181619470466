package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/config"
	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/node"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/revert"
	"github.com/kumo-cloud/kumo/internal/token"
	"github.com/kumo-cloud/kumo/internal/virt"
)

// connectTimeout bounds the first connection to an external database or NATS
// so that a wrong URL is an error, not a hang.
const connectTimeout = 10 * time.Second

// Deps is what the daemon hands to each service it runs.
type Deps struct {
	Config config.Config
	Log    *slog.Logger
	DB     *gorm.DB
	Bus    *bus.Bus
	Virt   *virt.Conn
	// URL is the public base URL of the HTTP listener.
	URL string
	// Policy is the one policy engine; services register their defaults.
	Policy *policy.Enforcer
	// Keys, Codec, Revocations and Tokens are the token machinery: every
	// service validates tokens locally with Tokens; identity issues with Codec.
	Keys        *token.KeyRepository
	Codec       *token.Codec
	Revocations *token.RevocationList
	Tokens      *token.Validator
	// Quota is the per-project quota engine; services register their
	// resources' default limits with it.
	Quota *quota.Engine
}

// Service is a kumo service run by the daemon: its routes are mounted on the
// shared listener, Start launches its workers and Stop ends them.
type Service interface {
	API() api.Service
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Builder constructs a service from the daemon's dependencies.
type Builder func(Deps) (Service, error)

// Options selects what a daemon runs.
type Options struct {
	// Roles names what this process runs, as recorded in the nodes table.
	Roles []string
	// Services are built and started after the shared dependencies.
	Services []Builder
	// Version is recorded in the nodes table.
	Version string
	// Listener, when set, is used instead of binding Config.Listen (tests).
	Listener net.Listener
	// OnReady runs once the API serves, in goroutines that Run waits for;
	// their context ends at shutdown. Errors are logged.
	OnReady []func(ctx context.Context, d Deps) error
}

// Daemon is a started kumod.
type Daemon struct {
	cfg  config.Config
	log  *slog.Logger
	deps Deps
	http *api.Server
	ln   net.Listener
	stop *revert.Stack
	// shutdown holds the undos of a successful start, run by Shutdown.
	shutdown *revert.Stack
	onReady  []func(ctx context.Context, d Deps) error
}

// Start brings everything up in order. On failure, whatever was started is
// stopped again and the error names the step that failed in one line.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (_ *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, stop: revert.New(), onReady: opts.OnReady}
	defer func() {
		if err != nil {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if serr := d.stop.Fail(stopCtx); serr != nil {
				log.Warn("cleanup after failed start", "error", serr)
			}
		}
	}()

	// Bind first: a port in use is a configuration error best found before
	// anything has been started.
	d.ln = opts.Listener
	if d.ln == nil {
		if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen %s: %w", cfg.Listen, unwrapOp(err))
		}
	}
	d.stop.Add(func(context.Context) error { d.ln.Close(); return nil })
	url := cfg.PublicURL
	if url == "" {
		url = "http://" + d.ln.Addr().String()
	}
	d.deps = Deps{Config: cfg, Log: log, URL: url}

	if err := d.startDatabase(ctx); err != nil {
		return nil, err
	}
	if err := d.startBus(ctx); err != nil {
		return nil, err
	}
	d.deps.Virt = virt.Open(virt.Config{URI: cfg.LibvirtURI, Forced: cfg.VirtType, ProbeFile: cfg.VirtTypeFile}, log.With("component", "virt"))
	d.stop.Add(func(context.Context) error { d.deps.Virt.Close(); return nil })

	if err := node.Register(ctx, d.deps.DB, node.Node{
		Name: cfg.Host, Roles: opts.Roles, VirtType: d.deps.Virt.Decision().Type,
		LibvirtURI: cfg.LibvirtURI, Version: opts.Version,
	}); err != nil {
		return nil, fmt.Errorf("register node %s: %w", cfg.Host, err)
	}

	if err := d.startTokens(ctx); err != nil {
		return nil, err
	}

	health := api.NewHealth(
		api.Check{Name: "postgres", Probe: func(ctx context.Context) (map[string]any, error) { return nil, db.Ping(ctx, d.deps.DB) }},
		api.Check{Name: "nats", Probe: func(ctx context.Context) (map[string]any, error) { return nil, d.deps.Bus.Ping(ctx) }},
		api.Check{Name: "libvirt", Probe: d.deps.Virt.Check},
	)
	d.http = api.NewServer(api.Config{Log: log.With("component", "http"), Health: health,
		Authorizer: &api.TokenAuth{Tokens: d.deps.Tokens, Enforcer: d.deps.Policy}})
	services := make([]Service, 0, len(opts.Services))
	for _, build := range opts.Services {
		svc, err := build(d.deps)
		if err != nil {
			return nil, err
		}
		services = append(services, svc)
	}
	// Overrides are loaded once every service has registered its defaults.
	if cfg.PolicyFile != "" {
		if err := d.deps.Policy.LoadFile(cfg.PolicyFile); err != nil {
			return nil, fmt.Errorf("--policy-file: %w", err)
		}
	}
	for _, svc := range services {
		if err := svc.Start(ctx); err != nil {
			return nil, fmt.Errorf("start %s: %w", svc.API().Name, err)
		}
		d.stop.Add(svc.Stop)
		if err := d.http.Mount(svc.API()); err != nil {
			return nil, err
		}
	}
	d.shutdown = d.stop.Clone()
	d.stop.Success()
	return d, nil
}

// startDatabase starts the private cluster unless a URL was given, connects
// and applies migrations.
func (d *Daemon) startDatabase(ctx context.Context) error {
	dsn := d.cfg.DatabaseURL
	if dsn == "" {
		cluster, err := db.StartCluster(ctx, db.ClusterConfig{Dir: d.cfg.Path("postgres"), Log: d.log})
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		d.stop.Add(cluster.Stop)
		dsn = cluster.DSN()
	}
	openCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	gdb, err := db.Open(openCtx, dsn, d.log.With("component", "db"))
	if err != nil {
		return err
	}
	d.stop.Add(func(context.Context) error {
		if sqlDB, err := gdb.DB(); err == nil {
			return sqlDB.Close()
		}
		return nil
	})
	if _, err := db.MigrateAll(ctx, gdb, d.log.With("component", "migrate")); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	d.deps.DB = gdb
	return nil
}

// startBus embeds a NATS server unless a URL was given, and connects.
func (d *Daemon) startBus(ctx context.Context) error {
	url := d.cfg.NATSURL
	if url == "" {
		host, portStr, _ := net.SplitHostPort(d.cfg.NATSListen)
		port, err := net.LookupPort("tcp", portStr)
		if err != nil {
			return fmt.Errorf("--nats-listen %s: %w", d.cfg.NATSListen, err)
		}
		srv, err := bus.StartServer(bus.ServerConfig{StoreDir: d.cfg.Path("nats"), Host: host, Port: port, Log: d.log})
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		d.stop.Add(func(context.Context) error { srv.Shutdown(); return nil })
		url = srv.ClientURL()
	}
	connCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	b, err := bus.Connect(connCtx, url, "kumod-"+d.cfg.Host, d.log)
	if err != nil {
		return fmt.Errorf("nats %s: %w", url, err)
	}
	d.stop.Add(func(context.Context) error { b.Close(); return nil })
	d.deps.Bus = b
	return nil
}

// startTokens opens the token key repository (shared through the state
// dir in all-in-one), builds the validator every service uses, and follows
// revocations on NATS so that this process sees every past and future one.
func (d *Daemon) startTokens(ctx context.Context) error {
	enforcer, err := policy.New(policy.Defaults())
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	keys, err := token.OpenRepository(d.cfg.Path("identity", "token-keys"))
	if err != nil {
		return fmt.Errorf("token keys: %w", err)
	}
	codec, err := token.NewCodec(keys)
	if err != nil {
		return fmt.Errorf("token keys: %w", err)
	}
	list := token.NewRevocationList()
	stopFollow, err := token.Follow(ctx, d.deps.Bus, list, d.log.With("component", "revocations"))
	if err != nil {
		return fmt.Errorf("token revocations: %w", err)
	}
	d.stop.Add(func(context.Context) error { stopFollow(); return nil })
	pruneCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); list.RunPruner(pruneCtx, time.Minute) }()
	d.stop.Add(func(context.Context) error { cancel(); <-done; return nil })
	d.deps.Policy, d.deps.Keys, d.deps.Codec, d.deps.Revocations = enforcer, keys, codec, list
	d.deps.Tokens = token.NewValidator(codec, list)
	d.deps.Quota = quota.New(d.deps.DB, quota.Defaults{})
	return nil
}

// URL is the base URL the HTTP listener serves on.
func (d *Daemon) URL() string { return d.deps.URL }

// Deps returns the shared dependencies (for in-process tests).
func (d *Daemon) Deps() Deps { return d.deps }

// Run serves HTTP until ctx is cancelled, then stops everything in reverse
// order of start.
func (d *Daemon) Run(ctx context.Context) error {
	d.log.Info("kumod ready", "url", d.deps.URL, "state_dir", d.cfg.StateDir, "virt_type", d.deps.Virt.Decision().Type)
	var wg sync.WaitGroup
	for _, hook := range d.onReady {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hook(ctx, d.deps); err != nil && ctx.Err() == nil {
				d.log.Error("start-up task failed", "error", err)
			}
		}()
	}
	// The listener is bound already, so hooks may call the API at once.
	serveErr := d.http.Serve(ctx, d.ln)
	wg.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(serveErr, d.Shutdown(stopCtx))
}

// Shutdown stops everything in reverse order; it is safe to call twice.
func (d *Daemon) Shutdown(ctx context.Context) error {
	return d.shutdown.Fail(ctx)
}

// unwrapOp drops the net.OpError prefix that repeats the address.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err
		}
		return op.Err
	}
	return err
}
