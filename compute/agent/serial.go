package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
)

// serialHub bridges serial console sessions between the bus and the ptys
// of this host's domains (see compute/work/serial.go for the protocol).
// One session per instance: a new one replaces the old, as only one reader
// can own a pty's output.
type serialHub struct {
	a   *Agent
	ctx context.Context // ends every session when the agent stops
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*serialSession // instance UUID → session
}

// serialSession is one attached console.
type serialSession struct {
	id     string
	end    func(reason string)
	closed chan struct{}
}

// startSerial serves serial console opens on the agent's bus service; the
// sessions run under ctx and in the agent's wait group.
func (a *Agent) startSerial(ctx context.Context) error {
	h := &serialHub{a: a, ctx: ctx, log: a.log.With("component", "serial"), sessions: map[string]*serialSession{}}
	return a.console.AddEndpoint("serial-open", bus.Handle(h.open), micro.WithEndpointSubject(work.SerialOpenSubject(a.cfg.Host)))
}

func (h *serialHub) open(ctx context.Context, req work.SerialOpen) (work.SerialOpened, error) {
	if err := bus.ValidToken(req.Session); err != nil {
		return work.SerialOpened{}, bus.Errorf(bus.CodeBadRequest, "session: %v", err)
	}
	_, ok, err := h.a.mine(ctx, req.InstanceUUID)
	if err != nil {
		return work.SerialOpened{}, err
	}
	if !ok {
		return work.SerialOpened{}, bus.Errorf(bus.CodeNotFound, "instance %s is not on this host", req.InstanceUUID)
	}
	drv, ok := h.a.d.Driver.(hypervisor.SerialConsoler)
	if !ok {
		return work.SerialOpened{}, bus.Errorf(bus.CodeUnavailable, "the hypervisor driver has no serial console")
	}
	pty, err := drv.OpenSerial(ctx, req.InstanceUUID)
	switch {
	case errors.Is(err, hypervisor.ErrNotFound), errors.Is(err, hypervisor.ErrNoSerial):
		return work.SerialOpened{}, bus.Errorf(bus.CodeConflict, "instance %s: %v", req.InstanceUUID, err)
	case err != nil:
		return work.SerialOpened{}, err
	}
	if err := h.attach(req, pty); err != nil {
		pty.Close()
		return work.SerialOpened{}, err
	}
	return work.SerialOpened{Session: req.Session}, nil
}

// attach starts bridging pty and the session's subjects; it listens on the
// input subject before it returns, so the caller's first bytes are not lost.
func (h *serialHub) attach(req work.SerialOpen, pty io.ReadWriteCloser) error {
	nc := h.a.d.Bus.Conn()
	host := h.a.cfg.Host
	out := work.SerialOutSubject(host, req.Session)
	log := h.log.With("server_id", req.InstanceUUID, "session", req.Session)

	var heard atomic.Int64
	heard.Store(time.Now().UnixNano())
	s := &serialSession{id: req.Session, closed: make(chan struct{})}
	var once sync.Once
	var sub atomic.Pointer[nats.Subscription]
	s.end = func(reason string) {
		once.Do(func() {
			if in := sub.Load(); in != nil {
				_ = in.Unsubscribe()
			}
			pty.Close()
			if reason != "" {
				msg := nats.NewMsg(out)
				msg.Header.Set(work.SerialHeaderClose, reason)
				_ = nc.PublishMsg(msg)
			}
			h.mu.Lock()
			if h.sessions[req.InstanceUUID] == s {
				delete(h.sessions, req.InstanceUUID)
			}
			h.mu.Unlock()
			close(s.closed)
			log.Info("serial console detached", "reason", reason)
		})
	}
	in, err := nc.Subscribe(work.SerialInSubject(host, req.Session), func(m *nats.Msg) {
		heard.Store(time.Now().UnixNano())
		if m.Header.Get(work.SerialHeaderClose) != "" {
			s.end("")
			return
		}
		if len(m.Data) > 0 {
			if _, err := pty.Write(m.Data); err != nil {
				s.end("write to the serial port: " + err.Error())
			}
		}
	})
	if err != nil {
		return err
	}
	sub.Store(in)
	if err := nc.Flush(); err != nil {
		_ = in.Unsubscribe()
		return err
	}

	h.mu.Lock()
	if h.ctx.Err() != nil {
		h.mu.Unlock()
		_ = in.Unsubscribe()
		return bus.Errorf(bus.CodeUnavailable, "the compute agent is stopping")
	}
	old := h.sessions[req.InstanceUUID]
	h.sessions[req.InstanceUUID] = s
	h.a.wg.Add(2)
	h.mu.Unlock()
	if old != nil {
		old.end("replaced by a newer console session")
	}
	log.Info("serial console attached")

	// Guest output to the bus until the pty fails (the domain stopped) or
	// the session ends.
	go func() {
		defer h.a.wg.Done()
		buf := make([]byte, work.SerialChunk)
		for {
			n, err := pty.Read(buf)
			if n > 0 {
				if perr := nc.Publish(out, append([]byte(nil), buf[:n]...)); perr != nil {
					s.end("publish: " + perr.Error())
					return
				}
			}
			if err != nil {
				s.end("serial port closed")
				return
			}
		}
	}()
	// Keepalives, the idle timeout and the agent's stop.
	go func() {
		defer h.a.wg.Done()
		tick := time.NewTicker(work.SerialKeepalive)
		defer tick.Stop()
		for {
			select {
			case <-s.closed:
				return
			case <-h.ctx.Done():
				s.end("the compute agent is stopping")
				return
			case <-tick.C:
				if time.Since(time.Unix(0, heard.Load())) > work.SerialIdleTimeout {
					s.end("idle: the console proxy went away")
					return
				}
				_ = nc.Publish(out, nil)
			}
		}
	}()
	return nil
}
