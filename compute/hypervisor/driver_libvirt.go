package hypervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/kumo-cloud/kumo/internal/virt"
)

// DefaultURI is the libvirt connection a compute agent uses unless told
// otherwise (the same default as internal/config).
const DefaultURI = "qemu:///system"

// consoleTailBytes bounds how much of the console log ConsoleOutput reads.
const consoleTailBytes = 1 << 20

// pollInterval is how often state changes the guest makes are polled for.
const pollInterval = 200 * time.Millisecond

// detachRetry is how long a live unplug waits for the guest before asking
// it again.
const detachRetry = 5 * time.Second

// LibvirtConfig configures the libvirt driver.
type LibvirtConfig struct {
	// Config is internal/virt's: the URI (DefaultURI when empty) and how the
	// domain type is decided.
	virt.Config
	// InstancesDir is the directory instance disks live in; Stats reports
	// its file system as the host's local disk.
	InstancesDir string
	// SoftRebootTimeout is how long a soft reboot waits for the guest to
	// power off after the ACPI button (default 60 s).
	SoftRebootTimeout time.Duration
	// DetachTimeout is how long DetachDisk waits for the guest to release a
	// hot-plugged disk (default 30 s).
	DetachTimeout time.Duration
}

// Libvirt is the Driver on libvirt/QEMU.
type Libvirt struct {
	cfg      LibvirtConfig
	log      *slog.Logger
	decision virt.Decision
	conn     *connHolder

	// calls owns the goroutines of libvirt calls that may outlive their
	// caller's context; Close waits for them.
	calls sync.WaitGroup
}

var _ Driver = (*Libvirt)(nil)

// NewLibvirt returns the libvirt driver. It connects lazily, so a libvirtd
// that is not up yet is not an error here.
func NewLibvirt(cfg LibvirtConfig, log *slog.Logger) *Libvirt {
	if cfg.URI == "" {
		cfg.URI = DefaultURI
	}
	if cfg.SoftRebootTimeout <= 0 {
		cfg.SoftRebootTimeout = 60 * time.Second
	}
	if cfg.DetachTimeout <= 0 {
		cfg.DetachTimeout = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Libvirt{
		cfg:      cfg,
		log:      log.With("component", "hypervisor", "uri", cfg.URI),
		decision: virt.Decide(cfg.Config),
		conn:     &connHolder{uri: cfg.URI},
	}
}

// VirtType is the domain type guests on this host get (kvm or qemu), for
// InstanceSpec.VirtType.
func (l *Libvirt) VirtType() string { return l.decision.Type }

// Close waits for outstanding libvirt calls and closes the connection; it is
// safe to call twice.
func (l *Libvirt) Close() {
	l.calls.Wait()
	l.conn.close()
}

// connHolder is a libvirt connection that reconnects when libvirtd went away.
type connHolder struct {
	uri  string
	mu   sync.Mutex
	conn *libvirt.Connect
}

func (h *connHolder) get() (*libvirt.Connect, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn != nil {
		if alive, err := h.conn.IsAlive(); err == nil && alive {
			return h.conn, nil
		}
		h.conn.Close()
		h.conn = nil
	}
	// Connections deliver domain events only if the event loop was
	// registered before they were opened.
	if err := startEventLoop(); err != nil {
		return nil, fmt.Errorf("libvirt event loop: %s", message(err))
	}
	c, err := libvirt.NewConnect(h.uri)
	if err != nil {
		return nil, fmt.Errorf("libvirt %s: %s", h.uri, message(err))
	}
	h.conn = c
	return c, nil
}

func (h *connHolder) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
}

// message keeps libvirt's message and drops its code soup.
func message(err error) string {
	var le libvirt.Error
	if errors.As(err, &le) && le.Message != "" {
		return le.Message
	}
	return err.Error()
}

// isCode reports whether err is a libvirt error with one of the codes.
func isCode(err error, codes ...libvirt.ErrorNumber) bool {
	var le libvirt.Error
	if !errors.As(err, &le) {
		return false
	}
	for _, c := range codes {
		if le.Code == c {
			return true
		}
	}
	return false
}

// wrap turns a libvirt error into one that names the operation, with
// ErrNotFound for a missing domain.
func wrap(op, uuid string, err error) error {
	if err == nil {
		return nil
	}
	if isCode(err, libvirt.ERR_NO_DOMAIN) || errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s %s: %w", op, uuid, ErrNotFound)
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, uuid, err)
	}
	return fmt.Errorf("%s %s: %s", op, uuid, message(err))
}

