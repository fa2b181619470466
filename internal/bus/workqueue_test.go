package bus_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

type job struct {
	ID string `json:"id"`
}

// recorder collects the jobs a handler saw.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) add(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, id)
	return len(r.seen)
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// waitIDs waits until the recorder has seen exactly want, in any order.
func (r *recorder) waitIDs(t testing.TB, want ...string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() error {
		got := r.ids()
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			return fmt.Errorf("handled %v, want %v", got, w)
		}
		return nil
	})
}

// Subjects of compute work for host1; TestSubjects checks the helpers build them.
const (
	host1Filter = "kumo.compute.v1.host.host1.*"
	host1Spawn  = "kumo.compute.v1.host.host1.spawn"
)

func newQueue(t testing.TB, b *bus.Bus) *bus.WorkQueue {
	t.Helper()
	wq, err := bus.NewWorkQueue(context.Background(), b, bus.WorkStream, []string{bus.HostWorkStreamSubject("compute")})
	if err != nil {
		t.Fatalf("NewWorkQueue: %v", err)
	}
	return wq
}

func publish(t testing.TB, wq *bus.WorkQueue, subject string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := bus.Publish(context.Background(), wq, subject, job{ID: id}); err != nil {
			t.Fatalf("Publish %s: %v", id, err)
		}
	}
}

func waitPending(t testing.TB, wq *bus.WorkQueue, want uint64) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() error {
		n, err := wq.Pending(context.Background())
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("%d messages pending, want %d", n, want)
		}
		return nil
	})
}

func TestWorkQueue(t *testing.T) {
	tests := []struct {
		name string
		// fails says whether delivery n (from 1) of a job fails.
		fails      func(delivery int) bool
		panics     bool
		opts       []bus.ConsumeOption
		wantCalls  int
		wantPassed bool
	}{
		{name: "delivered and acked", fails: func(int) bool { return false }, wantCalls: 1, wantPassed: true},
		{name: "error redelivers", fails: func(n int) bool { return n < 3 }, wantCalls: 3, wantPassed: true},
		{name: "panic redelivers", fails: func(n int) bool { return n < 2 }, panics: true, wantCalls: 2, wantPassed: true},
		{
			name:      "gives up after max deliver",
			fails:     func(int) bool { return true },
			opts:      []bus.ConsumeOption{bus.WithMaxDeliver(4)},
			wantCalls: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wq := newQueue(t, testutil.Bus(t))
			var calls atomic.Int32
			var passed atomic.Bool
			opts := append([]bus.ConsumeOption{bus.WithRetryDelay(10 * time.Millisecond)}, tt.opts...)
			stop, err := bus.Consume(context.Background(), wq, "host1", host1Filter, func(ctx context.Context, j job) error {
				n := int(calls.Add(1))
				if tt.fails(n) {
					if tt.panics {
						panic(fmt.Sprintf("attempt %d panicked", n))
					}
					return fmt.Errorf("attempt %d failed", n)
				}
				passed.Store(true)
				return nil
			}, opts...)
			if err != nil {
				t.Fatalf("Consume: %v", err)
			}
			defer stop()

			publish(t, wq, host1Spawn, "a")
			// Whether acked or given up on, the message leaves the queue,
			// so no further delivery can happen after this.
			waitPending(t, wq, 0)
			stop()
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Fatalf("handler called %d times, want %d", got, tt.wantCalls)
			}
			if passed.Load() != tt.wantPassed {
				t.Fatalf("handler succeeded = %v, want %v", passed.Load(), tt.wantPassed)
			}
		})
	}
}

