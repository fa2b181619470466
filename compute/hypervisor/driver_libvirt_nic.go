package hypervisor

import (
	"context"
	"strings"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
)

// AttachInterface implements Driver.
func (l *Libvirt) AttachInterface(ctx context.Context, uuid string, nic NICSpec) error {
	x, err := nicDeviceXML(nic)
	if err != nil {
		return err
	}
	return l.withDomain(ctx, "attach interface", uuid, true, func(dom *libvirt.Domain) error {
		flags, err := nicFlags(dom, nic.MAC, false)
		if err != nil || flags == 0 {
			return err
		}
		return dom.AttachDeviceFlags(x, flags)
	})
}

// DetachInterface implements Driver. Unlike a disk, a virtio NIC is
// released by the guest at once, so it does not wait.
func (l *Libvirt) DetachInterface(ctx context.Context, uuid string, nic NICSpec) error {
	x, err := nicDeviceXML(nic)
	if err != nil {
		return err
	}
	return l.withDomain(ctx, "detach interface", uuid, true, func(dom *libvirt.Domain) error {
		flags, err := nicFlags(dom, nic.MAC, true)
		if err != nil || flags == 0 {
			return err
		}
		return dom.DetachDeviceFlags(x, flags)
	})
}

// nicFlags says which definitions (persistent, live) need the change: those
// that have the NIC for a detach, those that lack it for an attach.
func nicFlags(dom *libvirt.Domain, mac string, present bool) (libvirt.DomainDeviceModifyFlags, error) {
	_, st, err := domainState(dom)
	if err != nil {
		return 0, err
	}
	var flags libvirt.DomainDeviceModifyFlags
	in, err := hasNIC(dom, libvirt.DOMAIN_XML_INACTIVE, mac)
	if err != nil {
		return 0, err
	}
	if in == present {
		flags |= libvirt.DOMAIN_DEVICE_MODIFY_CONFIG
	}
	if active(st) {
		if in, err = hasNIC(dom, 0, mac); err != nil {
			return 0, err
		}
		if in == present {
			flags |= libvirt.DOMAIN_DEVICE_MODIFY_LIVE
		}
	}
	return flags, nil
}

// hasNIC reports whether the domain's live (flags 0) or persistent
// definition has a NIC with that MAC.
func hasNIC(dom *libvirt.Domain, flags libvirt.DomainXMLFlags, mac string) (bool, error) {
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
	for _, i := range d.Devices.Interfaces {
		if i.MAC != nil && strings.EqualFold(i.MAC.Address, mac) {
			return true, nil
		}
	}
	return false, nil
}

func nicDeviceXML(n NICSpec) (string, error) {
	i := interfaceXML(n)
	return i.Marshal()
}
