package rpc

import (
	"fmt"

	"github.com/kumo-cloud/kumo/internal/bus"
)

// NetworkService is the network service's bus name.
const NetworkService = "network"

// Request/reply subjects the network API serves for compute.
var (
	// SubjAllocatePorts creates (or takes over) and binds the ports of an
	// instance: AllocatePortsRequest → AllocatePortsReply.
	SubjAllocatePorts = bus.RequestSubject(NetworkService, "allocate_ports")
	// SubjDeallocatePorts deletes the ports compute created for an
	// instance and unbinds the ones it was given: DeallocatePortsRequest →
	// DeallocatePortsReply.
	SubjDeallocatePorts = bus.RequestSubject(NetworkService, "deallocate_ports")
	// SubjInstancePorts lists an instance's ports: InstancePortsRequest →
	// AllocatePortsReply.
	SubjInstancePorts = bus.RequestSubject(NetworkService, "instance_ports")
	// SubjInstanceSecurityGroups adds or removes a security group on every
	// port of an instance: SecurityGroupRequest → SecurityGroupReply.
	SubjInstanceSecurityGroups = bus.RequestSubject(NetworkService, "instance_security_groups")
)

// AgentPlugSubject is the request/reply subject of the network agent of
// host: PlugRequest → PlugReply. Compute's agent calls it before it
// starts a domain, so the bridge (and the port's rules) exist when libvirt
// plugs the tap.
func AgentPlugSubject(host string) string {
	return fmt.Sprintf("kumo.%s.v1.agent.%s.plug", NetworkService, bus.HostToken(host))
}

// NetworkRequest is one entry of a server create's "networks": a network
// (optionally with a fixed IP) or an existing port.
type NetworkRequest struct {
	NetworkID string `json:"network_id,omitempty"`
	PortID    string `json:"port_id,omitempty"`
	FixedIP   string `json:"fixed_ip,omitempty"`
}

// AllocatePortsRequest asks for an instance's ports. Allocation is
// idempotent per (DeviceID, request index): a retried request returns the
// ports already made.
type AllocatePortsRequest struct {
	// ProjectID and UserID are the instance owner's; the ports belong to
	// the project, and only networks it may use are accepted.
	ProjectID string `json:"project_id"`
	UserID    string `json:"user_id,omitempty"`
	// DeviceID is the instance UUID (the ports' device_id; device_owner is
	// compute:<zone>).
	DeviceID string `json:"device_id"`
	Zone     string `json:"zone,omitempty"`
	// Host is the compute host the ports are bound to (binding:host_id).
	Host string `json:"host"`
	// Requests are the server's networks in order; Auto asks for the
	// project's one usable network (Nova's "auto").
	Requests []NetworkRequest `json:"requests,omitempty"`
	Auto     bool             `json:"auto,omitempty"`
	// SecurityGroups are names or IDs for ports compute creates; empty
	// means the project's default group.
	SecurityGroups []string `json:"security_groups,omitempty"`
	// Attach adds ports to an instance that may have some (an interface
	// attach): the reply lists only the new ones. Taking over a port the
	// instance holds already returns it again.
	Attach bool `json:"attach,omitempty"`
}

// FixedIP is one address of a port, with what a guest needs to configure
// it statically (network_data.json).
type FixedIP struct {
	SubnetID  string   `json:"subnet_id"`
	Address   string   `json:"ip_address"`
	Version   int      `json:"ip_version"`
	CIDR      string   `json:"cidr"`
	Gateway   string   `json:"gateway,omitempty"`
	DNS       []string `json:"dns_nameservers,omitempty"`
	DHCP      bool     `json:"enable_dhcp"`
	HostRoute []Route  `json:"host_routes,omitempty"`
}

// Route is a subnet's host route.
type Route struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// Port is what compute needs of a port to plug a NIC and describe it.
type Port struct {
	ID          string    `json:"id"`
	NetworkID   string    `json:"network_id"`
	NetworkName string    `json:"network_name"`
	MAC         string    `json:"mac_address"`
	FixedIPs    []FixedIP `json:"fixed_ips"`
	MTU         int       `json:"mtu"`
	// Bridge and Tap are the host devices: the network's Linux bridge and
	// the tap libvirt creates for the NIC (at most 15 characters).
	Bridge string `json:"bridge"`
	Tap    string `json:"tap"`
	// Created is true when the port was made for this instance (deleted
	// with it), false when the user passed an existing port (unbound).
	Created bool `json:"created"`
	// FloatingIPs are the addresses associated with the port.
	FloatingIPs []string `json:"floating_ips,omitempty"`
}

// AllocatePortsReply lists the instance's ports in request order.
type AllocatePortsReply struct {
	Ports []Port `json:"ports"`
}

// DeallocatePortsRequest releases an instance's ports.
type DeallocatePortsRequest struct {
	ProjectID string `json:"project_id"`
	DeviceID  string `json:"device_id"`
	// PortID, if set, releases only that port (an interface detach).
	PortID string `json:"port_id,omitempty"`
}

// DeallocatePortsReply says how many ports were deleted and unbound.
type DeallocatePortsReply struct {
	Deleted int `json:"deleted"`
	Unbound int `json:"unbound"`
}

// InstancePortsRequest asks for an instance's ports.
type InstancePortsRequest struct {
	DeviceID string `json:"device_id"`
}

// SecurityGroupRequest adds (or with Remove, removes) a security group,
// by name or ID, on every port of an instance.
type SecurityGroupRequest struct {
	ProjectID string `json:"project_id"`
	DeviceID  string `json:"device_id"`
	Group     string `json:"group"`
	Remove    bool   `json:"remove,omitempty"`
}

// SecurityGroupReply is empty on success; errors carry bus codes
// (bus.CodeNotFound for an unknown group or a group not on the server,
// bus.CodeConflict for a duplicate).
type SecurityGroupReply struct{}

// PlugRequest asks a host's network agent to make a port's datapath
// ready (bridge, VXLAN, rules) before its tap appears.
type PlugRequest struct {
	PortID string `json:"port_id"`
}

// PlugReply names the devices the NIC must use.
type PlugReply struct {
	Bridge string `json:"bridge"`
	Tap    string `json:"tap"`
	MTU    int    `json:"mtu"`
}
