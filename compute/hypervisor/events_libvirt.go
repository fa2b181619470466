package hypervisor

import (
	"context"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirt"
)

// eventBuffer is how many events may wait for a slow reader before new
// ones are dropped (the periodic sync catches up on those).
const eventBuffer = 256

// eventReconnect is how often the event watcher checks that its connection
// is alive and re-registers after libvirtd restarted.
const eventReconnect = 2 * time.Second

// eventLoop is libvirt's default event loop. libvirt keeps one per process
// and it must be registered before the first connection is opened, so it
// is the one process-wide state of this package: registered once (by
// connHolder.get) and run by one goroutine for the life of the process.
var eventLoop struct {
	once sync.Once
	err  error
}

// startEventLoop registers libvirt's default event loop implementation and
// runs it; connections opened afterwards can deliver domain events.
func startEventLoop() error {
	eventLoop.once.Do(func() {
		if eventLoop.err = libvirt.EventRegisterDefaultImpl(); eventLoop.err != nil {
			return
		}
		go func() {
			for {
				if err := libvirt.EventRunDefaultImpl(); err != nil {
					time.Sleep(time.Second)
				}
			}
		}()
	})
	return eventLoop.err
}

var lifecycleKinds = map[libvirt.DomainEventType]string{
	libvirt.DOMAIN_EVENT_DEFINED:     "defined",
	libvirt.DOMAIN_EVENT_UNDEFINED:   "undefined",
	libvirt.DOMAIN_EVENT_STARTED:     "started",
	libvirt.DOMAIN_EVENT_SUSPENDED:   "suspended",
	libvirt.DOMAIN_EVENT_RESUMED:     "resumed",
	libvirt.DOMAIN_EVENT_STOPPED:     "stopped",
	libvirt.DOMAIN_EVENT_SHUTDOWN:    "shutdown",
	libvirt.DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
	libvirt.DOMAIN_EVENT_CRASHED:     "crashed",
}

// Events implements Driver with libvirt's domain lifecycle events. The
// watcher re-registers on a fresh connection when libvirtd goes away; the
// calls group owns its goroutine, so Close waits for it once ctx is done.
func (l *Libvirt) Events(ctx context.Context) (<-chan DomainEvent, error) {
	if err := startEventLoop(); err != nil {
		return nil, wrap("events", "", err)
	}
	out := make(chan DomainEvent, eventBuffer)
	// mu and closed keep a callback that the event loop runs late from
	// sending on the closed channel.
	var mu sync.Mutex
	closed := false
	cb := func(_ *libvirt.Connect, d *libvirt.Domain, ev *libvirt.DomainEventLifecycle) {
		id, err := d.GetUUIDString()
		if err != nil {
			return
		}
		kind, ok := lifecycleKinds[ev.Event]
		if !ok {
			kind = "other"
		}
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		select {
		case out <- DomainEvent{UUID: strings.ToLower(id), Kind: kind}:
		default:
			l.log.Warn("domain event dropped: reader is slow", "domain_uuid", id, "event", kind)
		}
	}
	// The watcher has a connection of its own, so that reconnects of the
	// shared one never pull the registration from under it.
	own := &connHolder{uri: l.cfg.URI}
	l.calls.Add(1)
	go func() {
		defer l.calls.Done()
		defer func() {
			mu.Lock()
			closed = true
			close(out)
			mu.Unlock()
		}()
		defer own.close()
		tick := time.NewTicker(eventReconnect)
		defer tick.Stop()
		var conn *libvirt.Connect
		cbID := -1
		deregister := func() {
			if conn != nil && cbID >= 0 {
				_ = conn.DomainEventDeregister(cbID)
			}
			conn, cbID = nil, -1
		}
		defer deregister()
		for {
			if conn != nil {
				if alive, err := conn.IsAlive(); err != nil || !alive {
					deregister()
				}
			}
			if conn == nil {
				if c, err := own.get(); err == nil {
					if id, err := c.DomainEventLifecycleRegister(nil, cb); err == nil {
						conn, cbID = c, id
					} else {
						l.log.Warn("register domain events", "error", message(err))
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return out, nil
}
