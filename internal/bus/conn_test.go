package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestPing(t *testing.T) {
	srv, url := testutil.NATS(t)
	b := testutil.Connect(t, url)

	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("Ping with server up: %v", err)
	}
	if b.JetStream() == nil || b.Conn() == nil {
		t.Fatal("Bus has no connection or JetStream context")
	}

	srv.Shutdown()
	start := time.Now()
	err := b.Ping(context.Background())
	if err == nil {
		t.Fatal("Ping succeeded after server shutdown")
	}
	if d := time.Since(start); d > bus.DefaultPingTimeout+time.Second {
		t.Fatalf("Ping took %s to fail after shutdown", d)
	}
	// Once the client has noticed, Ping fails at once.
	testutil.WaitFor(t, 5*time.Second, func() error {
		start := time.Now()
		if err := b.Ping(context.Background()); err == nil {
			return errors.New("ping succeeded")
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			return fmt.Errorf("ping took %s", d)
		}
		return nil
	})
}

func TestConnect(t *testing.T) {
	t.Run("gives up when ctx ends", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "nats://" + l.Addr().String()
		l.Close() // nothing listens here now

		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		b, err := bus.Connect(ctx, url, "test", slog.New(slog.DiscardHandler))
		if err == nil {
			b.Close()
			t.Fatal("Connect succeeded with no server")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Connect error = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Connect took %s to give up", d)
		}
	})

	t.Run("waits for a server that starts later", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()

		type result struct {
			b   *bus.Bus
			err error
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		res := make(chan result, 1)
		go func() {
			b, err := bus.Connect(ctx, fmt.Sprintf("nats://127.0.0.1:%d", port), "late", slog.New(slog.DiscardHandler))
			res <- result{b, err}
		}()

		srv, err := bus.StartServer(bus.ServerConfig{StoreDir: t.TempDir(), Port: port})
		if err != nil {
			t.Fatalf("StartServer: %v", err)
		}
		defer srv.Shutdown()
		r := <-res
		if r.err != nil {
			t.Fatalf("Connect: %v", r.err)
		}
		defer r.b.Close()
		if err := r.b.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("close twice", func(t *testing.T) {
		_, url := testutil.NATS(t)
		b, err := bus.Connect(context.Background(), url, "close", nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		b.Close()
		if !b.Conn().IsClosed() {
			t.Fatal("connection still open after Close")
		}
	})
}
