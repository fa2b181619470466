package datapath

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func (n Network) mtu() int {
	if n.MTU > 0 {
		return n.MTU
	}
	if n.Type == VXLAN {
		return 1450
	}
	return 1500
}

// ensureHost sets the host-wide switches the datapath relies on: bridged
// IPv4/IPv6 traffic passes the inet hooks (br_netfilter), where the
// stateful security group rules live, and forwarding when a network is
// NATed to the uplink.
func (d *Datapath) ensureHost(st State) error {
	var errs []error
	for _, k := range []string{"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"} {
		if err := writeSysctl("", k, "1"); err != nil {
			errs = append(errs, fmt.Errorf("%s (is br_netfilter available?): %w", k, err))
		}
	}
	for _, n := range st.Networks {
		if n.NATUplink {
			if err := writeSysctl("", "net/ipv4/ip_forward", "1"); err != nil {
				errs = append(errs, err)
			}
			break
		}
	}
	return errors.Join(errs...)
}

// ensureNetwork converges a network's bridge and its uplink (VXLAN device
// or physical interface). On failure it removes what it created.
func (d *Datapath) ensureNetwork(n Network) error {
	if n.ID == "" {
		return errors.New("network without ID")
	}
	switch n.Type {
	case VXLAN:
		if n.VNI == 0 || n.VNI > 1<<24-1 {
			return fmt.Errorf("invalid VNI %d", n.VNI)
		}
	case Flat:
	default:
		return fmt.Errorf("unknown network type %q", n.Type)
	}
	created := false
	br, err := d.ensureBridge(BridgeName(n.ID), n.mtu(), &created)
	if err == nil {
		err = d.ensureNetworkUplink(n, br)
	}
	if err == nil && n.HostAddress != nil {
		err = ensureAddrs(d.root, br, []*net.IPNet{n.HostAddress})
	}
	if err != nil && created {
		_ = netlink.LinkDel(br)
		if n.Type == VXLAN {
			if l, lerr := netlink.LinkByName(VXLANName(n.VNI)); lerr == nil {
				_ = netlink.LinkDel(l)
			}
		}
	}
	return err
}

func (d *Datapath) ensureBridge(name string, mtu int, created *bool) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, err
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}}
		if err := netlink.LinkAdd(br); err != nil {
			return nil, fmt.Errorf("add bridge %s: %w", name, err)
		}
		*created = true
		if l, err = netlink.LinkByName(name); err != nil {
			return nil, err
		}
	} else if l.Type() != "bridge" {
		return nil, fmt.Errorf("%s exists and is a %s, not a bridge", name, l.Type())
	}
	return l, d.ensureAttrs(d.root, l, mtu, 0)
}

// ensureAttrs corrects alias, MTU, master (if > 0) and up state of a link
// through h (the root namespace's or a namespace's handle), writing only
// what differs.
func (d *Datapath) ensureAttrs(h *netlink.Handle, l netlink.Link, mtu, master int) error {
	a := l.Attrs()
	if a.Alias != d.alias {
		if err := h.LinkSetAlias(l, d.alias); err != nil {
			return fmt.Errorf("alias %s: %w", a.Name, err)
		}
	}
	if mtu > 0 && a.MTU != mtu {
		if err := h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("mtu %s: %w", a.Name, err)
		}
	}
	if master > 0 && a.MasterIndex != master {
		if err := h.LinkSetMasterByIndex(l, master); err != nil {
			return fmt.Errorf("enslave %s: %w", a.Name, err)
		}
	}
	if a.Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("up %s: %w", a.Name, err)
		}
	}
	return nil
}

