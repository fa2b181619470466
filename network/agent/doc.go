// Package agent is the network agent of a host: it reads the desired
// state from the network store (networks, DHCP-enabled subnets, the ports
// bound to this host with their security groups, routers and floating
// IPs), builds a datapath.State and converges the host with
// network/datapath on start, on every network event
// (kumo.events.network.>), when a VM tap appears or goes, and every
// ReconcileInterval. It creates each network's DHCP port (device_owner
// network:dhcp, as Neutron's DHCP agent does), sets the status of the
// ports bound here (ACTIVE once their tap exists, DOWN otherwise), serves
// rpc.AgentPlugSubject(host) for compute's agent and answers guests'
// metadata requests through network/metadata.
//
// In this release a host hosts every DHCP server and every router (a
// single network node); VXLAN networks have no peer VTEPs yet. It owns
// the host's datapath of its owner tag and the DHCP ports' rows, and must
// not import compute packages.
package agent
