package hypervisor

import (
	"testing"

	"libvirt.org/go/libvirtxml"
)

func TestSerialPTYOf(t *testing.T) {
	for _, tc := range []struct {
		name, xml, want string
	}{
		{"live pty", `<domain type="qemu"><devices><serial type="pty"><source path="/dev/pts/7"/><target type="isa-serial" port="0"/></serial></devices></domain>`, "/dev/pts/7"},
		{"second port only", `<domain type="qemu"><devices><serial type="pty"><source path="/dev/pts/7"/><target port="1"/></serial></devices></domain>`, ""},
		{"defined, not running", `<domain type="qemu"><devices><serial type="pty"><target port="0"/></serial></devices></domain>`, ""},
		{"no devices", `<domain type="qemu"></domain>`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d libvirtxml.Domain
			if err := d.Unmarshal(tc.xml); err != nil {
				t.Fatal(err)
			}
			if got := serialPTYOf(&d); got != tc.want {
				t.Errorf("serialPTYOf = %q, want %q", got, tc.want)
			}
		})
	}
}