// call runs fn on its own goroutine and returns when it finishes or ctx is
// done, whichever is first; it is for libvirt calls that may hang (starting
// or restoring QEMU, saving memory, device hot-plug). An abandoned call
// keeps running to completion; Close waits for it.
func (l *Libvirt) call(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	l.calls.Add(1)
	go func() {
		defer l.calls.Done()
		done <- fn()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withDomain looks the domain up and runs fn with it. When mayHang is set fn
// runs under call, which then owns the domain handle.
func (l *Libvirt) withDomain(ctx context.Context, op, uuid string, mayHang bool, fn func(*libvirt.Domain) error) error {
	if err := ctx.Err(); err != nil {
		return wrap(op, uuid, err)
	}
	conn, err := l.conn.get()
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, uuid, err)
	}
	dom, err := conn.LookupDomainByUUIDString(uuid)
	if err != nil {
		return wrap(op, uuid, err)
	}
	run := func() error {
		defer dom.Free()
		return fn(dom)
	}
	if mayHang {
		return wrap(op, uuid, l.call(ctx, run))
	}
	return wrap(op, uuid, run())
}

// domainState is a domain's libvirt state plus whether it has a managed
// save image.
func domainState(dom *libvirt.Domain) (PowerState, libvirt.DomainState, error) {
	st, _, err := dom.GetState()
	if err != nil {
		return NoState, st, err
	}
	ps := powerStateOf(st)
	if st == libvirt.DOMAIN_SHUTOFF {
		if saved, err := dom.HasManagedSaveImage(0); err == nil && saved {
			ps = Suspended
		}
	}
	return ps, st, nil
}

// powerStateOf maps libvirt's domain states to Nova's power states, as
// Nova's libvirt driver does.
func powerStateOf(st libvirt.DomainState) PowerState {
	switch st {
	case libvirt.DOMAIN_RUNNING, libvirt.DOMAIN_BLOCKED:
		return Running
	case libvirt.DOMAIN_PAUSED:
		return Paused
	case libvirt.DOMAIN_SHUTDOWN, libvirt.DOMAIN_SHUTOFF:
		return Shutdown
	case libvirt.DOMAIN_CRASHED:
		return Crashed
	case libvirt.DOMAIN_PMSUSPENDED:
		return Suspended
	}
	return NoState
}

func active(st libvirt.DomainState) bool {
	return st != libvirt.DOMAIN_SHUTOFF && st != libvirt.DOMAIN_NOSTATE
}

// Define implements Driver.
func (l *Libvirt) Define(ctx context.Context, spec InstanceSpec) error {
	xmlDoc, err := DomainXML(spec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(spec.ConsoleLog), 0o750); err != nil {
		return fmt.Errorf("define %s: console log directory: %w", spec.UUID, err)
	}
	if err := ctx.Err(); err != nil {
		return wrap("define", spec.UUID, err)
	}
	conn, err := l.conn.get()
	if err != nil {
		return fmt.Errorf("define %s: %w", spec.UUID, err)
	}
	// DefineXML replaces the persistent definition of a domain with the same
	// UUID and name, which makes Define idempotent.
	dom, err := conn.DomainDefineXMLFlags(xmlDoc, libvirt.DOMAIN_DEFINE_VALIDATE)
	if err != nil {
		return wrap("define", spec.UUID, err)
	}
	dom.Free()
	l.log.Debug("domain defined", "instance_uuid", spec.UUID, "domain", spec.Name)
	return nil
}

// Start implements Driver.
func (l *Libvirt) Start(ctx context.Context, uuid string) error {
	return l.withDomain(ctx, "start", uuid, true, func(dom *libvirt.Domain) error {
		_, st, err := domainState(dom)
		if err != nil {
			return err
		}
		if st == libvirt.DOMAIN_SHUTDOWN {
			// The guest is shutting down or has shut down and QEMU is
			// still going away: a start must not take it for running
			// (the power sync may have recorded it off already).
			if err := destroy(dom); err != nil {
				return err
			}
			if err := l.waitState(ctx, dom, 30*time.Second, "power off", func(st libvirt.DomainState) bool { return !active(st) }); err != nil {
				return err
			}
		} else if active(st) {
			return nil
		}
		return dom.Create()
	})
}

// Shutdown implements Driver.
func (l *Libvirt) Shutdown(ctx context.Context, uuid string, timeout time.Duration) error {
	return l.withDomain(ctx, "shutdown", uuid, false, func(dom *libvirt.Domain) error {
		return l.shutdown(ctx, dom, timeout)
	})
}