func TestWorkQueueMalformedIsTerminated(t *testing.T) {
	b := testutil.Bus(t)
	wq := newQueue(t, b)
	var rec recorder
	stop, err := bus.Consume(context.Background(), wq, "host1", host1Filter, func(ctx context.Context, j job) error {
		rec.add(j.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	if _, err := b.JetStream().Publish(context.Background(), host1Spawn, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	publish(t, wq, host1Spawn, "good")
	waitPending(t, wq, 0)
	rec.waitIDs(t, "good")
}

func TestWorkQueueFilterAndDedupe(t *testing.T) {
	b := testutil.Bus(t)
	wq := newQueue(t, b)
	ctx := context.Background()

	for range 2 {
		if err := bus.Publish(ctx, wq, host1Spawn, job{ID: "once"}, jetstream.WithMsgID("spawn-once")); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, wq, bus.HostWorkSubject("compute", "host2", "spawn"), "other-host")
	waitPending(t, wq, 2)

	var rec recorder
	stop, err := bus.Consume(ctx, wq, "host1", host1Filter, func(ctx context.Context, j job) error {
		rec.add(j.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	rec.waitIDs(t, "once")
	waitPending(t, wq, 1) // host2's work is untouched

	if err := bus.Publish(ctx, wq, bus.EventSubject("compute", "server", "created"), job{}); err == nil {
		t.Fatal("Publish outside the queue's subjects succeeded")
	}
}

func TestWorkQueueDurableResumes(t *testing.T) {
	b := testutil.Bus(t)
	wq := newQueue(t, b)
	var rec recorder
	handler := func(ctx context.Context, j job) error {
		rec.add(j.ID)
		return nil
	}

	stop, err := bus.Consume(context.Background(), wq, "host1", host1Filter, handler)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, wq, host1Spawn, "before")
	rec.waitIDs(t, "before")
	stop()

	publish(t, wq, host1Spawn, "while-1", "while-2", "while-3")
	waitPending(t, wq, 3)

	stop, err = bus.Consume(context.Background(), wq, "host1", host1Filter, handler)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	rec.waitIDs(t, "before", "while-1", "while-2", "while-3")
	waitPending(t, wq, 0)
}

func TestWorkQueueStopWaitsAndHandsBack(t *testing.T) {
	b := testutil.Bus(t)
	wq := newQueue(t, b)
	started := make(chan struct{})
	var finished atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := bus.Consume(ctx, wq, "host1", host1Filter, func(ctx context.Context, j job) error {
		close(started)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // winding down in-flight work
		finished.Store(true)
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, wq, host1Spawn, "long")
	<-started
	cancel()
	stop()
	if !finished.Load() {
		t.Fatal("stop returned before the in-flight handler finished")
	}

	// The interrupted job was handed back, not lost.
	var rec recorder
	stop, err = bus.Consume(context.Background(), wq, "host1", host1Filter, func(ctx context.Context, j job) error {
		rec.add(j.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	rec.waitIDs(t, "long")
	waitPending(t, wq, 0)
}

func TestWorkQueueSurvivesServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := bus.StartServer(bus.ServerConfig{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown() }()
	b := testutil.Connect(t, srv.ClientURL())
	wq := newQueue(t, b)
	publish(t, wq, host1Spawn, "a", "b")

	var rec recorder
	stop, err := bus.Consume(context.Background(), wq, "host1", host1Filter, func(ctx context.Context, j job) error {
		rec.add(j.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	rec.waitIDs(t, "a", "b")

	port := portOf(t, srv.ClientURL())
	restart := func() {
		t.Helper()
		srv.Shutdown()
		srv, err = bus.StartServer(bus.ServerConfig{StoreDir: dir, Port: port})
		if err != nil {
			t.Fatalf("restart server: %v", err)
		}
		testutil.WaitFor(t, 15*time.Second, func() error { return b.Ping(context.Background()) })
	}

	// Work published while no consumer runs stays queued across a server
	// restart on the same store, and the bus reconnects by itself.
	stop()
	publish(t, wq, host1Spawn, "c", "d")
	restart()
	waitPending(t, wq, 2)

	stop, err = bus.Consume(context.Background(), wq, "host1", host1Filter, func(ctx context.Context, j job) error {
		rec.add(j.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	rec.waitIDs(t, "a", "b", "c", "d")
	waitPending(t, wq, 0)

	// A consumer running across a restart keeps pulling afterwards.
	restart()
	publish(t, wq, host1Spawn, "e")
	rec.waitIDs(t, "a", "b", "c", "d", "e")
	waitPending(t, wq, 0)
}

func TestConsumeBadOptions(t *testing.T) {
	wq := newQueue(t, testutil.Bus(t))
	_, err := bus.Consume(context.Background(), wq, "host1", host1Filter, func(context.Context, job) error { return nil }, bus.WithMaxDeliver(0))
	if err == nil {
		t.Fatal("Consume accepted MaxDeliver 0")
	}
}

func TestStreamsCoexist(t *testing.T) {
	// JetStream refuses streams whose subjects overlap, so the work, events
	// and KV streams must all fit on one server.
	b := testutil.Bus(t)
	ctx := context.Background()
	if _, err := bus.EnsureEventsStream(ctx, b); err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, svc := range []string{"compute", "network", "volume"} {
		subjects = append(subjects, bus.HostWorkStreamSubject(svc))
	}
	if _, err := bus.NewWorkQueue(ctx, b, bus.WorkStream, subjects); err != nil {
		t.Fatalf("work stream beside events stream: %v", err)
	}
	if _, err := bus.NewHeartbeats[capacity](ctx, b, time.Minute); err != nil {
		t.Fatalf("heartbeat bucket beside streams: %v", err)
	}
	// Recreating with the same config is idempotent.
	if _, err := bus.EnsureEventsStream(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.NewWorkQueue(ctx, b, bus.WorkStream, subjects); err != nil {
		t.Fatal(err)
	}
}
