package agent

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/store"
)

// Device owners the agent reads.
const (
	ownerDHCP            = "network:dhcp"
	ownerRouterInterface = "network:router_interface"
	ownerRouterGateway   = "network:router_gateway"
)

// snapshot is the part of the store the State is built from.
type snapshot struct {
	nets    map[string]store.Network
	subnets map[string]store.Subnet
	ports   []store.Port
	allocs  map[string][]store.IPAllocation // by port ID
	rules   map[string][]store.SecurityGroupRule
	routers []store.Router
	fips    []store.FloatingIP
}

func (a *Agent) load(ctx context.Context) (*snapshot, error) {
	s := a.d.Store
	snap := &snapshot{nets: map[string]store.Network{}, subnets: map[string]store.Subnet{}, rules: map[string][]store.SecurityGroupRule{}}
	nets, err := store.List[store.Network](ctx, s, "")
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		snap.nets[n.ID] = n
	}
	subs, err := store.List[store.Subnet](ctx, s, "")
	if err != nil {
		return nil, err
	}
	for _, sn := range subs {
		snap.subnets[sn.ID] = sn
	}
	if snap.ports, err = store.List[store.Port](ctx, s, ""); err != nil {
		return nil, err
	}
	ids := make([]string, len(snap.ports))
	for i, p := range snap.ports {
		ids[i] = p.ID
	}
	if snap.allocs, err = s.PortAllocations(ctx, ids); err != nil {
		return nil, err
	}
	rules, err := store.List[store.SecurityGroupRule](ctx, s, "")
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		snap.rules[r.SecurityGroupID] = append(snap.rules[r.SecurityGroupID], r)
	}
	if snap.routers, err = store.List[store.Router](ctx, s, ""); err != nil {
		return nil, err
	}
	if snap.fips, err = store.List[store.FloatingIP](ctx, s, "router_id IS NOT NULL AND fixed_ip_address IS NOT NULL"); err != nil {
		return nil, err
	}
	return snap, nil
}

// hostPort reports whether p is a VM port of this host (or the one a plug
// request names).
func (a *Agent) hostPort(p store.Port, force string) bool {
	if p.ID == force {
		return true
	}
	return p.BindingHostID == a.cfg.Host && !strings.HasPrefix(p.DeviceOwner, "network:")
}

