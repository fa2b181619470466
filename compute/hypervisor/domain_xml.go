package hypervisor

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strings"

	"libvirt.org/go/libvirtxml"
)

// MetadataNamespace is the XML namespace of kumo's element in a domain's
// <metadata>; its presence marks a domain as kumo's.
const MetadataNamespace = "https://github.com/kumo-cloud/kumo/xmlns/libvirt/instance/1.0"

// machineType is the x86 machine every domain gets. i440fx ("pc") boots
// kumo-tiny faster than q35 under TCG (no PCIe root ports to probe, legacy
// IDE for the config drive, which the Debian cloud kernel drives with
// ata_piix; it has no AHCI driver for q35's SATA).
const machineType = "pc"

// instanceMetadata is kumo's element inside <metadata>.
type instanceMetadata struct {
	XMLName xml.Name        `xml:"https://github.com/kumo-cloud/kumo/xmlns/libvirt/instance/1.0 instance"`
	UUID    string          `xml:"uuid"`
	Entries []metadataEntry `xml:"entry"`
}

type metadataEntry struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

// DomainXML renders the libvirt domain XML of spec.
func DomainXML(spec InstanceSpec) (string, error) {
	dom, err := buildDomain(spec)
	if err != nil {
		return "", err
	}
	return dom.Marshal()
}

// buildDomain turns a validated spec into libvirt's domain structure.
func buildDomain(spec InstanceSpec) (*libvirtxml.Domain, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	meta, err := marshalMetadata(spec)
	if err != nil {
		return nil, err
	}
	dom := &libvirtxml.Domain{
		Type:          spec.VirtType,
		Name:          spec.Name,
		UUID:          strings.ToLower(spec.UUID),
		Metadata:      &libvirtxml.DomainMetadata{XML: meta},
		Memory:        &libvirtxml.DomainMemory{Value: uint(spec.MemoryMB), Unit: "MiB"},
		CurrentMemory: &libvirtxml.DomainCurrentMemory{Value: uint(spec.MemoryMB), Unit: "MiB"},
		VCPU:          &libvirtxml.DomainVCPU{Placement: "static", Value: uint(spec.VCPUs)},
		SysInfo: []libvirtxml.DomainSysInfo{{SMBIOS: &libvirtxml.DomainSysInfoSMBIOS{
			System: &libvirtxml.DomainSysInfoSystem{Entry: []libvirtxml.DomainSysInfoEntry{
				{Name: "manufacturer", Value: "kumo"},
				{Name: "product", Value: "OpenStack Compute"},
				{Name: "uuid", Value: strings.ToLower(spec.UUID)},
				{Name: "family", Value: "Virtual Machine"},
			}},
		}}},
		OS: &libvirtxml.DomainOS{
			Type:   &libvirtxml.DomainOSType{Arch: "x86_64", Machine: machineType, Type: "hvm"},
			SMBios: &libvirtxml.DomainSMBios{Mode: "sysinfo"},
		},
		Features: &libvirtxml.DomainFeatureList{
			ACPI: &libvirtxml.DomainFeature{},
			APIC: &libvirtxml.DomainFeatureAPIC{},
		},
		CPU: cpuFor(spec.VirtType),
		Clock: &libvirtxml.DomainClock{
			Offset: "utc",
			Timer: []libvirtxml.DomainTimer{
				{Name: "rtc", TickPolicy: "catchup"},
				{Name: "pit", TickPolicy: "delay"},
				{Name: "hpet", Present: "no"},
			},
		},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		Devices:    &libvirtxml.DomainDeviceList{},
	}
	dev := dom.Devices

	scsi := false
	bootSet := false
	for _, d := range spec.Disks {
		disk, err := diskXML(d)
		if err != nil {
			return nil, err
		}
		dev.Disks = append(dev.Disks, *disk)
		scsi = scsi || d.Bus == BusSCSI
		bootSet = bootSet || d.BootIndex > 0
	}
	if !bootSet {
		// Per-device boot order and <os><boot> exclude each other.
		dom.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	}

	// No USB: nothing uses it and its controller costs boot time under TCG.
	dev.Controllers = append(dev.Controllers, libvirtxml.DomainController{Type: "usb", Model: "none"})
	if scsi {
		dev.Controllers = append(dev.Controllers, libvirtxml.DomainController{Type: "scsi", Model: "virtio-scsi"})
	}

	for _, n := range spec.NICs {
		dev.Interfaces = append(dev.Interfaces, interfaceXML(n))
	}

	// Serial port 0 is the console: a pty (for the interactive serial
	// console later) whose output is also logged to ConsoleLog by
	// virtlogd, which is where ConsoleOutput reads. One port does both so
	// that what a guest runs on ttyS0 (getty, the READY line) is both
	// interactive and logged, as in Nova.
	port0 := uint(0)
	dev.Serials = []libvirtxml.DomainSerial{{
		Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
		Target: &libvirtxml.DomainSerialTarget{Type: "isa-serial", Port: &port0},
		Log:    &libvirtxml.DomainChardevLog{File: spec.ConsoleLog, Append: "on"},
	}}
	dev.Consoles = []libvirtxml.DomainConsole{{
		Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
		Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &port0},
	}}
	dev.MemBalloon = &libvirtxml.DomainMemBalloon{
		Model: "virtio",
		Stats: &libvirtxml.DomainMemBalloonStats{Period: 10},
	}
	// The guest's RNG is seeded from the host: without it the kernel crng
	// takes seconds to initialise under TCG and getrandom() blocks.
	dev.RNGs = []libvirtxml.DomainRNG{{
		Model:   "virtio",
		Backend: &libvirtxml.DomainRNGBackend{Random: &libvirtxml.DomainRNGBackendRandom{Device: "/dev/urandom"}},
	}}
	return dom, nil
}

