package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// DefaultPingTimeout bounds Ping when its context has no deadline.
	DefaultPingTimeout = 2 * time.Second
	// reconnectMin and reconnectMax bound the reconnect backoff.
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
	// drainTimeout bounds how long Close waits for in-flight work.
	drainTimeout = 10 * time.Second
	// dialTimeout bounds one connection attempt.
	dialTimeout = 2 * time.Second
)

// Bus is a kumo process's connection to NATS and JetStream.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	log    *slog.Logger
	closed chan struct{}
	once   sync.Once
}

// Connect dials url, retrying with backoff until ctx is done, and returns a
// Bus that reconnects forever after any later disconnect.
func Connect(ctx context.Context, url string, name string, log *slog.Logger) (*Bus, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "bus", "nats_name", name)
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(backoff),
		nats.DrainTimeout(drainTimeout),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "error", err)
				return
			}
			log.Info("disconnected from NATS")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				log.Error("NATS async error", "subject", sub.Subject, "error", err)
				return
			}
			log.Error("NATS async error", "error", err)
		}),
	}

	var (
		nc     *nats.Conn
		closed chan struct{}
	)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bus: connect %s: %w", url, err)
		}
		// Each attempt gets its own closed channel so a failed attempt can
		// never close the channel of the connection that succeeds.
		closed = make(chan struct{})
		var closeOnce sync.Once
		done := closed
		o := append(opts[:len(opts):len(opts)], nats.ClosedHandler(func(*nats.Conn) {
			closeOnce.Do(func() { close(done) })
		}))
		dial := dialTimeout
		if dl, ok := ctx.Deadline(); ok {
			dial = min(dial, max(time.Until(dl), time.Millisecond))
		}
		o = append(o, nats.Timeout(dial))
		var err error
		nc, err = nats.Connect(url, o...)
		if err == nil {
			break
		}
		var nerr net.Error
		if !errors.Is(err, nats.ErrNoServers) && !errors.As(err, &nerr) {
			return nil, fmt.Errorf("bus: connect %s: %w", url, err)
		}
		log.Warn("NATS not reachable yet, retrying", "url", url, "attempt", attempt, "error", err)
		t := time.NewTimer(backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("bus: connect %s: %w (last error: %v)", url, ctx.Err(), err)
		case <-t.C:
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted())
	return &Bus{nc: nc, js: js, log: log, closed: closed}, nil
}

// backoff returns the delay before reconnect attempt n: exponential from
// reconnectMin to reconnectMax with jitter so agents do not stampede.
func backoff(attempt int) time.Duration {
	d := reconnectMin << min(max(attempt-1, 0), 10)
	d = min(d, reconnectMax)
	return d/2 + rand.N(d/2+1)
}

// Conn returns the underlying NATS connection.
func (b *Bus) Conn() *nats.Conn {
	return b.nc
}

// JetStream returns the JetStream context bound to this connection.
func (b *Bus) JetStream() jetstream.JetStream {
	return b.js
}

// Log returns the bus's logger.
func (b *Bus) Log() *slog.Logger {
	return b.log
}

// Ping checks the server answers a round trip within ctx (or
// DefaultPingTimeout); it fails at once while disconnected.
func (b *Bus) Ping(ctx context.Context) error {
	if st := b.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("bus: ping: connection is %s", st)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultPingTimeout)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: ping: %w", err)
	}
	return nil
}

// Close drains subscriptions and pending publishes, then closes the
// connection; it is safe to call more than once.
func (b *Bus) Close() {
	b.once.Do(func() {
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		select {
		case <-b.closed:
		case <-time.After(drainTimeout + time.Second):
			b.nc.Close()
		}
		b.log.Info("NATS connection closed")
	})
}
