package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// serialDriver adds an interactive serial port to the fake hypervisor: the
// test holds the guest's end of a pipe.
type serialDriver struct {
	*fakeDriver
	mu     sync.Mutex
	guests map[string]net.Conn
}

func (d *serialDriver) OpenSerial(ctx context.Context, id string) (io.ReadWriteCloser, error) {
	st, err := d.State(ctx, id)
	if err != nil {
		return nil, err
	}
	if st != hypervisor.Running {
		return nil, hypervisor.ErrNoSerial
	}
	host, guest := net.Pipe()
	d.mu.Lock()
	d.guests[id] = guest
	d.mu.Unlock()
	return host, nil
}

func (d *serialDriver) guest(id string) net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.guests[id]
}

// TestSerialSessions opens serial sessions through the agent's bus
// endpoint: output and input flow both ways, a newer session replaces an
// older one, a close from the proxy detaches, and unknown or stopped
// instances are refused.
func TestSerialSessions(t *testing.T) {
	f := newFixture(t)
	drv := &serialDriver{fakeDriver: f.drv, guests: map[string]net.Conn{}}
	f.a.d.Driver = drv
	b := testutil.Bus(t)
	f.a.d.Bus = b
	var err error
	if f.a.console, err = bus.AddService(b, micro.Config{Name: "test-console", Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	t.Cleanup(func() { cancel(); f.a.wg.Wait() })
	if err := f.a.startSerial(ctx); err != nil {
		t.Fatal(err)
	}
	in := f.instance("img")
	if err := drv.Define(f.ctx, hypervisor.InstanceSpec{UUID: in.UUID, Name: "instance-" + in.UUID, VCPUs: 1, MemoryMB: 64,
		VirtType: hypervisor.VirtQEMU, ConsoleLog: "/dev/null"}); err != nil {
		t.Fatal(err)
	}
	nc := b.Conn()
	open := func(id, session string) (chan *nats.Msg, error) {
		t.Helper()
		out := make(chan *nats.Msg, 16)
		sub, err := nc.ChanSubscribe(work.SerialOutSubject("h1", session), out)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		_, err = bus.Request[work.SerialOpen, work.SerialOpened](f.ctx, b, work.SerialOpenSubject("h1"),
			work.SerialOpen{InstanceUUID: id, Session: session})
		return out, err
	}
	next := func(out chan *nats.Msg) *nats.Msg {
		t.Helper()
		for {
			select {
			case m := <-out:
				if len(m.Data) > 0 || m.Header.Get(work.SerialHeaderClose) != "" {
					return m
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no message from the agent")
			}
		}
	}

	if _, err := open(in.UUID, "s0"); !bus.HasCode(err, bus.CodeConflict) {
		t.Fatalf("open on a stopped domain: %v, want conflict", err)
	}
	if _, err := open("9b1ee1a7-8f1b-4bd4-9f73-8d8b2b43a5a2", "s0"); !bus.HasCode(err, bus.CodeNotFound) {
		t.Fatalf("open of an unknown instance: %v, want not found", err)
	}
	if _, err := open(in.UUID, "bad.session"); !bus.HasCode(err, bus.CodeBadRequest) {
		t.Fatalf("open with a dotted session: %v, want bad request", err)
	}
	if err := drv.Start(f.ctx, in.UUID); err != nil {
		t.Fatal(err)
	}
	out1, err := open(in.UUID, "s1")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	guest := drv.guest(in.UUID)
	go func() { _, _ = guest.Write([]byte("login: ")) }()
	if m := next(out1); string(m.Data) != "login: " {
		t.Fatalf("output = %q", m.Data)
	}
	if err := nc.Publish(work.SerialInSubject("h1", "s1"), []byte("root\r")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	_ = guest.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := guest.Read(buf); err != nil || string(buf[:n]) != "root\r" {
		t.Fatalf("guest read %q, %v", buf[:n], err)
	}

	// A second session replaces the first, which is told why.
	out2, err := open(in.UUID, "s2")
	if err != nil {
		t.Fatal(err)
	}
	if m := next(out1); !strings.Contains(m.Header.Get(work.SerialHeaderClose), "replaced") {
		t.Fatalf("first session: %+v, want a close saying it was replaced", m)
	}
	if _, err := guest.Read(buf); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("old serial end still open: %v", err)
	}
	guest2 := drv.guest(in.UUID)
	go func() { _, _ = guest2.Write([]byte("# ")) }()
	if m := next(out2); string(m.Data) != "# " {
		t.Fatalf("second session output = %q", m.Data)
	}

	// The proxy closes: the agent lets go of the serial port.
	msg := nats.NewMsg(work.SerialInSubject("h1", "s2"))
	msg.Header.Set(work.SerialHeaderClose, "websocket closed")
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	_ = guest2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := guest2.Read(buf); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("serial end still open after the proxy closed: %v", err)
	}
}
