package datapath

import (
	"net"
	"time"
)

// State is the typed desired state of this host's datapath. Apply makes the
// host match it exactly: what is listed is created or corrected, anything of
// this owner that is not listed is removed.
type State struct {
	Networks []Network
	DHCP     []DHCPServer
	Routers  []Router
	Ports    []Port
}

// NetworkType says how a network's bridge reaches other hosts.
type NetworkType string

// Network types.
const (
	// VXLAN networks carry a VNI and span hosts through unicast VXLAN with
	// static all-zero FDB entries for each peer VTEP (head-end replication).
	VXLAN NetworkType = "vxlan"
	// Flat networks are untagged: the bridge enslaves a named host interface,
	// or is host-only (optionally NATed to the host's uplink).
	Flat NetworkType = "flat"
)

// Network is one L2 segment: a Linux bridge on this host.
type Network struct {
	ID   string
	Type NetworkType
	// MTU of the bridge and its devices; 0 leaves the kernel default (1500
	// for flat, 1450 for VXLAN to leave room for the encapsulation).
	MTU int
	// VNI, LocalVTEP and PeerVTEPs apply to VXLAN networks. LocalVTEP nil
	// lets the kernel choose the source; no peers is a single-host network.
	VNI       uint32
	LocalVTEP net.IP
	PeerVTEPs []net.IP
	// PhysicalInterface is enslaved to a flat network's bridge; empty makes
	// a host-only bridge.
	PhysicalInterface string
	// HostAddress is put on a flat network's bridge so the host can reach
	// the network (all-in-one external network), e.g. 203.0.113.1/24.
	HostAddress *net.IPNet
	// NATUplink masquerades HostAddress's subnet when it leaves the host
	// through any other interface, and turns on the host's ip_forward.
	NATUplink bool
}

// Subnet is what a DHCP server hands out on one IP subnet.
type Subnet struct {
	CIDR       *net.IPNet
	Gateway    net.IP // nil: no router option
	DNSServers []net.IP
	HostRoutes []Route
	LeaseTime  time.Duration // 0: 24h
}

// Route is a destination and next hop.
type Route struct {
	Destination *net.IPNet
	NextHop     net.IP
}

// DHCPHost is a static DHCP entry: the only addresses a DHCP server gives.
type DHCPHost struct {
	MAC      net.HardwareAddr
	IP       net.IP
	Hostname string
}

// DHCPServer is dnsmasq in namespace qdhcp-<network id>, on a port of the
// network. It serves only its static hosts.
type DHCPServer struct {
	NetworkID string
	PortID    string
	MAC       net.HardwareAddr
	IPs       []*net.IPNet // the port's addresses with their prefix
	Subnets   []Subnet
	Hosts     []DHCPHost
	// Metadata serves 169.254.169.254:80 inside the namespace through the
	// Datapath's MetadataHandler, and pushes a classless route to it.
	Metadata bool
}

// RouterInterface is a router's leg on a network.
type RouterInterface struct {
	PortID    string
	NetworkID string
	MAC       net.HardwareAddr
	IPs       []*net.IPNet
}

// Gateway is a router's leg on an external network.
type Gateway struct {
	PortID    string
	NetworkID string
	MAC       net.HardwareAddr
	IPs       []*net.IPNet
	NextHop   net.IP // default route; nil: none
	SNAT      bool
}

// FloatingIP maps an external address to a fixed address behind the router.
type FloatingIP struct {
	FloatingIP net.IP
	FixedIP    net.IP
}

// Router is a namespace qrouter-<id> with legs into networks, SNAT on its
// gateway and DNAT/SNAT for floating IPs (nftables in the namespace).
type Router struct {
	ID          string
	Interfaces  []RouterInterface
	Gateway     *Gateway
	FloatingIPs []FloatingIP
	Routes      []Route // extra routes
}

// Direction of a security group rule, seen from the port.
type Direction string

// Rule directions.
const (
	Ingress Direction = "ingress"
	Egress  Direction = "egress"
)

// Rule is a resolved security group rule. Protocol is "", "tcp", "udp",
// "icmp", "icmpv6" or an IP protocol number; for tcp/udp/sctp
// PortMin/PortMax bound the destination port (0: any); for icmp ICMPType
// and ICMPCode (nil: any) narrow it. A remote-group rule arrives as the
// resolved RemoteIPs; RemoteCIDR and RemoteIPs empty means any.
type Rule struct {
	Direction  Direction
	EtherType  string // "IPv4" or "IPv6"
	Protocol   string
	PortMin    int
	PortMax    int
	ICMPType   *int
	ICMPCode   *int
	RemoteCIDR *net.IPNet
	RemoteIPs  []net.IP
	// RemoteGroup is true for a remote-group rule: an empty RemoteIPs then
	// matches nothing (an empty group) rather than anything.
	RemoteGroup bool
}

// AddressPair is an allowed address pair: the port may also send from IP
// (a CIDR) with MAC (nil: the port's own MAC).
type AddressPair struct {
	IP  *net.IPNet
	MAC net.HardwareAddr
}

// Port is a VM's NIC on this host: its tap device (created by the
// hypervisor; rules apply whenever it exists) on a network's bridge.
type Port struct {
	ID        string
	NetworkID string
	// Device is the tap's name; empty means TapName(ID).
	Device       string
	MAC          net.HardwareAddr
	IPs          []net.IP
	AddressPairs []AddressPair
	// PortSecurity enables anti-spoofing and security groups; without it
	// the port's traffic is not filtered at all, as Neutron.
	PortSecurity bool
	Rules        []Rule
}