func (l *Libvirt) shutdown(ctx context.Context, dom *libvirt.Domain, timeout time.Duration) error {
	_, st, err := domainState(dom)
	if err != nil {
		return err
	}
	if !active(st) {
		return nil
	}
	if err := dom.ShutdownFlags(libvirt.DOMAIN_SHUTDOWN_ACPI_POWER_BTN); err != nil {
		if isCode(err, libvirt.ERR_OPERATION_INVALID) {
			// It stopped between the check and the button.
			return nil
		}
		return err
	}
	return l.waitState(ctx, dom, timeout, "power off after the ACPI power button", func(st libvirt.DomainState) bool {
		return !active(st)
	})
}

// waitState polls the domain's state until done says so, or fails with
// ErrTimeout after timeout.
func (l *Libvirt) waitState(ctx context.Context, dom *libvirt.Domain, timeout time.Duration, what string, done func(libvirt.DomainState) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		st, _, err := dom.GetState()
		if err != nil {
			return err
		}
		if done(st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%w: no %s within %s", ErrTimeout, what, timeout)
		case <-tick.C:
		}
	}
}

// Destroy implements Driver.
func (l *Libvirt) Destroy(ctx context.Context, uuid string) error {
	return l.withDomain(ctx, "destroy", uuid, true, destroy)
}

// destroy powers a domain off; one that is not running is fine.
func destroy(dom *libvirt.Domain) error {
	if err := dom.Destroy(); err != nil && !isCode(err, libvirt.ERR_OPERATION_INVALID) {
		return err
	}
	return nil
}

