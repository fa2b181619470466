package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// minMarkerTTL is the shortest time the server accepts for keeping expiry
// markers.
const minMarkerTTL = time.Second

// Heartbeats is the heartbeat KV bucket: each host writes its info (T, as
// JSON) under its name, and an entry not refreshed within the TTL is gone.
type Heartbeats[T any] struct {
	kv  jetstream.KeyValue
	ttl time.Duration
	log *slog.Logger
}

// NewHeartbeats creates or updates the kumo_heartbeats bucket with the given
// TTL; the TTL is bucket-wide, so every process must pass the same value.
func NewHeartbeats[T any](ctx context.Context, b *Bus, ttl time.Duration) (*Heartbeats[T], error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("bus: heartbeats: ttl must be positive, got %s", ttl)
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      HeartbeatBucket,
		Description: "host heartbeats and capacity",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.MemoryStorage,
		// Expiry leaves a marker so watchers learn a host went silent.
		LimitMarkerTTL: max(ttl, minMarkerTTL),
	})
	if err != nil {
		return nil, fmt.Errorf("bus: heartbeats bucket: %w", err)
	}
	return &Heartbeats[T]{kv: kv, ttl: ttl, log: b.log.With("bucket", HeartbeatBucket)}, nil
}

// TTL returns how long a heartbeat stays alive.
func (h *Heartbeats[T]) TTL() time.Duration {
	return h.ttl
}

// Beat records that host is alive with the given info.
func (h *Heartbeats[T]) Beat(ctx context.Context, host string, info T) error {
	if err := validKey(host); err != nil {
		return err
	}
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("bus: heartbeat %s: encode: %w", host, err)
	}
	if _, err := h.kv.Put(ctx, host, data); err != nil {
		return fmt.Errorf("bus: heartbeat %s: %w", host, err)
	}
	return nil
}

// Forget removes host's heartbeat at once, for a clean shutdown.
func (h *Heartbeats[T]) Forget(ctx context.Context, host string) error {
	if err := validKey(host); err != nil {
		return err
	}
	if err := h.kv.Delete(ctx, host); err != nil {
		return fmt.Errorf("bus: forget heartbeat %s: %w", host, err)
	}
	return nil
}

// Alive returns the info of every host whose last heartbeat is within the TTL.
func (h *Heartbeats[T]) Alive(ctx context.Context) (map[string]T, error) {
	lister, err := h.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: list heartbeats: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	alive := make(map[string]T, len(keys))
	now := time.Now()
	for _, k := range keys {
		e, err := h.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // expired between listing and reading
		}
		if err != nil {
			return nil, fmt.Errorf("bus: read heartbeat %s: %w", k, err)
		}
		// The server expires entries on a timer; do not report one that is
		// already past its TTL.
		if now.Sub(e.Created()) > h.ttl {
			continue
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			h.log.Warn("skipping malformed heartbeat", "host", k, "error", err)
			continue
		}
		alive[k] = v
	}
	return alive, nil
}

// Watch calls fn, one at a time, with each host's current heartbeat and then
// every change: alive is false when a host's heartbeat expires or is
// forgotten. The watch ends when ctx is cancelled or stop is called; stop
// waits for a running fn.
func (h *Heartbeats[T]) Watch(ctx context.Context, fn func(host string, info T, alive bool)) (stop func(), err error) {
	runCtx, cancel := context.WithCancel(ctx)
	w, err := h.kv.WatchAll(runCtx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bus: watch heartbeats: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-runCtx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue // end of the initial values
				}
				var v T
				if e.Operation() != jetstream.KeyValuePut {
					fn(e.Key(), v, false)
					continue
				}
				if err := json.Unmarshal(e.Value(), &v); err != nil {
					h.log.Warn("skipping malformed heartbeat", "host", e.Key(), "error", err)
					continue
				}
				fn(e.Key(), v, true)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}, nil
}

// validKey checks host is usable as a KV key.
func validKey(host string) error {
	if host == "" {
		return errors.New("bus: empty host name")
	}
	for _, r := range host {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '=' || r == '.' || r == '/'
		if !ok {
			return fmt.Errorf("bus: invalid host name %q", host)
		}
	}
	if host[0] == '.' || host[len(host)-1] == '.' {
		return fmt.Errorf("bus: invalid host name %q", host)
	}
	return nil
}
