package datapath

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// plugPort puts a VM's tap on its network's bridge and up, if the tap
// exists; a tap that does not exist yet is not an error: its rules are
// already keyed by name, and the next Apply (or WatchTaps) plugs it.
func (d *Datapath) plugPort(p Port, nets map[string]Network) error {
	n, ok := nets[p.NetworkID]
	if !ok {
		return fmt.Errorf("network %s is not converged", p.NetworkID)
	}
	dev := p.device()
	l, err := netlink.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	br, err := netlink.LinkByName(BridgeName(n.ID))
	if err != nil {
		return err
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := netlink.LinkSetMasterByIndex(l, br.Attrs().Index); err != nil {
			return fmt.Errorf("plug %s into %s: %w", dev, br.Attrs().Name, err)
		}
	}
	if l.Attrs().MTU != n.mtu() {
		if err := netlink.LinkSetMTU(l, n.mtu()); err != nil {
			return err
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return netlink.LinkSetUp(l)
	}
	return nil
}

// device is the port's tap name.
func (p Port) device() string {
	if p.Device != "" {
		return p.Device
	}
	return TapName(p.ID)
}
