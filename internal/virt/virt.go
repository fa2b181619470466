// Package virt owns this host's connection to libvirtd and the decision
// between KVM and TCG (software emulation) for guests. It reports its health
// for /readyz. It must not define, start or change domains: that is the
// compute agent's hypervisor driver.
package virt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"libvirt.org/go/libvirt"
)

// Domain types a guest can use.
const (
	TypeKVM  = "kvm"
	TypeQEMU = "qemu"
)

// Config says where libvirtd is and how the domain type is chosen.
type Config struct {
	URI string
	// Forced overrides the probe ("kvm" or "qemu").
	Forced string
	// ProbeFile holds deploy/host-setup.sh's decision.
	ProbeFile string
}

// Decision is the chosen domain type and why.
type Decision struct {
	Type   string `json:"virt_type"`
	Reason string `json:"reason"`
}

// Decide picks kvm or qemu: a forced value wins, then the host probe's file;
// without either, TCG is the safe choice because /dev/kvm may exist and
// still hang guests.
func Decide(cfg Config) Decision {
	if cfg.Forced != "" {
		return Decision{Type: cfg.Forced, Reason: "set by --virt-type"}
	}
	if raw, err := os.ReadFile(cfg.ProbeFile); err == nil {
		switch v := strings.TrimSpace(string(raw)); v {
		case TypeKVM:
			if _, err := os.Stat("/dev/kvm"); err != nil {
				return Decision{Type: TypeQEMU, Reason: "probe said kvm but /dev/kvm is gone"}
			}
			return Decision{Type: TypeKVM, Reason: "host probe ran a KVM guest (" + cfg.ProbeFile + ")"}
		case TypeQEMU:
			return Decision{Type: TypeQEMU, Reason: "host probe found KVM unusable (" + cfg.ProbeFile + ")"}
		}
	}
	return Decision{Type: TypeQEMU, Reason: "no host probe result at " + cfg.ProbeFile + "; using TCG"}
}

// Conn is a libvirt connection that reconnects when libvirtd goes away.
type Conn struct {
	cfg      Config
	log      *slog.Logger
	decision Decision

	mu   sync.Mutex
	conn *libvirt.Connect
}

// Open decides the domain type and tries to connect. A libvirtd that is down
// is not fatal: Check reports it and reconnects later.
func Open(cfg Config, log *slog.Logger) *Conn {
	c := &Conn{cfg: cfg, log: log, decision: Decide(cfg)}
	log.Info("virt type decided", "virt_type", c.decision.Type, "reason", c.decision.Reason)
	if _, err := c.connect(); err != nil {
		log.Warn("libvirt not reachable yet", "uri", cfg.URI, "error", err)
	}
	return c
}

// Decision returns the chosen domain type.
func (c *Conn) Decision() Decision { return c.decision }

// connect returns a live connection, opening a new one if needed.
func (c *Conn) connect() (*libvirt.Connect, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		if alive, err := c.conn.IsAlive(); err == nil && alive {
			return c.conn, nil
		}
		c.conn.Close()
		c.conn = nil
	}
	conn, err := libvirt.NewConnect(c.cfg.URI)
	if err != nil {
		return nil, fmt.Errorf("libvirt %s: %s", c.cfg.URI, libvirtMessage(err))
	}
	c.conn = conn
	return conn, nil
}

// Check is the /readyz probe: libvirtd answers and the decision is shown.
func (c *Conn) Check(ctx context.Context) (map[string]any, error) {
	detail := map[string]any{"uri": c.cfg.URI, "virt_type": c.decision.Type, "reason": c.decision.Reason}
	conn, err := c.connect()
	if err != nil {
		return detail, err
	}
	v, err := conn.GetLibVersion()
	if err != nil {
		c.drop()
		return detail, fmt.Errorf("libvirt %s: %s", c.cfg.URI, libvirtMessage(err))
	}
	detail["libvirt_version"] = fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
	return detail, ctx.Err()
}

func (c *Conn) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// Close closes the connection; it is safe to call twice.
func (c *Conn) Close() { c.drop() }

// libvirtMessage keeps libvirt's message and drops its code soup.
func libvirtMessage(err error) string {
	var le libvirt.Error
	if errors.As(err, &le) && le.Message != "" {
		return le.Message
	}
	return err.Error()
}
