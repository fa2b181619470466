package hypervisor

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testUUID = "6f1a6c4e-2f4b-4a51-9d6b-0d6c0e7d9a10"

// baseSpec is a small TCG instance with a root disk and no NIC.
func baseSpec() InstanceSpec {
	return InstanceSpec{
		UUID:     testUUID,
		Name:     "instance-" + testUUID,
		VCPUs:    1,
		MemoryMB: 256,
		VirtType: VirtQEMU,
		Disks: []DiskSpec{{
			Path: "/var/lib/kumo/instances/" + testUUID + "/disk", Format: FormatQCOW2,
			Bus: BusVirtio, Device: DeviceDisk, Target: "vda", BootIndex: 1,
		}},
		ConsoleLog: "/var/lib/kumo/instances/" + testUUID + "/console.log",
		Metadata:   map[string]string{"flavor": "m1.tiny", "project_id": "p1", "display_name": "web <1> & co"},
	}
}

func TestDomainXMLGolden(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*InstanceSpec)
	}{
		{name: "no-nic", mutate: func(*InstanceSpec) {}},
		{name: "two-nics", mutate: func(s *InstanceSpec) {
			s.NICs = []NICSpec{
				{MAC: "FA:16:3E:00:00:01", Bridge: "brq1a2b3c4d-5e", TapName: "tap1a2b3c4d-5e", MTU: 1450},
				{MAC: "fa:16:3e:00:00:02", Bridge: "brq9f8e7d6c-5b", TapName: "tap9f8e7d6c-5b", Model: "e1000"},
			}
		}},
		{name: "config-drive", mutate: func(s *InstanceSpec) {
			s.Disks = append(s.Disks,
				DiskSpec{Path: "/var/lib/kumo/instances/" + testUUID + "/disk.config", Format: FormatRaw,
					Bus: BusIDE, Device: DeviceCDROM, Target: "hdd"},
				DiskSpec{Path: "/var/lib/kumo/volumes/vol1", Format: FormatRaw, Bus: BusSCSI, Device: DeviceDisk,
					Target: "sda", Serial: "vol1", ReadOnly: true})
		}},
		{name: "kvm", mutate: func(s *InstanceSpec) {
			s.VirtType = VirtKVM
			s.VCPUs = 4
			s.MemoryMB = 4096
			s.Disks[0].BootIndex = 0 // no per-device order: <os><boot dev='hd'/>
			s.Metadata = nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := baseSpec()
			tt.mutate(&spec)
			got, err := DomainXML(spec)
			if err != nil {
				t.Fatal(err)
			}
			got += "\n"
			path := filepath.Join("testdata", tt.name+".xml")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update if intended):\n%s", path, got)
			}

			// The rendered XML round-trips and keeps what matters.
			var dom libvirtxml.Domain
			if err := dom.Unmarshal(got); err != nil {
				t.Fatal(err)
			}
			if dom.Type != spec.VirtType || consoleLogOf(&dom) != spec.ConsoleLog {
				t.Errorf("type %q console %q", dom.Type, consoleLogOf(&dom))
			}
			md, ok := parseMetadata(&dom)
			if !ok || len(md) != len(spec.Metadata) {
				t.Errorf("metadata %v ok=%v, want %v", md, ok, spec.Metadata)
			}
			for k, v := range spec.Metadata {
				if md[k] != v {
					t.Errorf("metadata %s = %q, want %q", k, md[k], v)
				}
			}
			if strings.Contains(got, "host-passthrough") || (spec.VirtType == VirtQEMU && strings.Contains(got, "host-model")) {
				t.Errorf("a host CPU mode under %s", spec.VirtType)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*InstanceSpec)
	}{
		{"bad uuid", func(s *InstanceSpec) { s.UUID = "nope" }},
		{"no vcpus", func(s *InstanceSpec) { s.VCPUs = 0 }},
		{"tiny memory", func(s *InstanceSpec) { s.MemoryMB = 1 }},
		{"virt type", func(s *InstanceSpec) { s.VirtType = "xen" }},
		{"no console log", func(s *InstanceSpec) { s.ConsoleLog = "" }},
		{"disk format", func(s *InstanceSpec) { s.Disks[0].Format = "vmdk" }},
		{"disk bus", func(s *InstanceSpec) { s.Disks[0].Bus = "usb" }},
		{"virtio cdrom", func(s *InstanceSpec) { s.Disks[0].Device = DeviceCDROM }},
		{"disk target", func(s *InstanceSpec) { s.Disks[0].Target = "/dev/vda" }},
		{"duplicate target", func(s *InstanceSpec) { s.Disks = append(s.Disks, s.Disks[0]) }},
		{"duplicate boot index", func(s *InstanceSpec) {
			d := s.Disks[0]
			d.Target = "vdb"
			s.Disks = append(s.Disks, d)
		}},
		{"long tap name", func(s *InstanceSpec) {
			s.NICs = []NICSpec{{MAC: "fa:16:3e:00:00:01", Bridge: "br0", TapName: "tap0123456789abcdef"}}
		}},
		{"bad mac", func(s *InstanceSpec) { s.NICs = []NICSpec{{MAC: "fa:16:3e", Bridge: "br0", TapName: "tap0"}} }},
		{"no bridge", func(s *InstanceSpec) { s.NICs = []NICSpec{{MAC: "fa:16:3e:00:00:01", TapName: "tap0"}} }},
	}
	if err := baseSpec().Validate(); err != nil {
		t.Fatalf("base spec: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSpec()
			tt.mutate(&s)
			if err := s.Validate(); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Validate() = %v, want ErrInvalidSpec", err)
			}
			if _, err := DomainXML(s); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("DomainXML() = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestPowerStateOf(t *testing.T) {
	tests := map[libvirt.DomainState]PowerState{
		libvirt.DOMAIN_NOSTATE:     NoState,
		libvirt.DOMAIN_RUNNING:     Running,
		libvirt.DOMAIN_BLOCKED:     Running,
		libvirt.DOMAIN_PAUSED:      Paused,
		libvirt.DOMAIN_SHUTDOWN:    Shutdown,
		libvirt.DOMAIN_SHUTOFF:     Shutdown,
		libvirt.DOMAIN_CRASHED:     Crashed,
		libvirt.DOMAIN_PMSUSPENDED: Suspended,
	}
	for st, want := range tests {
		if got := powerStateOf(st); got != want {
			t.Errorf("powerStateOf(%d) = %s, want %s", st, got, want)
		}
	}
	// Nova's numbers, which the compute agent stores as they are.
	if NoState != 0 || Running != 1 || Paused != 3 || Shutdown != 4 || Crashed != 6 || Suspended != 7 {
		t.Error("power state values drifted from Nova's")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\nfour\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		n    int
		max  int64
		want string
	}{
		{0, 1 << 20, "one\ntwo\nthree\nfour\n"},
		{2, 1 << 20, "three\nfour\n"},
		{10, 1 << 20, "one\ntwo\nthree\nfour\n"},
		{0, 12, "three\nfour\n"}, // the cut partial line is dropped
	}
	for _, tt := range tests {
		got, err := tail(path, tt.n, tt.max)
		if err != nil || got != tt.want {
			t.Errorf("tail(%d, %d) = %q, %v; want %q", tt.n, tt.max, got, err, tt.want)
		}
	}
	if got, err := tail(filepath.Join(t.TempDir(), "absent"), 5, 100); got != "" || err != nil {
		t.Errorf("absent file: %q, %v", got, err)
	}
}
