// Package config owns kumod's configuration: its fields, defaults, the
// KUMO_* environment variables and command-line flags that set them, and
// their validation. It must not start anything.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is the configuration of one kumod process.
type Config struct {
	// StateDir holds the private PostgreSQL cluster, the JetStream store,
	// images, disks, logs and the generated clouds.yaml.
	StateDir string
	// DatabaseURL points at an external PostgreSQL; empty starts a private one.
	DatabaseURL string
	// NATSURL points at an external NATS cluster; empty embeds a server.
	NATSURL string
	// NATSListen is where the embedded NATS server listens.
	NATSListen string
	// Listen is the HTTP listen address of the API.
	Listen string
	// LibvirtURI is the libvirt connection of the compute agent.
	LibvirtURI string
	// VirtType forces the libvirt domain type ("kvm" or "qemu"); empty means
	// use the host probe's decision.
	VirtType string
	// VirtTypeFile is where deploy/host-setup.sh records its KVM probe.
	VirtTypeFile string
	// Host names this node in the cluster.
	Host string
	// PhysicalNetworks maps flat networks' physical networks to this
	// host's interfaces for the network agent: "name=interface" or
	// "name=hostonly" (a host-only bridge carrying the subnet's gateway
	// address, NATed to the uplink), comma-separated.
	PhysicalNetworks string
	// PolicyFile overrides default policy rules (oslo.policy YAML or JSON).
	PolicyFile string
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string
	LogFormat string
	// PublicURL is the base URL clients reach this kumo on, as written into
	// the catalog and clouds.yaml; empty means http://<listen>.
	PublicURL string
	// SchedulerWeighing is how the scheduler orders hosts that fit:
	// "spread" (most free resources first, Nova's default) or "pack"
	// (fullest first, Nova's negative weight multipliers).
	SchedulerWeighing string
	// ImageURL is the image service's endpoint the compute API uses;
	// empty means <public url>/image (all-in-one).
	ImageURL string
	// TokenTTL is the lifetime of issued tokens; zero means identity's
	// default (one hour). It must stay under the events stream's 7-day
	// retention, which carries revocations.
	TokenTTL time.Duration
	// LockoutAttempts locks a user out for LockoutDuration after that many
	// failed logins in a row; 0 disables lockout.
	LockoutAttempts int
	LockoutDuration time.Duration
	// Allocation sizes the compute agent's placement inventories, with
	// Nova's option names.
	Allocation Allocation
}

// Allocation is how much of the host the compute agent offers to
// placement: Nova's [DEFAULT] cpu/ram/disk_allocation_ratio and
// reserved_host_* options.
type Allocation struct {
	CPURatio  float64
	RAMRatio  float64
	DiskRatio float64
	// ReservedMemoryMB is held back for the host; negative means
	// min(512, a quarter of the host's memory).
	ReservedMemoryMB int
	ReservedCPUs     int
	ReservedDiskMB   int
}

// DefaultAllocation is kumo's default: Nova's historic ratios (16, 1.5,
// 1.0) and a reserve of min(512 MB, a quarter) of the host's memory.
func DefaultAllocation() Allocation {
	return Allocation{CPURatio: 16, RAMRatio: 1.5, DiskRatio: 1, ReservedMemoryMB: -1}
}

// Default returns the built-in defaults, before environment and flags.
func Default() Config {
	host, _ := os.Hostname()
	return Config{
		StateDir:          ".kumo",
		NATSListen:        "127.0.0.1:4222",
		Listen:            "127.0.0.1:8080",
		LibvirtURI:        "qemu:///system",
		VirtTypeFile:      "/var/lib/kumo/virt-type",
		Host:              host,
		PhysicalNetworks:  "public=hostonly",
		SchedulerWeighing: "spread",
		LogLevel:          "info",
		LogFormat:         "text",
		Allocation:        DefaultAllocation(),
	}
}

// field binds a config field to its flag and environment variable.
type field struct {
	ptr   *string
	flag  string
	env   string
	usage string
}

