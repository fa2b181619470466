package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Errors a Driver returns; callers test them with errors.Is.
var (
	// ErrNotFound means the hypervisor has no domain with that UUID.
	ErrNotFound = errors.New("hypervisor: domain not found")
	// ErrTimeout means the guest did not do what was asked in time (for
	// example it ignored the ACPI power button).
	ErrTimeout = errors.New("hypervisor: timed out")
	// ErrInvalidSpec means an InstanceSpec or DiskSpec cannot be rendered.
	ErrInvalidSpec = errors.New("hypervisor: invalid spec")
)

// Domain types, as in internal/virt.
const (
	VirtKVM  = "kvm"
	VirtQEMU = "qemu"
)

// Disk formats, buses and devices a DiskSpec may name.
const (
	FormatQCOW2 = "qcow2"
	FormatRaw   = "raw"

	BusVirtio = "virtio"
	BusSATA   = "sata"
	BusIDE    = "ide"
	BusSCSI   = "scsi"

	DeviceDisk  = "disk"
	DeviceCDROM = "cdrom"
)

// DiskSpec is one disk or cdrom of an instance, as storage hands it to
// compute.
type DiskSpec struct {
	// Path is the image file on this host.
	Path string
	// Format is qcow2 or raw.
	Format string
	// Bus is virtio, sata, ide or scsi (virtio-scsi). kumo-tiny's kernel has
	// no AHCI driver, so its config drive must be ide (or scsi).
	Bus string
	// Device is disk or cdrom.
	Device string
	// Target is the guest device name: vda, vdb, hdd, sda...
	Target string
	// Serial is shown to the guest (/dev/disk/by-id), e.g. a volume ID.
	Serial string
	// ReadOnly makes the guest see the disk read-only (cdroms always are).
	ReadOnly bool
	// BootIndex is the device's 1-based boot order; 0 means "not a boot
	// device". When no disk has one, the first hard disk boots.
	BootIndex int
	// Network, when set, is a disk served over the network (a Ceph RBD
	// image, an iSCSI LUN) instead of the file at Path.
	Network *NetworkDisk
	// Cache and IO are QEMU's cache mode (none, writeback, ...) and AIO
	// mode (native, threads); empty leaves libvirt's defaults.
	Cache string
	IO    string
}

// Network disk protocols.
const (
	ProtocolRBD   = "rbd"
	ProtocolISCSI = "iscsi"
)

// NetworkDisk is the source of a disk that is reached over the network.
type NetworkDisk struct {
	// Protocol is rbd or iscsi.
	Protocol string
	// Name is the RBD pool/image or the iSCSI IQN/LUN.
	Name string
	// Hosts are the Ceph monitors or the iSCSI portal.
	Hosts []NetworkHost
	// AuthUsername with SecretType (ceph, iscsi) and SecretUUID name the
	// libvirt secret holding the credentials.
	AuthUsername string
	SecretType   string
	SecretUUID   string
}

// NetworkHost is one host of a network disk.
type NetworkHost struct {
	Name string
	Port string
}

// NICSpec is one network interface of an instance, as network hands it to
// compute: a tap device plugged into a Linux bridge.
type NICSpec struct {
	// MAC is the port's MAC address.
	MAC string
	// Bridge is the Linux bridge the tap joins; it must exist.
	Bridge string
	// TapName is the host-side tap device (tap + port ID prefix), at most 15
	// characters.
	TapName string
	// Model is the guest NIC model; empty means virtio.
	Model string
	// MTU is the tap's and the guest NIC's MTU; 0 leaves the default.
	MTU int
}

// InstanceSpec is everything the hypervisor needs to define a domain.
type InstanceSpec struct {
	// UUID is the Nova instance UUID and becomes the libvirt domain UUID.
	UUID string
	// Name is the libvirt domain name, e.g. instance-<uuid>.
	Name string
	// VCPUs and MemoryMB size the guest.
	VCPUs    int
	MemoryMB int
	// VirtType is kvm or qemu (TCG); see internal/virt.Decide.
	VirtType string
	// Disks in order; the config drive is one of them (a cdrom).
	Disks []DiskSpec
	// NICs in order; none is valid (networks: none).
	NICs []NICSpec
	// ConsoleLog is the file that receives the serial console output.
	ConsoleLog string
	// Metadata is nova-style instance metadata kept in the domain's
	// <metadata> under kumo's namespace (flavor, project, ...).
	Metadata map[string]string
}

// PowerState is a domain's power state with Nova's numeric values, so the
// compute agent can store it in power_state unchanged.
type PowerState int

