package hypervisor

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/kumo-cloud/kumo/internal/rpc"
)

// serialLen is how much of a disk serial a virtio-blk guest sees: the
// guest's /dev/disk/by-id/virtio-<serial> carries the first 20 characters
// of the volume ID.
const serialLen = 20

// GuestSerial is the part of a volume ID a virtio guest sees in
// /dev/disk/by-id/virtio-<GuestSerial(id)>.
func GuestSerial(volumeID string) string {
	if len(volumeID) > serialLen {
		return volumeID[:serialLen]
	}
	return volumeID
}

// VolumeDisk turns a volume's connection info, as the volume service
// hands it over, into the virtio disk the guest sees as target, with the
// volume ID as its serial (as Nova's libvirt volume drivers do).
func VolumeDisk(ci rpc.ConnectionInfo, target string) (DiskSpec, error) {
	d := ci.Data
	disk := DiskSpec{Bus: BusVirtio, Device: DeviceDisk, Target: target, Serial: d.VolumeID,
		ReadOnly: d.AccessMode == "ro", Format: FormatRaw}
	switch ci.DriverVolumeType {
	case rpc.ConnFile:
		if d.DevicePath == "" {
			return disk, invalid("file volume %s has no device_path", d.VolumeID)
		}
		disk.Path = d.DevicePath
		if d.Format != "" {
			disk.Format = d.Format
		}
		// Host page cache off, as Nova's default where the file system
		// can do O_DIRECT; tmpfs and some overlays cannot.
		if directIO(d.DevicePath) {
			disk.Cache, disk.IO = "none", "native"
		} else {
			disk.Cache, disk.IO = "writeback", "threads"
		}
	case rpc.ConnRBD:
		n := &NetworkDisk{Protocol: ProtocolRBD, Name: d.Name, AuthUsername: d.AuthUsername, SecretUUID: d.SecretUUID,
			SecretType: "ceph"}
		for i, h := range d.Hosts {
			port := ""
			if i < len(d.Ports) {
				port = d.Ports[i]
			}
			n.Hosts = append(n.Hosts, NetworkHost{Name: h, Port: port})
		}
		disk.Network, disk.Cache = n, "writeback"
	case rpc.ConnISCSI:
		host, port, err := net.SplitHostPort(d.TargetPortal)
		if err != nil {
			return disk, invalid("iscsi volume %s portal %q", d.VolumeID, d.TargetPortal)
		}
		disk.Network = &NetworkDisk{Protocol: ProtocolISCSI, Name: d.TargetIQN + "/" + strconv.Itoa(d.TargetLUN),
			Hosts: []NetworkHost{{Name: host, Port: port}}}
		disk.Cache, disk.IO = "none", "native"
	default:
		return disk, invalid("volume %s driver_volume_type %q", d.VolumeID, ci.DriverVolumeType)
	}
	return disk, disk.Validate()
}

// directIO tells whether path can be opened with O_DIRECT, which QEMU's
// cache=none needs.
func directIO(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// AttachedDisk is a disk of a domain, as its XML says.
type AttachedDisk struct {
	Target string
	Serial string
	// Live is true when the running domain has the disk, Config when its
	// persistent definition does.
	Live   bool
	Config bool
}

// Disks lists a domain's disks in its live and persistent definitions,
// for reconciling volume attachments with what is really plugged.
func (l *Libvirt) Disks(ctx context.Context, uuid string) ([]AttachedDisk, error) {
	var out []AttachedDisk
	err := l.withDomain(ctx, "list disks", uuid, false, func(dom *libvirt.Domain) error {
		_, st, err := domainState(dom)
		if err != nil {
			return err
		}
		index := map[string]int{} // target → position in out
		add := func(flags libvirt.DomainXMLFlags, live bool) error {
			raw, err := dom.GetXMLDesc(flags)
			if err != nil {
				return err
			}
			var d libvirtxml.Domain
			if err := d.Unmarshal(raw); err != nil {
				return err
			}
			if d.Devices == nil {
				return nil
			}
			for _, disk := range d.Devices.Disks {
				if disk.Target == nil {
					continue
				}
				i, ok := index[disk.Target.Dev]
				if !ok {
					i = len(out)
					index[disk.Target.Dev] = i
					out = append(out, AttachedDisk{Target: disk.Target.Dev, Serial: disk.Serial})
				}
				if live {
					out[i].Live = true
				} else {
					out[i].Config = true
				}
			}
			return nil
		}
		if err := add(libvirt.DOMAIN_XML_INACTIVE, false); err != nil {
			return err
		}
		if active(st) {
			return add(0, true)
		}
		return nil
	})
	return out, err
}

// DiskBySerial finds the disk whose serial is serial (a volume ID) among
// disks.
func DiskBySerial(disks []AttachedDisk, serial string) (AttachedDisk, bool) {
	for _, d := range disks {
		if strings.EqualFold(d.Serial, serial) {
			return d, true
		}
	}
	return AttachedDisk{}, false
}

// String describes where a disk is plugged.
func (d AttachedDisk) String() string {
	return fmt.Sprintf("%s (serial %s, live %t, config %t)", d.Target, d.Serial, d.Live, d.Config)
}
