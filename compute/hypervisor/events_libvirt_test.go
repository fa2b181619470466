package hypervisor

import (
	"context"
	"testing"
	"time"
)

// TestLibvirtEvents: starting a domain and destroying it behind the
// driver's back (as virsh destroy does) are reported as lifecycle events,
// and the channel closes when the context ends.
func TestLibvirtEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a VM")
	}
	d := testDriver(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := d.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let the watcher register
	g := newGuest(t, d, nil)
	uuid := g.spec.UUID
	must(t, "Define", d.Define(ctx, g.spec))
	must(t, "Start", d.Start(ctx, uuid))
	wait := func(kind string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.UUID == uuid && ev.Kind == kind {
					return
				}
			case <-timeout:
				t.Fatalf("no %s event for %s", kind, uuid)
			}
		}
	}
	wait("started")
	run(t, "virsh", "-c", DefaultURI, "destroy", g.spec.Name)
	wait("stopped")
	cancel()
	for range events { // drains, then ends: the channel was closed
	}
}