// Nova's power states (nova/compute/power_state.py).
const (
	NoState   PowerState = 0
	Running   PowerState = 1
	Paused    PowerState = 3
	Shutdown  PowerState = 4
	Crashed   PowerState = 6
	Suspended PowerState = 7
)

// String returns Nova's name for the state.
func (s PowerState) String() string {
	switch s {
	case NoState:
		return "NOSTATE"
	case Running:
		return "RUNNING"
	case Paused:
		return "PAUSED"
	case Shutdown:
		return "SHUTDOWN"
	case Crashed:
		return "CRASHED"
	case Suspended:
		return "SUSPENDED"
	}
	return fmt.Sprintf("PowerState(%d)", int(s))
}

// DomainInfo is one domain the hypervisor knows, for reconciliation.
type DomainInfo struct {
	UUID  string
	Name  string
	State PowerState
	// Managed is true when the domain carries kumo's metadata, i.e. kumo
	// defined it.
	Managed bool
}

// HostStats are the host's capacity and use, in Nova's hypervisor terms.
type HostStats struct {
	Hostname          string
	HypervisorType    string // "QEMU"
	HypervisorVersion int    // Nova's encoding: major*1000000 + minor*1000 + micro
	VirtType          string // kvm or qemu, as decided for this host
	CPUModel          string
	VCPUs             int
	VCPUsUsed         int // vCPUs of running domains
	MemoryMB          int
	MemoryMBUsed      int // host-wide: total minus free
	DiskGB            int // the file system that holds instance disks
	DiskGBUsed        int
	RunningVMs        int
}

// Driver is what the compute agent needs from a hypervisor. Every method is
// idempotent where the description says so, so that a redelivered message
// or a reconcile pass can call it again safely.
type Driver interface {
	// Define creates the domain's persistent definition, or replaces it if
	// a domain with that UUID exists (changes apply at the next start).
	Define(ctx context.Context, spec InstanceSpec) error
	// Start boots a defined domain (restoring a managed save if there is
	// one); a running domain is left alone.
	Start(ctx context.Context, uuid string) error
	// Shutdown presses the ACPI power button and waits up to timeout for
	// the guest to power off; ErrTimeout if it does not.
	Shutdown(ctx context.Context, uuid string, timeout time.Duration) error
	// Destroy powers the domain off at once; a domain that is not running
	// is fine.
	Destroy(ctx context.Context, uuid string) error
	// Undefine removes the definition with its managed save image and
	// NVRAM, destroying the domain first if it runs; an absent domain is
	// fine.
	Undefine(ctx context.Context, uuid string) error
	// Reboot restarts the guest: soft is a clean ACPI shutdown and start
	// (ErrTimeout if the guest ignores it), hard is power off and on.
	Reboot(ctx context.Context, uuid string, hard bool) error
	// Pause freezes the vCPUs; the guest stays in memory.
	Pause(ctx context.Context, uuid string) error
	// Unpause thaws a paused domain.
	Unpause(ctx context.Context, uuid string) error
	// Suspend saves the guest's memory to disk and stops it (managed save).
	Suspend(ctx context.Context, uuid string) error
	// Resume restores a suspended domain.
	Resume(ctx context.Context, uuid string) error
	// State returns the domain's power state.
	State(ctx context.Context, uuid string) (PowerState, error)
	// List returns every domain on this host.
	List(ctx context.Context) ([]DomainInfo, error)
	// ConsoleOutput returns the last lines of the serial console log; lines
	// <= 0 means all of it.
	ConsoleOutput(ctx context.Context, uuid string, lines int) (string, error)
	// AttachDisk adds a disk to the running domain and to its definition.
	AttachDisk(ctx context.Context, uuid string, disk DiskSpec) error
	// DetachDisk removes the disk with disk.Target from both, waiting for
	// the guest to release it (ErrTimeout if it does not).
	DetachDisk(ctx context.Context, uuid string, disk DiskSpec) error
	// Disks lists the domain's disks in its live and persistent
	// definitions.
	Disks(ctx context.Context, uuid string) ([]AttachedDisk, error)
	// AttachInterface adds a NIC to the running domain and to its
	// definition; a NIC with that MAC attached already is fine.
	AttachInterface(ctx context.Context, uuid string, nic NICSpec) error
	// DetachInterface removes the NIC with nic.MAC from both; an absent
	// one is fine.
	DetachInterface(ctx context.Context, uuid string, nic NICSpec) error
	// Stats reports the host's capacity and use.
	Stats(ctx context.Context) (HostStats, error)
	// Events streams the domains' lifecycle changes (started, stopped,
	// crashed, ...) until ctx is done, then closes the channel. Events are
	// hints: a consumer reads the domain's State rather than trusting the
	// event, and events may be dropped (a slow reader, a reconnect), so a
	// periodic List must back them up.
	Events(ctx context.Context) (<-chan DomainEvent, error)
}

