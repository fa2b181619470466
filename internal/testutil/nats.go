package testutil

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
)

// NATS starts a fresh in-process NATS server with JetStream stored in a
// temporary directory on a random loopback port, shuts it down when the test
// ends, and returns it with its client URL.
func NATS(t testing.TB) (*bus.Server, string) {
	t.Helper()
	srv, err := bus.StartServer(bus.ServerConfig{
		StoreDir: t.TempDir(),
		Port:     -1,
		Log:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("start NATS server: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv, srv.ClientURL()
}

// Bus returns a connection to a fresh in-process NATS server; both are
// closed when the test ends.
func Bus(t testing.TB) *bus.Bus {
	t.Helper()
	_, url := NATS(t)
	return Connect(t, url)
}

// Connect connects to the NATS server at url and closes the connection when
// the test ends.
func Connect(t testing.TB, url string) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, url, t.Name(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect to NATS: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}