// build turns a snapshot into the host's State: the networks in use here
// (by a port of this host, a DHCP server or a router leg), their DHCP
// servers, every router, and this host's ports with resolved rules.
func (a *Agent) build(snap *snapshot, force string) datapath.State {
	var st datapath.State
	used := map[string]bool{}
	netOK := map[string]bool{}
	network := func(id string) bool {
		if ok, seen := netOK[id]; seen {
			return ok
		}
		n, ok := snap.nets[id]
		if ok {
			dn, err := a.network(snap, n)
			if err != nil {
				a.log.Debug("network not set up here", "network_id", id, "reason", err)
				ok = false
			} else {
				st.Networks = append(st.Networks, dn)
			}
		}
		netOK[id] = ok
		return ok
	}
	// DHCP servers.
	for _, p := range snap.ports {
		if p.DeviceOwner != ownerDHCP || p.DeviceID != a.dhcpDeviceID(p.NetworkID) || !network(p.NetworkID) {
			continue
		}
		srv := datapath.DHCPServer{NetworkID: p.NetworkID, PortID: p.ID, MAC: mac(p.MACAddress), Metadata: true}
		for _, al := range snap.allocs[p.ID] {
			if ipn := snap.ipNet(al); ipn != nil && ipn.IP.To4() != nil {
				srv.IPs = append(srv.IPs, ipn)
			}
		}
		for _, sn := range snap.subnets {
			if sn.NetworkID == p.NetworkID && sn.EnableDHCP && sn.IPVersion == 4 {
				srv.Subnets = append(srv.Subnets, dhcpSubnet(sn))
			}
		}
		slices.SortFunc(srv.Subnets, func(x, y datapath.Subnet) int { return strings.Compare(x.CIDR.String(), y.CIDR.String()) })
		for _, q := range snap.ports {
			if q.NetworkID != p.NetworkID || q.DeviceOwner == ownerDHCP {
				continue
			}
			for _, al := range snap.allocs[q.ID] {
				sn, ok := snap.subnets[al.SubnetID]
				ip := net.ParseIP(al.IPAddress)
				if ok && sn.EnableDHCP && ip.To4() != nil {
					srv.Hosts = append(srv.Hosts, datapath.DHCPHost{MAC: mac(q.MACAddress), IP: ip,
						Hostname: "host-" + strings.ReplaceAll(al.IPAddress, ".", "-")})
				}
			}
		}
		if len(srv.IPs) > 0 && len(srv.Subnets) > 0 {
			st.DHCP = append(st.DHCP, srv)
			used[p.NetworkID] = true
		}
	}
	// This host's VM ports.
	for _, p := range snap.ports {
		if !a.hostPort(p, force) || !network(p.NetworkID) {
			continue
		}
		dp := datapath.Port{ID: p.ID, NetworkID: p.NetworkID, MAC: mac(p.MACAddress), PortSecurity: p.PortSecurityEnabled}
		for _, al := range snap.allocs[p.ID] {
			dp.IPs = append(dp.IPs, net.ParseIP(al.IPAddress))
		}
		for _, pair := range p.AllowedAddressPairs.V {
			ap := datapath.AddressPair{IP: cidrOrHost(pair.IPAddress)}
			if pair.MACAddress != "" && pair.MACAddress != p.MACAddress {
				ap.MAC = mac(pair.MACAddress)
			}
			if ap.IP != nil {
				dp.AddressPairs = append(dp.AddressPairs, ap)
			}
		}
		if p.PortSecurityEnabled {
			for _, sg := range p.SecurityGroups {
				for _, r := range snap.rules[sg] {
					dp.Rules = append(dp.Rules, snap.rule(r))
				}
			}
		}
		st.Ports = append(st.Ports, dp)
		used[p.NetworkID] = true
	}
	// Routers (this host is the network node).
	for _, r := range snap.routers {
		dr := datapath.Router{ID: r.ID}
		for _, p := range snap.ports {
			if p.DeviceID != r.ID || !strings.HasPrefix(p.DeviceOwner, ownerRouterInterface) || !network(p.NetworkID) {
				continue
			}
			ri := datapath.RouterInterface{PortID: p.ID, NetworkID: p.NetworkID, MAC: mac(p.MACAddress)}
			for _, al := range snap.allocs[p.ID] {
				if ipn := snap.ipNet(al); ipn != nil {
					ri.IPs = append(ri.IPs, ipn)
				}
			}
			dr.Interfaces = append(dr.Interfaces, ri)
			used[p.NetworkID] = true
		}
		if r.GWPortID != nil {
			for _, p := range snap.ports {
				if p.ID != *r.GWPortID || !network(p.NetworkID) {
					continue
				}
				gw := &datapath.Gateway{PortID: p.ID, NetworkID: p.NetworkID, MAC: mac(p.MACAddress), SNAT: r.EnableSNAT}
				for _, al := range snap.allocs[p.ID] {
					if ipn := snap.ipNet(al); ipn != nil {
						gw.IPs = append(gw.IPs, ipn)
						if sn := snap.subnets[al.SubnetID]; gw.NextHop == nil && sn.GatewayIP != nil && ipn.IP.To4() != nil {
							gw.NextHop = net.ParseIP(*sn.GatewayIP)
						}
					}
				}
				dr.Gateway = gw
				used[p.NetworkID] = true
			}
		}
		for _, f := range snap.fips {
			if f.RouterID != nil && *f.RouterID == r.ID && dr.Gateway != nil {
				dr.FloatingIPs = append(dr.FloatingIPs, datapath.FloatingIP{FloatingIP: net.ParseIP(f.FloatingIPAddress),
					FixedIP: net.ParseIP(*f.FixedIPAddress)})
			}
		}
		for _, rt := range r.Routes.V {
			if _, dst, err := net.ParseCIDR(rt.Destination); err == nil {
				dr.Routes = append(dr.Routes, datapath.Route{Destination: dst, NextHop: net.ParseIP(rt.NextHop)})
			}
		}
		st.Routers = append(st.Routers, dr)
	}
	// Only networks something here uses get a bridge.
	kept := st.Networks[:0]
	for _, n := range st.Networks {
		if used[n.ID] {
			kept = append(kept, n)
		}
	}
	st.Networks = kept
	return st
}