func (c *Config) fields() []field {
	return []field{
		{&c.StateDir, "state-dir", "KUMO_STATE_DIR", "state directory"},
		{&c.DatabaseURL, "database-url", "KUMO_DATABASE_URL", "external PostgreSQL URL (default: a private cluster in the state dir)"},
		{&c.NATSURL, "nats-url", "KUMO_NATS_URL", "external NATS URL (default: an embedded server)"},
		{&c.NATSListen, "nats-listen", "KUMO_NATS_LISTEN", "listen address of the embedded NATS server"},
		{&c.Listen, "listen", "KUMO_LISTEN", "HTTP listen address"},
		{&c.LibvirtURI, "libvirt-uri", "KUMO_LIBVIRT_URI", "libvirt connection URI"},
		{&c.VirtType, "virt-type", "KUMO_VIRT_TYPE", "libvirt domain type, kvm or qemu (default: the host probe's decision)"},
		{&c.VirtTypeFile, "virt-type-file", "KUMO_VIRT_TYPE_FILE", "where the host probe recorded kvm or qemu"},
		{&c.Host, "host", "KUMO_HOST", "name of this node"},
		{&c.PhysicalNetworks, "physical-networks", "KUMO_PHYSICAL_NETWORKS", "physical networks of this host's network agent: name=interface or name=hostonly, comma-separated"},
		{&c.PublicURL, "public-url", "KUMO_PUBLIC_URL", "base URL clients use, for the catalog (default: http://<listen>)"},
		{&c.SchedulerWeighing, "scheduler-weighing", "KUMO_SCHEDULER_WEIGHING", "spread (emptiest host first) or pack (fullest first)"},
		{&c.ImageURL, "image-url", "KUMO_IMAGE_URL", "image service endpoint the compute API uses (default: <public url>/image)"},
		{&c.PolicyFile, "policy-file", "KUMO_POLICY_FILE", "policy override file (oslo.policy YAML or JSON)"},
		{&c.LogLevel, "log-level", "KUMO_LOG_LEVEL", "debug, info, warn or error"},
		{&c.LogFormat, "log-format", "KUMO_LOG_FORMAT", "text or json"},
	}
}

// Bind registers the flags on fs, with defaults taken from the environment
// when the KUMO_* variable is set.
func (c *Config) Bind(fs *pflag.FlagSet) {
	for _, f := range c.fields() {
		def := *f.ptr
		if v, ok := os.LookupEnv(f.env); ok {
			def = v
		}
		fs.StringVar(f.ptr, f.flag, def, f.usage+" ["+f.env+"]")
	}
	fs.DurationVar(&c.TokenTTL, "token-ttl", envDuration("KUMO_TOKEN_TTL", c.TokenTTL), "lifetime of issued tokens (default 1h) [KUMO_TOKEN_TTL]")
	fs.IntVar(&c.LockoutAttempts, "lockout-attempts", c.LockoutAttempts, "lock a user out after this many failed logins in a row (0: never)")
	fs.DurationVar(&c.LockoutDuration, "lockout-duration", 5*time.Minute, "how long a locked-out user stays locked")
	a := &c.Allocation
	fs.Float64Var(&a.CPURatio, "cpu-allocation-ratio", envFloat("KUMO_CPU_ALLOCATION_RATIO", a.CPURatio),
		"virtual CPUs offered per host CPU [KUMO_CPU_ALLOCATION_RATIO]")
	fs.Float64Var(&a.RAMRatio, "ram-allocation-ratio", envFloat("KUMO_RAM_ALLOCATION_RATIO", a.RAMRatio),
		"guest memory offered per MB of host memory [KUMO_RAM_ALLOCATION_RATIO]")
	fs.Float64Var(&a.DiskRatio, "disk-allocation-ratio", envFloat("KUMO_DISK_ALLOCATION_RATIO", a.DiskRatio),
		"guest disk offered per GB of the instances file system [KUMO_DISK_ALLOCATION_RATIO]")
	fs.IntVar(&a.ReservedMemoryMB, "reserved-host-memory-mb", envInt("KUMO_RESERVED_HOST_MEMORY_MB", a.ReservedMemoryMB),
		"host memory held back from guests; -1 means min(512, a quarter of it) [KUMO_RESERVED_HOST_MEMORY_MB]")
	fs.IntVar(&a.ReservedCPUs, "reserved-host-cpus", envInt("KUMO_RESERVED_HOST_CPUS", a.ReservedCPUs),
		"host CPUs held back from guests [KUMO_RESERVED_HOST_CPUS]")
	fs.IntVar(&a.ReservedDiskMB, "reserved-host-disk-mb", envInt("KUMO_RESERVED_HOST_DISK_MB", a.ReservedDiskMB),
		"instances file system space held back from guests [KUMO_RESERVED_HOST_DISK_MB]")
}

