package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/config"
	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/node"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// echoService is a minimal service: one route and a record of its lifecycle.
type echoService struct {
	events *[]string
	failOn string
}

func (s echoService) API() api.Service {
	return api.Service{Name: "echo", Prefix: "/echo", Dialect: api.DialectNova, Routes: []api.Route{
		{Method: http.MethodGet, Path: "/v1/ping", Handler: func(*gin.Context) (*api.Response, error) {
			return api.OK(gin.H{"pong": true}), nil
		}},
	}}
}

func (s echoService) Start(context.Context) error {
	*s.events = append(*s.events, "start")
	if s.failOn == "start" {
		return errors.New("refusing to start")
	}
	return nil
}

func (s echoService) Stop(context.Context) error {
	*s.events = append(*s.events, "stop")
	return nil
}

func testConfig(t *testing.T) config.Config {
	_, natsURL := testutil.NATS(t)
	cfg := config.Default()
	cfg.StateDir = filepath.Join(t.TempDir(), "state")
	cfg.DatabaseURL = testutil.Postgres(t)
	cfg.NATSURL = natsURL
	cfg.Host = "test-node"
	cfg.VirtType = "qemu"
	return cfg
}

func listener(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestDaemonMountsServicesAndStopsInReverse(t *testing.T) {
	cfg := testConfig(t)
	var events []string
	log := slog.New(slog.DiscardHandler)
	d, err := daemon.Start(context.Background(), cfg, log, daemon.Options{
		Roles:    []string{"all-in-one"},
		Version:  "test",
		Listener: listener(t),
		Services: []daemon.Builder{func(deps daemon.Deps) (daemon.Service, error) {
			if deps.DB == nil || deps.Bus == nil || deps.Virt == nil || deps.URL == "" {
				t.Errorf("service built with missing deps: %+v", deps)
			}
			return echoService{events: &events}, nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	resp, err := http.Get(d.URL() + "/echo/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"pong":true}` {
		t.Fatalf("mounted route: %d %s", resp.StatusCode, body)
	}

	resp, err = http.Get(d.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var r api.Readiness
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	for _, name := range []string{"postgres", "nats", "libvirt"} {
		if _, ok := r.Checks[name]; !ok {
			t.Fatalf("readyz lacks %s: %+v", name, r)
		}
	}
	if r.Checks["postgres"].Status != "ok" || r.Checks["nats"].Status != "ok" {
		t.Fatalf("readyz: %+v", r)
	}

	n, err := node.Get(context.Background(), d.Deps().DB, "test-node")
	if err != nil {
		t.Fatal(err)
	}
	if n.VirtType != "qemu" || len(n.Roles) != 1 || n.Roles[0] != "all-in-one" || n.Version != "test" {
		t.Fatalf("node record = %+v", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if len(events) != 2 || events[0] != "start" || events[1] != "stop" {
		t.Fatalf("service lifecycle = %v", events)
	}
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if len(events) != 2 {
		t.Fatalf("second shutdown stopped the service again: %v", events)
	}
	if _, err := http.Get(d.URL() + "/healthz"); err == nil {
		t.Fatal("listener still open after shutdown")
	}
}

func TestFailedStartUndoesWhatStarted(t *testing.T) {
	cfg := testConfig(t)
	var events []string
	ln := listener(t)
	addr := ln.Addr().String()
	_, err := daemon.Start(context.Background(), cfg, slog.New(slog.DiscardHandler), daemon.Options{
		Listener: ln,
		Services: []daemon.Builder{func(daemon.Deps) (daemon.Service, error) {
			return echoService{events: &events, failOn: "start"}, nil
		}},
	})
	if err == nil || err.Error() != "start echo: refusing to start" {
		t.Fatalf("err = %v", err)
	}
	// The listener was released: the address can be bound again.
	again, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listener leaked after failed start: %v", err)
	}
	again.Close()
}
