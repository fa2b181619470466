// Package datapath converges this host's network datapath to a typed
// desired State: Linux bridges and VXLAN devices for networks, dnsmasq in
// DHCP namespaces, router namespaces with NAT, and nftables security groups
// and anti-spoofing on VM taps. It owns these kernel objects and the
// dnsmasq processes, nothing else: it has no database and no API, and must
// not touch objects it did not create (other owners' links, hypervisor
// taps beyond plugging them, foreign nftables tables). The network agent
// builds the State from the network store and calls Apply on start, on
// changes and on a timer.
//
// # Apply
//
// Datapath.Apply(ctx, State) is idempotent (a second Apply of the same
// State writes nothing: links, addresses, routes, FDB entries and files are
// compared before writing, and an nftables table is reloaded only when its
// rendered text changed) and converging (what the State lists is created or
// corrected, anything of the Datapath's owner it does not list is removed).
// A failing object is reported as an *ObjectError in the joined error and
// removed rather than left half configured; the others are applied.
//
// # Naming and ownership
//
// Names fit IFNAMSIZ (15) and carry 11 characters of the object's ID
// (dashes removed):
//
//	brq<net>      bridge of a network
//	vxlan-<vni>   VXLAN device of a network (UDP 4789)
//	kd-<port>     root end of a DHCP port's veth; ns-<port> inside qdhcp-<network id>
//	kr-<port>     root end of a router interface; qr-<port> inside qrouter-<router id>
//	kg-<port>     root end of a router gateway;  qg-<port> inside qrouter-<router id>
//	tap<port>     a VM's tap (created by the hypervisor; plugged, never deleted)
//	kumo_<owner>  nftables tables (bridge and inet families) in the root namespace
//	kumo          nftables table (ip family) inside each router namespace
//
// Every root link kumo creates carries the alias "kumo:<owner>", and each
// namespace has a directory in StateDir; Apply only removes links with its
// own alias and namespaces with its own directory, so an agent and a test
// (different owners) never remove each other's objects.
//
// # Networks
//
// VXLAN networks use unicast VXLAN: one all-zero FDB entry per peer VTEP
// (head-end replication of broadcast and unknown unicast), MAC learning on
// (MACs learned behind a VTEP that stops being a peer are removed); no
// multicast is needed, and a single host needs no peer. Flat networks
// enslave a named host interface, or are host-only bridges that may carry
// a host address (HostAddress) and be NATed to the host's uplink
// (NATUplink: masquerade in the inet table, ip_forward on) — the
// all-in-one external network.
//
// # DHCP and metadata
//
// dnsmasq (DHCP only, port=0) runs in qdhcp-<network id> on its port, with
// its configuration, hosts file, leases and pid file in
// StateDir/dhcp/<network id>; dhcp-range is "static", so it only answers
// MACs in its hosts file. A change of hosts sends SIGHUP; a change of the
// configuration restarts it; nothing changed touches nothing. It drops
// privileges, so StateDir and its parents must be world-searchable.
// Options: router, DNS servers, and classless static routes (option 121)
// carrying the host routes, the metadata route (169.254.169.254/32 via the
// DHCP port) and the default route. With Metadata set, 169.254.169.254/32
// is added to the DHCP port and a listener on 169.254.169.254:80, opened
// inside the namespace and served by a goroutine of this process, hands
// each request to the Config's MetadataHandler with the network ID and the
// source IP the kernel saw; the guest's X-Forwarded-For and X-Kumo-*
// headers are replaced.
//
// # Routers
//
// qrouter-<id> has ip_forward on, qr- legs into internal networks and a
// qg- leg on the external network with the gateway addresses and every
// floating IP as a /32 (so the namespace answers ARP for them), a default
// route to the gateway's next hop, and an nftables table: DNAT of each
// floating IP to its fixed IP (prerouting and output), SNAT of the fixed IP
// to its floating IP, and, with SNAT on, SNAT of the internal subnets to
// the gateway address, all on the qg- leg.
//
// # Security groups and anti-spoofing
//
// This kernel has no connection tracking in the bridge family, so the
// filtering is split (see hostrules.go): a bridge-family table drops spoofed
// frames from each secured tap (source MAC, ARP sender MAC/IP, IPv4/IPv6
// source must be the port's or an allowed address pair's; no DHCP or
// DHCPv6 server replies, no router advertisements; non-IP/ARP frames
// dropped) and marks packets with the source and destination port; the
// inet-family forward chain, which bridged packets traverse through
// br_netfilter (Apply sets net.bridge.bridge-nf-call-ip{,6}tables=1), is
// stateful: established/related accepted, invalid dropped, the source
// port's egress rules then the destination port's ingress rules (default
// deny both ways; DHCP client traffic and IPv6 neighbour discovery always
// allowed). Each network's bridged traffic gets its own conntrack zone.
// When a port's rules change its conntrack entries are deleted, so a
// removed rule also stops the flows it had admitted. Ports without port
// security are not filtered. Rules match tap names, so a tap that does not
// exist yet is covered the moment it appears; Apply plugs it into its
// bridge when it exists, and WatchTaps plugs it the moment it appears.
// Any IPv6 link-local source is allowed (the MAC is pinned anyway);
// allowed address pairs open their CIDR for IP and ARP and their MAC for
// any of the port's addresses (MACs and addresses are not bound in pairs).
//
// nftables rules are loaded with nft(8) as whole tables in one transaction
// each (add, delete, define), which keeps each table readable and atomic.
package datapath