// Validate reports the first allocation setting placement would reject.
func (a Allocation) Validate() error {
	for _, r := range []struct {
		flag string
		v    float64
	}{{"--cpu-allocation-ratio", a.CPURatio}, {"--ram-allocation-ratio", a.RAMRatio}, {"--disk-allocation-ratio", a.DiskRatio}} {
		if !(r.v > 0) || r.v > 1e6 {
			return fmt.Errorf("%s %g: must be positive", r.flag, r.v)
		}
	}
	switch {
	case a.ReservedMemoryMB < -1:
		return fmt.Errorf("--reserved-host-memory-mb %d: must be -1 (automatic) or more", a.ReservedMemoryMB)
	case a.ReservedCPUs < 0:
		return fmt.Errorf("--reserved-host-cpus %d: must not be negative", a.ReservedCPUs)
	case a.ReservedDiskMB < 0:
		return fmt.Errorf("--reserved-host-disk-mb %d: must not be negative", a.ReservedDiskMB)
	}
	return nil
}

// Validate checks the configuration and prepares the state directory,
// returning an error that names the problem in one line.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: %v", c.Listen, err)
	}
	if c.NATSURL == "" {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			return fmt.Errorf("--nats-listen %q: %v", c.NATSListen, err)
		}
	}
	switch c.VirtType {
	case "", "kvm", "qemu":
	default:
		return fmt.Errorf("--virt-type %q: must be kvm or qemu", c.VirtType)
	}
	if c.SchedulerWeighing != "spread" && c.SchedulerWeighing != "pack" {
		return fmt.Errorf("--scheduler-weighing %q: must be spread or pack", c.SchedulerWeighing)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: must be text or json", c.LogFormat)
	}
	if c.TokenTTL > 7*24*time.Hour {
		return fmt.Errorf("--token-ttl %s: must be under 7 days, the retention of revocation events", c.TokenTTL)
	}
	if err := c.Allocation.Validate(); err != nil {
		return err
	}
	if c.LockoutAttempts < 0 {
		return fmt.Errorf("--lockout-attempts %d: must not be negative", c.LockoutAttempts)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.TokenTTL < 0 {
		return fmt.Errorf("--token-ttl %s: must not be negative", c.TokenTTL)
	}
	if strings.TrimSpace(c.Host) == "" {
		return errors.New("--host: empty node name")
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return fmt.Errorf("state dir %q: %v", c.StateDir, err)
	}
	c.StateDir = abs
	return checkWritable(abs)
}

// checkWritable creates dir if needed and proves a file can be written in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state dir %s is not writable: %v", dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("state dir %s is not writable: %v", dir, unwrapPath(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// envDuration reads a duration from the environment, or returns def.
func envDuration(key string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(key); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// envFloat reads a number from the environment, or returns def.
func envFloat(key string, def float64) float64 {
	if v, ok := os.LookupEnv(key); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

// envInt reads an integer from the environment, or returns def.
func envInt(key string, def int) int {
	if v, ok := os.LookupEnv(key); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// Path returns a path inside the state directory.
func (c *Config) Path(elem ...string) string {
	return filepath.Join(append([]string{c.StateDir}, elem...)...)
}
