package datapath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netlink"
)

// Config configures a Datapath.
type Config struct {
	// Owner tags everything this Datapath creates (link aliases
	// "kumo:<owner>", nftables table names, state directory) so that two
	// owners on one host (an agent and a test) never remove each other's
	// objects. Default "agent". At most 8 characters of [a-z0-9].
	Owner string
	// StateDir holds dnsmasq's files and namespace ownership markers.
	// Default /run/kumo/datapath/<owner>.
	StateDir string
	// Dnsmasq is the dnsmasq binary; default "dnsmasq".
	Dnsmasq string
	// Metadata answers metadata requests arriving at 169.254.169.254:80 in
	// DHCP namespaces that ask for it; nil refuses them with 503.
	Metadata MetadataHandler
	Log      *slog.Logger
}

// Datapath converges this host's links, namespaces, dnsmasq processes and
// nftables rules to a State. Its methods are safe for concurrent use;
// Applies are serialised.
type Datapath struct {
	cfg   Config
	log   *slog.Logger
	alias string

	mu        sync.Mutex
	applied   map[string]string  // nftables table key -> last ruleset applied
	portRules map[string]string  // port ID -> rules last applied
	taps      map[string]Port    // tap name -> port, of the last State
	nets      map[string]Network // converged networks of the last State
	root      *netlink.Handle    // root namespace netlink handle, during Apply
	metadata  *metadataServers
	children  sync.Map // pid -> chan struct{} closed when our dnsmasq child is reaped
}

// New returns a Datapath. It touches nothing on the host until Apply.
func New(cfg Config) (*Datapath, error) {
	if cfg.Owner == "" {
		cfg.Owner = "agent"
	}
	if len(cfg.Owner) > 8 {
		return nil, fmt.Errorf("datapath owner %q longer than 8 characters", cfg.Owner)
	}
	for _, c := range cfg.Owner {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return nil, fmt.Errorf("datapath owner %q: only a-z and 0-9", cfg.Owner)
		}
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join("/run/kumo/datapath", cfg.Owner)
	}
	if cfg.Dnsmasq == "" {
		cfg.Dnsmasq = "dnsmasq"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	d := &Datapath{
		cfg:       cfg,
		log:       cfg.Log.With("component", "datapath", "owner", cfg.Owner),
		alias:     "kumo:" + cfg.Owner,
		applied:   map[string]string{},
		portRules: map[string]string{},
	}
	d.metadata = newMetadataServers(d)
	return d, nil
}

// ObjectError is the failure of one object of the State; Apply removed
// what it had half-built of it and goes on with the others.
type ObjectError struct {
	Kind string // "network", "dhcp", "router", "port", "host"
	ID   string
	Err  error
}

func (e *ObjectError) Error() string { return fmt.Sprintf("%s %s: %v", e.Kind, e.ID, e.Err) }
func (e *ObjectError) Unwrap() error { return e.Err }

// Apply makes the host match st: it creates and corrects what st lists and
// removes everything of this owner that st does not list. It is idempotent:
// a second Apply of the same State changes nothing on the host. The error
// joins one *ObjectError per object that could not be converged; such an
// object is left absent rather than half configured, and the next Apply
// retries it.
func (d *Datapath) Apply(ctx context.Context, st State) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.MkdirAll(d.cfg.StateDir, 0o755); err != nil {
		return err
	}
	root, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer root.Close()
	d.root = root
	var errs []error
	fail := func(kind, id string, err error) {
		d.log.Warn("datapath object failed", "kind", kind, "id", id, "err", err)
		errs = append(errs, &ObjectError{Kind: kind, ID: id, Err: err})
	}
	if err := d.ensureHost(st); err != nil {
		fail("host", "", err)
	}

	nets := map[string]Network{}
	for _, n := range st.Networks {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.ensureNetwork(n); err != nil {
			fail("network", n.ID, err)
			continue
		}
		nets[n.ID] = n
	}
	keepNS := map[string]bool{}
	for _, s := range st.DHCP {
		if err := ctx.Err(); err != nil {
			return err
		}
		keepNS[DHCPNamespace(s.NetworkID)] = true
		if _, ok := nets[s.NetworkID]; !ok {
			fail("dhcp", s.NetworkID, fmt.Errorf("network %s is not converged", s.NetworkID))
			d.removeDHCP(s.NetworkID)
			continue
		}
		if err := d.ensureDHCP(s); err != nil {
			fail("dhcp", s.NetworkID, err)
			d.removeDHCP(s.NetworkID)
		}
	}
	for _, r := range st.Routers {
		if err := ctx.Err(); err != nil {
			return err
		}
		keepNS[RouterNamespace(r.ID)] = true
		if err := d.ensureRouter(r, nets); err != nil {
			fail("router", r.ID, err)
			d.removeRouter(r.ID)
		}
	}
	d.taps = map[string]Port{}
	d.nets = nets
	for _, p := range st.Ports {
		d.taps[p.device()] = p
		if err := d.plugPort(p, nets); err != nil {
			fail("port", p.ID, err)
		}
	}
	if err := d.applyHostRules(st, nets); err != nil {
		fail("host", "nftables", err)
	}
	if err := d.removeStale(st, nets, keepNS); err != nil {
		fail("host", "cleanup", err)
	}
	return errors.Join(errs...)
}

// Close stops the metadata listeners. It leaves the datapath in place:
// packets keep flowing while the agent restarts.
func (d *Datapath) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.metadata.stopAll()
}