// cpuFor picks the guest CPU: the host's model (migratable) under KVM; under
// TCG host-passthrough and host-model do not exist, so QEMU's "max" CPU,
// every feature TCG can emulate.
func cpuFor(virtType string) *libvirtxml.DomainCPU {
	if virtType == VirtKVM {
		return &libvirtxml.DomainCPU{Mode: "host-model", Check: "partial"}
	}
	return &libvirtxml.DomainCPU{Mode: "maximum", Check: "none"}
}

// diskXML renders one disk.
func diskXML(d DiskSpec) (*libvirtxml.DomainDisk, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	disk := &libvirtxml.DomainDisk{
		Device: d.Device,
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: d.Format, Cache: d.Cache, IO: d.IO},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: d.Path}},
		Target: &libvirtxml.DomainDiskTarget{Dev: d.Target, Bus: d.Bus},
		Serial: d.Serial,
	}
	if n := d.Network; n != nil {
		src := &libvirtxml.DomainDiskSourceNetwork{Protocol: n.Protocol, Name: n.Name}
		for _, h := range n.Hosts {
			src.Hosts = append(src.Hosts, libvirtxml.DomainDiskSourceHost{Name: h.Name, Port: h.Port})
		}
		if n.AuthUsername != "" {
			src.Auth = &libvirtxml.DomainDiskAuth{Username: n.AuthUsername,
				Secret: &libvirtxml.DomainDiskSecret{Type: n.SecretType, UUID: n.SecretUUID}}
		}
		disk.Source = &libvirtxml.DomainDiskSource{Network: src}
	}
	if d.Device == DeviceDisk {
		disk.Driver.Discard = "unmap"
	}
	if d.ReadOnly || d.Device == DeviceCDROM {
		disk.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
	}
	if d.BootIndex > 0 {
		disk.Boot = &libvirtxml.DomainDeviceBoot{Order: uint(d.BootIndex)}
	}
	return disk, nil
}

// interfaceXML renders one NIC: a tap with a fixed name (type ethernet).
// libvirt creates the tap and brings it up; the network agent, which owns
// the bridges, enslaves it to n.Bridge the moment it appears. Letting
// libvirt bridge it too (type bridge) races with the agent and fails with
// EBUSY when the agent wins.
func interfaceXML(n NICSpec) libvirtxml.DomainInterface {
	model := n.Model
	if model == "" {
		model = "virtio"
	}
	iface := libvirtxml.DomainInterface{
		MAC:    &libvirtxml.DomainInterfaceMAC{Address: strings.ToLower(n.MAC)},
		Source: &libvirtxml.DomainInterfaceSource{Ethernet: &libvirtxml.DomainInterfaceSourceEthernet{}},
		Target: &libvirtxml.DomainInterfaceTarget{Dev: n.TapName},
		Model:  &libvirtxml.DomainInterfaceModel{Type: model},
	}
	if n.MTU > 0 {
		iface.MTU = &libvirtxml.DomainInterfaceMTU{Size: uint(n.MTU)}
	}
	return iface
}

// marshalMetadata renders kumo's <metadata> element with the entries in key
// order, so the XML is stable.
func marshalMetadata(spec InstanceSpec) (string, error) {
	m := instanceMetadata{UUID: strings.ToLower(spec.UUID)}
	keys := make([]string, 0, len(spec.Metadata))
	for k := range spec.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.Entries = append(m.Entries, metadataEntry{Key: k, Value: spec.Metadata[k]})
	}
	out, err := xml.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	return string(out), nil
}

// parseMetadata finds kumo's element in a domain's metadata; ok is false
// when the domain is not kumo's.
func parseMetadata(dom *libvirtxml.Domain) (map[string]string, bool) {
	if dom.Metadata == nil || !strings.Contains(dom.Metadata.XML, MetadataNamespace) {
		return nil, false
	}
	dec := xml.NewDecoder(strings.NewReader(dom.Metadata.XML))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Space != MetadataNamespace || se.Name.Local != "instance" {
			continue
		}
		var m instanceMetadata
		if err := dec.DecodeElement(&m, &se); err != nil {
			return nil, false
		}
		out := make(map[string]string, len(m.Entries))
		for _, e := range m.Entries {
			out[e.Key] = e.Value
		}
		return out, true
	}
}

// consoleLogOf returns the file a domain's serial console is logged to.
func consoleLogOf(dom *libvirtxml.Domain) string {
	if dom.Devices == nil {
		return ""
	}
	for _, s := range dom.Devices.Serials {
		if s.Log != nil && s.Log.File != "" {
			return s.Log.File
		}
		if s.Source != nil && s.Source.File != nil {
			return s.Source.File.Path
		}
	}
	return ""
}