func (d *Datapath) ensureNetworkUplink(n Network, br netlink.Link) error {
	idx := br.Attrs().Index
	if n.Type == Flat {
		if n.PhysicalInterface == "" {
			return nil
		}
		l, err := netlink.LinkByName(n.PhysicalInterface)
		if err != nil {
			return fmt.Errorf("physical interface %s: %w", n.PhysicalInterface, err)
		}
		if l.Attrs().MasterIndex != idx {
			if err := netlink.LinkSetMasterByIndex(l, idx); err != nil {
				return fmt.Errorf("enslave %s: %w", n.PhysicalInterface, err)
			}
		}
		if l.Attrs().Flags&net.FlagUp == 0 {
			return netlink.LinkSetUp(l)
		}
		return nil
	}
	name := VXLANName(n.VNI)
	want := &netlink.Vxlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, MTU: n.mtu()},
		VxlanId:   int(n.VNI),
		SrcAddr:   n.LocalVTEP,
		Port:      4789,
		Learning:  true,
	}
	l, err := netlink.LinkByName(name)
	if err == nil {
		vx, ok := l.(*netlink.Vxlan)
		if !ok || vx.VxlanId != int(n.VNI) || !vx.SrcAddr.Equal(n.LocalVTEP) && !(vx.SrcAddr == nil && n.LocalVTEP == nil) {
			// Wrong kind or VTEP: replace it.
			if err := netlink.LinkDel(l); err != nil {
				return err
			}
			l = nil
		}
	} else {
		l = nil
	}
	if l == nil {
		if err := netlink.LinkAdd(want); err != nil {
			return fmt.Errorf("add %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return err
		}
	}
	if err := d.ensureAttrs(d.root, l, n.mtu(), idx); err != nil {
		return err
	}
	return ensurePeers(l, n.PeerVTEPs)
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// ensurePeers keeps one all-zero FDB entry per peer VTEP on a VXLAN device,
// so broadcast and unknown unicast are replicated to every peer and the
// bridge learns remote MACs from what comes back.
func ensurePeers(l netlink.Link, peers []net.IP) error {
	neighs, err := netlink.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, p := range peers {
		want[p.String()] = true
	}
	have := map[string]netlink.Neigh{}
	for _, nb := range neighs {
		if nb.IP == nil {
			continue
		}
		if bytes.Equal(nb.HardwareAddr, zeroMAC) {
			have[nb.IP.String()] = nb
		} else if !want[nb.IP.String()] {
			// A MAC learned behind a VTEP that is no longer a peer.
			nb := nb
			if err := netlink.NeighDel(&nb); err != nil {
				return fmt.Errorf("fdb %s via %s: %w", nb.HardwareAddr, nb.IP, err)
			}
		}
	}
	for _, p := range peers {
		if _, ok := have[p.String()]; ok {
			continue
		}
		nb := &netlink.Neigh{
			LinkIndex:    l.Attrs().Index,
			Family:       unix.AF_BRIDGE,
			Flags:        netlink.NTF_SELF,
			State:        netlink.NUD_PERMANENT | netlink.NUD_NOARP,
			HardwareAddr: zeroMAC,
			IP:           p,
		}
		if err := netlink.NeighAppend(nb); err != nil {
			return fmt.Errorf("fdb peer %s: %w", p, err)
		}
	}
	for ip, nb := range have {
		if !want[ip] {
			nb := nb
			if err := netlink.NeighDel(&nb); err != nil {
				return fmt.Errorf("fdb peer %s: %w", ip, err)
			}
		}
	}
	return nil
}

// ensureAddrs makes the link's addresses exactly want (leaving the
// kernel's IPv6 link-local address alone).
func ensureAddrs(h *netlink.Handle, l netlink.Link, want []*net.IPNet) error {
	have, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	wantSet := map[string]*net.IPNet{}
	for _, w := range want {
		wantSet[w.String()] = w
	}
	for _, a := range have {
		if _, ok := wantSet[a.IPNet.String()]; ok {
			delete(wantSet, a.IPNet.String())
			continue
		}
		if a.IP.To4() == nil && a.IP.IsLinkLocalUnicast() {
			continue // the kernel's IPv6 link-local address
		}
		a := a
		if err := h.AddrDel(l, &a); err != nil {
			return fmt.Errorf("remove %s from %s: %w", a.IPNet, l.Attrs().Name, err)
		}
	}
	for _, w := range want {
		if _, ok := wantSet[w.String()]; !ok {
			continue
		}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: w}); err != nil {
			return fmt.Errorf("add %s to %s: %w", w, l.Attrs().Name, err)
		}
	}
	return nil
}