// network maps a store network to this host's bridge, or says why it is
// not set up here.
func (a *Agent) network(snap *snapshot, n store.Network) (datapath.Network, error) {
	dn := datapath.Network{ID: n.ID, MTU: n.MTU}
	switch n.NetworkType {
	case store.TypeVXLAN:
		if n.SegmentationID == nil {
			return dn, fmt.Errorf("no VNI")
		}
		dn.Type, dn.VNI = datapath.VXLAN, uint32(*n.SegmentationID)
	case store.TypeFlat:
		dn.Type = datapath.Flat
		phys := ""
		if n.PhysicalNetwork != nil {
			phys = *n.PhysicalNetwork
		}
		dev, ok := a.cfg.PhysicalNetworks[phys]
		if !ok {
			return dn, fmt.Errorf("physical network %q is not mapped on this host", phys)
		}
		if dev != HostOnly {
			dn.PhysicalInterface = dev
			break
		}
		for _, sn := range snap.subnets {
			if sn.NetworkID == n.ID && sn.IPVersion == 4 && sn.GatewayIP != nil {
				_, cidr, err := net.ParseCIDR(sn.CIDR)
				if gw := net.ParseIP(*sn.GatewayIP); err == nil && gw != nil {
					dn.HostAddress = &net.IPNet{IP: gw, Mask: cidr.Mask}
					dn.NATUplink = true
					break
				}
			}
		}
	default:
		return dn, fmt.Errorf("network type %q", n.NetworkType)
	}
	return dn, nil
}

// ipNet is an allocation's address with its subnet's prefix.
func (snap *snapshot) ipNet(al store.IPAllocation) *net.IPNet {
	sn, ok := snap.subnets[al.SubnetID]
	ip := net.ParseIP(al.IPAddress)
	_, cidr, err := net.ParseCIDR(sn.CIDR)
	if !ok || ip == nil || err != nil {
		return nil
	}
	return &net.IPNet{IP: ip, Mask: cidr.Mask}
}

// rule resolves a security group rule; a remote group becomes the
// addresses of the ports in it.
func (snap *snapshot) rule(r store.SecurityGroupRule) datapath.Rule {
	out := datapath.Rule{Direction: datapath.Direction(r.Direction), EtherType: r.Ethertype}
	if r.Protocol != nil {
		out.Protocol = *r.Protocol
	}
	icmp := out.Protocol == "icmp" || out.Protocol == "icmpv6" || out.Protocol == "ipv6-icmp" || out.Protocol == "1" || out.Protocol == "58"
	if icmp {
		out.ICMPType, out.ICMPCode = r.PortRangeMin, r.PortRangeMax
	} else {
		if r.PortRangeMin != nil {
			out.PortMin = *r.PortRangeMin
		}
		if r.PortRangeMax != nil {
			out.PortMax = *r.PortRangeMax
		}
	}
	if r.RemoteIPPrefix != nil {
		out.RemoteCIDR = cidrOrHost(*r.RemoteIPPrefix)
	}
	if r.RemoteGroupID != nil {
		out.RemoteGroup = true
		v4 := r.Ethertype != "IPv6"
		for _, p := range snap.ports {
			if !slices.Contains([]string(p.SecurityGroups), *r.RemoteGroupID) {
				continue
			}
			for _, al := range snap.allocs[p.ID] {
				if ip := net.ParseIP(al.IPAddress); ip != nil && (ip.To4() != nil) == v4 {
					out.RemoteIPs = append(out.RemoteIPs, ip)
				}
			}
		}
	}
	return out
}

func dhcpSubnet(sn store.Subnet) datapath.Subnet {
	_, cidr, _ := net.ParseCIDR(sn.CIDR)
	out := datapath.Subnet{CIDR: cidr}
	if sn.GatewayIP != nil {
		out.Gateway = net.ParseIP(*sn.GatewayIP)
	}
	for _, d := range sn.DNSNameservers.V {
		if ip := net.ParseIP(d); ip != nil {
			out.DNSServers = append(out.DNSServers, ip)
		}
	}
	for _, hr := range sn.HostRoutes.V {
		if _, dst, err := net.ParseCIDR(hr.Destination); err == nil {
			out.HostRoutes = append(out.HostRoutes, datapath.Route{Destination: dst, NextHop: net.ParseIP(hr.NextHop)})
		}
	}
	return out
}

func mac(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}

// cidrOrHost parses a CIDR or a bare address (as a host prefix).
func cidrOrHost(s string) *net.IPNet {
	if ip, n, err := net.ParseCIDR(s); err == nil {
		n.IP = ip.Mask(n.Mask)
		return n
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil
	}
	bits := 128
	if ip.To4() != nil {
		ip, bits = ip.To4(), 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
}
