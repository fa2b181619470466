package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

type capacity struct {
	VCPUs int `json:"vcpus"`
}

// aliveLog records the last liveness Watch reported per host.
type aliveLog struct {
	mu    sync.Mutex
	state map[string]bool
}

func (l *aliveLog) set(host string, _ capacity, alive bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == nil {
		l.state = map[string]bool{}
	}
	l.state[host] = alive
}

func (l *aliveLog) get(host string) (alive, seen bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	alive, seen = l.state[host]
	return alive, seen
}

func (l *aliveLog) wait(t testing.TB, host string, want bool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, func() error {
		alive, seen := l.get(host)
		if !seen || alive != want {
			return fmt.Errorf("watch: %s alive=%v seen=%v, want alive=%v", host, alive, seen, want)
		}
		return nil
	})
}

func TestHeartbeatsExpire(t *testing.T) {
	b := testutil.Bus(t)
	ctx := context.Background()
	hb, err := bus.NewHeartbeats[capacity](ctx, b, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	alive, err := hb.Alive(ctx)
	if err != nil || len(alive) != 0 {
		t.Fatalf("Alive on empty bucket = %v, %v; want empty", alive, err)
	}

	var watched aliveLog
	stop, err := hb.Watch(ctx, watched.set)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	for host, cpus := range map[string]int{"host1": 8, "host2": 16} {
		if err := hb.Beat(ctx, host, capacity{VCPUs: cpus}); err != nil {
			t.Fatal(err)
		}
	}
	alive, err = hb.Alive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(alive) != 2 || alive["host1"].VCPUs != 8 || alive["host2"].VCPUs != 16 {
		t.Fatalf("Alive = %v, want host1 with 8 and host2 with 16 vCPUs", alive)
	}
	watched.wait(t, "host2", true)

	// host1 keeps beating, host2 goes silent and must expire.
	testutil.WaitFor(t, 10*time.Second, func() error {
		if err := hb.Beat(ctx, "host1", capacity{VCPUs: 8}); err != nil {
			return err
		}
		alive, err := hb.Alive(ctx)
		if err != nil {
			return err
		}
		if _, ok := alive["host1"]; !ok {
			t.Fatalf("host1 missing from Alive right after beating: %v", alive)
		}
		if _, ok := alive["host2"]; ok {
			return errors.New("host2 still alive")
		}
		return nil
	})
	watched.wait(t, "host2", false)
	if alive, _ := watched.get("host1"); !alive {
		t.Fatal("watch reported host1 dead while it was beating")
	}
}

func TestHeartbeatsForget(t *testing.T) {
	b := testutil.Bus(t)
	ctx := context.Background()
	hb, err := bus.NewHeartbeats[capacity](ctx, b, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var watched aliveLog
	stop, err := hb.Watch(ctx, watched.set)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	if err := hb.Beat(ctx, "host1", capacity{VCPUs: 4}); err != nil {
		t.Fatal(err)
	}
	watched.wait(t, "host1", true)
	if err := hb.Forget(ctx, "host1"); err != nil {
		t.Fatal(err)
	}
	alive, err := hb.Alive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(alive) != 0 {
		t.Fatalf("Alive after Forget = %v, want empty", alive)
	}
	watched.wait(t, "host1", false)
}

func TestHeartbeatsInvalid(t *testing.T) {
	b := testutil.Bus(t)
	ctx := context.Background()
	if _, err := bus.NewHeartbeats[capacity](ctx, b, 0); err == nil {
		t.Fatal("NewHeartbeats accepted a zero TTL")
	}
	hb, err := bus.NewHeartbeats[capacity](ctx, b, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"", "bad host", "host*", ".host", "host>"} {
		t.Run(host, func(t *testing.T) {
			if err := hb.Beat(ctx, host, capacity{}); err == nil {
				t.Fatalf("Beat(%q) succeeded", host)
			}
		})
	}
}
