package datapath

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// leg is a veth pair from a network bridge (root end) into a namespace
// (inner end, carrying the MAC and addresses).
type leg struct {
	root, inner string
	bridge      string
	mtu         int
	mac         net.HardwareAddr
	addrs       []*net.IPNet
}

// ensureLeg converges a leg into the namespace behind h/ns. It returns the
// inner link.
func (d *Datapath) ensureLeg(h *netlink.Handle, ns netns.NsHandle, lg leg) (netlink.Link, error) {
	br, err := netlink.LinkByName(lg.bridge)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", lg.bridge, err)
	}
	root, rerr := netlink.LinkByName(lg.root)
	inner, ierr := h.LinkByName(lg.inner)
	if rerr == nil && ierr != nil {
		// The inner end is not where it belongs (namespace recreated):
		// start over.
		if err := netlink.LinkDel(root); err != nil {
			return nil, err
		}
		rerr = errors.New("deleted")
	}
	if rerr != nil {
		if ierr == nil {
			_ = h.LinkDel(inner)
		}
		v := &netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: lg.root, MTU: lg.mtu, MasterIndex: br.Attrs().Index},
			PeerName:         lg.inner,
			PeerHardwareAddr: lg.mac,
			PeerMTU:          uint32(lg.mtu),
			PeerNamespace:    netlink.NsFd(ns),
		}
		if err := netlink.LinkAdd(v); err != nil {
			return nil, fmt.Errorf("add veth %s/%s: %w", lg.root, lg.inner, err)
		}
		if root, err = netlink.LinkByName(lg.root); err != nil {
			return nil, err
		}
		if inner, err = h.LinkByName(lg.inner); err != nil {
			return nil, err
		}
	}
	if err := d.ensureAttrs(d.root, root, lg.mtu, br.Attrs().Index); err != nil {
		return nil, err
	}
	if len(lg.mac) > 0 && !bytes.Equal(inner.Attrs().HardwareAddr, lg.mac) {
		if err := h.LinkSetHardwareAddr(inner, lg.mac); err != nil {
			return nil, fmt.Errorf("mac %s: %w", lg.inner, err)
		}
	}
	if err := d.ensureAttrs(h, inner, lg.mtu, 0); err != nil {
		return nil, err
	}
	if err := ensureAddrs(h, inner, lg.addrs); err != nil {
		return nil, err
	}
	return inner, nil
}