// Undefine implements Driver.
func (l *Libvirt) Undefine(ctx context.Context, uuid string) error {
	err := l.withDomain(ctx, "undefine", uuid, true, func(dom *libvirt.Domain) error {
		// A running domain would only become transient: power it off so
		// that nothing of it is left.
		if err := destroy(dom); err != nil {
			return err
		}
		// Drivers that lack a feature (libvirt's test driver has no NVRAM
		// or checkpoints) refuse its flag: drop flags until one is taken.
		var err error
		for _, flags := range []libvirt.DomainUndefineFlagsValues{
			libvirt.DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
				libvirt.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | libvirt.DOMAIN_UNDEFINE_NVRAM,
			libvirt.DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
		} {
			if err = dom.UndefineFlags(flags); !isCode(err, libvirt.ERR_INVALID_ARG, libvirt.ERR_NO_SUPPORT) {
				break
			}
		}
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Reboot implements Driver.
func (l *Libvirt) Reboot(ctx context.Context, uuid string, hard bool) error {
	if !hard {
		// Nova's soft reboot: a clean shutdown and a fresh start, so the
		// result is observable (a guest that ignores ACPI gives ErrTimeout
		// and the caller falls back to hard).
		if err := l.Shutdown(ctx, uuid, l.cfg.SoftRebootTimeout); err != nil {
			return fmt.Errorf("soft reboot: %w", err)
		}
		if err := l.Start(ctx, uuid); err != nil {
			return fmt.Errorf("soft reboot: %w", err)
		}
		return nil
	}
	return l.withDomain(ctx, "hard reboot", uuid, true, func(dom *libvirt.Domain) error {
		if err := destroy(dom); err != nil {
			return err
		}
		// A hard reboot boots afresh, even a suspended guest.
		if saved, err := dom.HasManagedSaveImage(0); err == nil && saved {
			if err := dom.ManagedSaveRemove(0); err != nil {
				return err
			}
		}
		return dom.Create()
	})
}

// Pause implements Driver.
func (l *Libvirt) Pause(ctx context.Context, uuid string) error {
	return l.withDomain(ctx, "pause", uuid, false, func(dom *libvirt.Domain) error {
		_, st, err := domainState(dom)
		if err != nil || st == libvirt.DOMAIN_PAUSED {
			return err
		}
		return dom.Suspend()
	})
}

// Unpause implements Driver.
func (l *Libvirt) Unpause(ctx context.Context, uuid string) error {
	return l.withDomain(ctx, "unpause", uuid, false, func(dom *libvirt.Domain) error {
		_, st, err := domainState(dom)
		if err != nil || st != libvirt.DOMAIN_PAUSED {
			return err
		}
		return dom.Resume()
	})
}

// Suspend implements Driver.
func (l *Libvirt) Suspend(ctx context.Context, uuid string) error {
	return l.withDomain(ctx, "suspend", uuid, true, func(dom *libvirt.Domain) error {
		ps, st, err := domainState(dom)
		if err != nil || ps == Suspended {
			return err
		}
		if !active(st) {
			return errors.New("domain is not running")
		}
		return dom.ManagedSave(0)
	})
}

// Resume implements Driver.
func (l *Libvirt) Resume(ctx context.Context, uuid string) error {
	return l.withDomain(ctx, "resume", uuid, true, func(dom *libvirt.Domain) error {
		ps, st, err := domainState(dom)
		if err != nil || active(st) {
			return err
		}
		if ps != Suspended {
			return errors.New("domain is not suspended")
		}
		// Create restores from the managed save image and removes it.
		return dom.Create()
	})
}

// State implements Driver.
func (l *Libvirt) State(ctx context.Context, uuid string) (PowerState, error) {
	var ps PowerState
	err := l.withDomain(ctx, "state", uuid, false, func(dom *libvirt.Domain) error {
		var err error
		ps, _, err = domainState(dom)
		return err
	})
	return ps, err
}

// List implements Driver.
func (l *Libvirt) List(ctx context.Context) ([]DomainInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := l.conn.get()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	doms, err := conn.ListAllDomains(0)
	if err != nil {
		return nil, fmt.Errorf("list: %s", message(err))
	}
	defer func() {
		for i := range doms {
			doms[i].Free()
		}
	}()
	out := make([]DomainInfo, 0, len(doms))
	for i := range doms {
		dom := &doms[i]
		uuid, err := dom.GetUUIDString()
		if err != nil {
			continue // undefined while we looked
		}
		name, err := dom.GetName()
		if err != nil {
			continue
		}
		ps, _, err := domainState(dom)
		if err != nil {
			continue
		}
		_, merr := dom.GetMetadata(libvirt.DOMAIN_METADATA_ELEMENT, MetadataNamespace, libvirt.DOMAIN_AFFECT_CURRENT)
		out = append(out, DomainInfo{UUID: uuid, Name: name, State: ps, Managed: merr == nil})
	}
	return out, nil
}

// ConsoleOutput implements Driver.
func (l *Libvirt) ConsoleOutput(ctx context.Context, uuid string, lines int) (string, error) {
	var path string
	err := l.withDomain(ctx, "console output", uuid, false, func(dom *libvirt.Domain) error {
		raw, err := dom.GetXMLDesc(0)
		if err != nil {
			return err
		}
		var d libvirtxml.Domain
		if err := d.Unmarshal(raw); err != nil {
			return err
		}
		path = consoleLogOf(&d)
		if path == "" {
			return errors.New("domain has no console log")
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	out, err := tail(path, lines, consoleTailBytes)
	if err != nil {
		return "", fmt.Errorf("console output %s: %w", uuid, err)
	}
	return out, nil
}

// tail returns the last n lines (all when n <= 0) of at most the last max
// bytes of a file; a file that does not exist yet is empty.
func tail(path string, n int, max int64) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	buf, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return "", err
	}
	if off > 0 {
		// Drop the partial first line.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	if n <= 0 {
		return string(buf), nil
	}
	end := len(buf)
	if end > 0 && buf[end-1] == '\n' {
		end--
	}
	start := end
	for count := 0; start > 0; start-- {
		if buf[start-1] == '\n' {
			count++
			if count == n {
				break
			}
		}
	}
	return string(buf[start:]), nil
}

// AttachDisk implements Driver.
func (l *Libvirt) AttachDisk(ctx context.Context, uuid string, disk DiskSpec) error {
	x, err := diskDeviceXML(disk)
	if err != nil {
		return err
	}
	return l.withDomain(ctx, "attach disk", uuid, true, func(dom *libvirt.Domain) error {
		_, st, err := domainState(dom)
		if err != nil {
			return err
		}
		inConfig, err := hasDisk(dom, libvirt.DOMAIN_XML_INACTIVE, disk.Target)
		if err != nil {
			return err
		}
		live := active(st)
		inLive := false
		if live {
			if inLive, err = hasDisk(dom, 0, disk.Target); err != nil {
				return err
			}
		}
		flags := libvirt.DomainDeviceModifyFlags(0)
		if !inConfig {
			flags |= libvirt.DOMAIN_DEVICE_MODIFY_CONFIG
		}
		if live && !inLive {
			flags |= libvirt.DOMAIN_DEVICE_MODIFY_LIVE
		}
		if flags == 0 {
			return nil // attached already
		}
		return dom.AttachDeviceFlags(x, flags)
	})
}

// DetachDisk implements Driver.
func (l *Libvirt) DetachDisk(ctx context.Context, uuid string, disk DiskSpec) error {
	x, err := diskDeviceXML(disk)
	if err != nil {
		return err
	}
	return l.withDomain(ctx, "detach disk", uuid, true, func(dom *libvirt.Domain) error {
		_, st, err := domainState(dom)
		if err != nil {
			return err
		}
		inConfig, err := hasDisk(dom, libvirt.DOMAIN_XML_INACTIVE, disk.Target)
		if err != nil {
			return err
		}
		if inConfig {
			if err := dom.DetachDeviceFlags(x, libvirt.DOMAIN_DEVICE_MODIFY_CONFIG); err != nil {
				return err
			}
		}
		if !active(st) {
			return nil
		}
		if inLive, err := hasDisk(dom, 0, disk.Target); err != nil || !inLive {
			return err
		}
		if err := dom.DetachDeviceFlags(x, libvirt.DOMAIN_DEVICE_MODIFY_LIVE); err != nil {
			return err
		}
		// Live unplug needs the guest's cooperation; libvirt returns before
		// the device is gone when the guest is slow. A guest that was not
		// ready for the request (still booting, its hot-plug driver not
		// loaded) drops it, so it is asked again now and then, as Nova's
		// libvirt driver retries a detach.
		wctx, cancel := context.WithTimeout(ctx, l.cfg.DetachTimeout)
		defer cancel()
		tick := time.NewTicker(pollInterval)
		defer tick.Stop()
		asked := time.Now()
		for {
			in, err := hasDisk(dom, 0, disk.Target)
			if err != nil || !in {
				return err
			}
			if time.Since(asked) >= detachRetry {
				asked = time.Now()
				if err := dom.DetachDeviceFlags(x, libvirt.DOMAIN_DEVICE_MODIFY_LIVE); err != nil {
					l.log.Debug("detach disk again", "uuid", uuid, "target", disk.Target, "error", message(err))
				}
			}
			select {
			case <-wctx.Done():
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("%w: guest did not release %s within %s", ErrTimeout, disk.Target, l.cfg.DetachTimeout)
			case <-tick.C:
			}
		}
	})
}

func diskDeviceXML(d DiskSpec) (string, error) {
	disk, err := diskXML(d)
	if err != nil {
		return "", err
	}
	return disk.Marshal()
}

// hasDisk reports whether the domain's live (flags 0) or persistent
// (DOMAIN_XML_INACTIVE) definition has a disk with that target.
func hasDisk(dom *libvirt.Domain, flags libvirt.DomainXMLFlags, target string) (bool, error) {
	raw, err := dom.GetXMLDesc(flags)
	if err != nil {
		return false, err
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(raw); err != nil {
		return false, err
	}
	if d.Devices == nil {
		return false, nil
	}
	for _, disk := range d.Devices.Disks {
		if disk.Target != nil && disk.Target.Dev == target {
			return true, nil
		}
	}
	return false, nil
}

// Stats implements Driver.
func (l *Libvirt) Stats(ctx context.Context) (HostStats, error) {
	if err := ctx.Err(); err != nil {
		return HostStats{}, err
	}
	conn, err := l.conn.get()
	if err != nil {
		return HostStats{}, fmt.Errorf("stats: %w", err)
	}
	hs := HostStats{HypervisorType: "QEMU", VirtType: l.decision.Type}
	node, err := conn.GetNodeInfo()
	if err != nil {
		return HostStats{}, fmt.Errorf("stats: node info: %s", message(err))
	}
	hs.VCPUs = int(node.Cpus)
	hs.MemoryMB = int(node.Memory / 1024)
	hs.CPUModel = node.Model
	if free, err := conn.GetFreeMemory(); err == nil {
		hs.MemoryMBUsed = hs.MemoryMB - int(free/(1<<20))
	}
	if v, err := conn.GetVersion(); err == nil {
		hs.HypervisorVersion = int(v)
	}
	if h, err := conn.GetHostname(); err == nil {
		hs.Hostname = h
	}
	doms, err := conn.ListAllDomains(libvirt.CONNECT_LIST_DOMAINS_ACTIVE)
	if err != nil {
		return HostStats{}, fmt.Errorf("stats: list domains: %s", message(err))
	}
	for i := range doms {
		if info, err := doms[i].GetInfo(); err == nil {
			hs.VCPUsUsed += int(info.NrVirtCpu)
			hs.RunningVMs++
		}
		doms[i].Free()
	}
	dir := l.cfg.InstancesDir
	if dir == "" {
		dir = "/"
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return HostStats{}, fmt.Errorf("stats: %s: %w", dir, err)
	}
	const gib = 1 << 30
	hs.DiskGB = int(fs.Blocks * uint64(fs.Bsize) / gib)
	hs.DiskGBUsed = hs.DiskGB - int(fs.Bavail*uint64(fs.Bsize)/gib)
	return hs, nil
}