// DomainEvent says that a domain's lifecycle changed.
type DomainEvent struct {
	// UUID is the domain's (the instance's) UUID, lower case.
	UUID string
	// Kind is what happened: started, stopped, shutdown, crashed,
	// suspended, resumed, defined, undefined or pmsuspended.
	Kind string
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	macRE    = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)
	devRE    = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,15}$`)
	targetRE = regexp.MustCompile(`^(vd|sd|hd)[a-z]{1,2}$`)
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
}

// Validate reports the first problem that would make the spec unusable.
func (s InstanceSpec) Validate() error {
	if !uuidRE.MatchString(s.UUID) {
		return invalid("uuid %q is not a UUID", s.UUID)
	}
	if !nameRE.MatchString(s.Name) {
		return invalid("domain name %q", s.Name)
	}
	if s.VCPUs < 1 {
		return invalid("vcpus %d", s.VCPUs)
	}
	if s.MemoryMB < 16 {
		return invalid("memory %d MB", s.MemoryMB)
	}
	if s.VirtType != VirtKVM && s.VirtType != VirtQEMU {
		return invalid("virt type %q is neither kvm nor qemu", s.VirtType)
	}
	if s.ConsoleLog == "" {
		return invalid("no console log path")
	}
	targets := map[string]bool{}
	boots := map[int]bool{}
	for _, d := range s.Disks {
		if err := d.Validate(); err != nil {
			return err
		}
		if targets[d.Target] {
			return invalid("disk target %s used twice", d.Target)
		}
		targets[d.Target] = true
		if d.BootIndex > 0 {
			if boots[d.BootIndex] {
				return invalid("boot index %d used twice", d.BootIndex)
			}
			boots[d.BootIndex] = true
		}
	}
	taps := map[string]bool{}
	for _, n := range s.NICs {
		if !macRE.MatchString(n.MAC) {
			return invalid("mac %q", n.MAC)
		}
		if !devRE.MatchString(n.Bridge) {
			return invalid("bridge %q", n.Bridge)
		}
		if !devRE.MatchString(n.TapName) {
			return invalid("tap name %q (at most 15 characters)", n.TapName)
		}
		if taps[n.TapName] {
			return invalid("tap %s used twice", n.TapName)
		}
		taps[n.TapName] = true
		if n.MTU < 0 || n.MTU > 65535 {
			return invalid("mtu %d", n.MTU)
		}
	}
	return nil
}

// Validate reports the first problem that would make the disk unusable.
func (d DiskSpec) Validate() error {
	if d.Network != nil {
		if err := d.Network.validate(d.Target); err != nil {
			return err
		}
	} else if d.Path == "" {
		return invalid("disk %s has no path", d.Target)
	}
	if d.Format != FormatQCOW2 && d.Format != FormatRaw {
		return invalid("disk %s format %q", d.Target, d.Format)
	}
	switch d.Bus {
	case BusVirtio, BusSATA, BusIDE, BusSCSI:
	default:
		return invalid("disk %s bus %q", d.Target, d.Bus)
	}
	if d.Device != DeviceDisk && d.Device != DeviceCDROM {
		return invalid("disk %s device %q", d.Target, d.Device)
	}
	if d.Device == DeviceCDROM && d.Bus == BusVirtio {
		return invalid("cdrom %s cannot be on virtio", d.Target)
	}
	if !targetRE.MatchString(d.Target) {
		return invalid("disk target %q", d.Target)
	}
	if d.BootIndex < 0 {
		return invalid("disk %s boot index %d", d.Target, d.BootIndex)
	}
	return nil
}

func (n NetworkDisk) validate(target string) error {
	if n.Protocol != ProtocolRBD && n.Protocol != ProtocolISCSI {
		return invalid("disk %s protocol %q", target, n.Protocol)
	}
	if n.Name == "" {
		return invalid("disk %s has no %s name", target, n.Protocol)
	}
	if len(n.Hosts) == 0 {
		return invalid("disk %s has no %s host", target, n.Protocol)
	}
	if n.AuthUsername != "" && n.SecretUUID == "" {
		return invalid("disk %s has a user but no secret", target)
	}
	return nil
}
