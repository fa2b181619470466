package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// eventLog collects events a subscriber saw.
type eventLog struct {
	mu     sync.Mutex
	events []bus.Event
}

func (l *eventLog) add(ev bus.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *eventLog) all() []bus.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func TestEvents(t *testing.T) {
	b := testutil.Bus(t)
	ctx := context.Background()
	if _, err := bus.EnsureEventsStream(ctx, b); err != nil {
		t.Fatal(err)
	}
	publish := func(ev bus.Event) {
		t.Helper()
		if err := bus.PublishEvent(ctx, b, ev); err != nil {
			t.Fatalf("PublishEvent: %v", err)
		}
	}

	// Stored before the subscription: must not be delivered.
	publish(bus.Event{Service: "compute", Resource: "server", Action: "created", ResourceID: "old"})

	var computeLog, allLog eventLog
	stopCompute, err := bus.SubscribeEvents(ctx, b, bus.EventFilter("compute", "", ""), computeLog.add)
	if err != nil {
		t.Fatal(err)
	}
	defer stopCompute()
	stopAll, err := bus.SubscribeEvents(ctx, b, "", allLog.add)
	if err != nil {
		t.Fatal(err)
	}
	defer stopAll()

	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	publish(bus.Event{
		ID: "ev-1", Service: "compute", Resource: "server", Action: "created",
		ResourceID: "srv-1", ProjectID: "p-1", Time: created, Payload: json.RawMessage(`{"name":"web"}`),
	})
	publish(bus.Event{Service: "network", Resource: "port", Action: "created", ResourceID: "port-1"})
	publish(bus.Event{Service: "compute", Resource: "server", Action: "deleted", ResourceID: "srv-1"})

	testutil.WaitFor(t, 10*time.Second, func() error {
		if n := len(computeLog.all()); n != 2 {
			return fmt.Errorf("compute subscriber saw %d events, want 2", n)
		}
		if n := len(allLog.all()); n != 3 {
			return fmt.Errorf("catch-all subscriber saw %d events, want 3", n)
		}
		return nil
	})

	got := computeLog.all()
	first := got[0]
	if first.ID != "ev-1" || first.ResourceID != "srv-1" || first.ProjectID != "p-1" ||
		!first.Time.Equal(created) || string(first.Payload) != `{"name":"web"}` {
		t.Fatalf("first event = %+v, want the published one", first)
	}
	second := got[1]
	if second.Action != "deleted" || second.ID == "" || second.Time.IsZero() {
		t.Fatalf("second event = %+v, want a deleted event with ID and time filled in", second)
	}
	if ids := []string{allLog.all()[1].ResourceID}; ids[0] != "port-1" {
		t.Fatalf("catch-all subscriber's second event is %v, want port-1", ids)
	}
}

func TestPublishEvent(t *testing.T) {
	b := testutil.Bus(t)
	ctx := context.Background()
	stream, err := bus.EnsureEventsStream(ctx, b)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		ev      bus.Event
		wantErr bool
	}{
		{name: "ok", ev: bus.Event{ID: "dup", Service: "image", Resource: "image", Action: "uploaded"}},
		{name: "same id is deduplicated", ev: bus.Event{ID: "dup", Service: "image", Resource: "image", Action: "uploaded"}},
		{name: "empty service", ev: bus.Event{Resource: "image", Action: "uploaded"}, wantErr: true},
		{name: "dotted resource", ev: bus.Event{Service: "image", Resource: "a.b", Action: "uploaded"}, wantErr: true},
		{name: "wildcard action", ev: bus.Event{Service: "image", Resource: "image", Action: "*"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := bus.PublishEvent(ctx, b, tt.ev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("PublishEvent error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d events, want 1", info.State.Msgs)
	}
	if got := info.Config.MaxAge; got != bus.EventsMaxAge {
		t.Fatalf("stream max age = %s, want %s", got, bus.EventsMaxAge)
	}
}
