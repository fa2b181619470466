package store

import "github.com/kumo-cloud/kumo/internal/db"

// Network types kumo serves.
const (
	TypeVXLAN = "vxlan"
	TypeFlat  = "flat"
)

// Network is a row of the networks table.
type Network struct {
	Meta
	Name                string
	Description         string
	AdminStateUp        bool
	Shared              bool
	External            bool
	MTU                 int `gorm:"column:mtu"`
	NetworkType         string
	PhysicalNetwork     *string
	SegmentationID      *int
	PortSecurityEnabled bool
	Status              string
}

func (*Network) what() string { return "network" }

// Pool is an allocation pool of a subnet: an inclusive address range.
type Pool struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// HostRoute is a static route a subnet hands to its hosts.
type HostRoute struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

// Subnet is a row of the subnets table.
type Subnet struct {
	Meta
	NetworkID       string
	Name            string
	Description     string
	IPVersion       int     `gorm:"column:ip_version"`
	CIDR            string  `gorm:"column:cidr"`
	GatewayIP       *string `gorm:"column:gateway_ip"`
	AllocationPools JSON[[]Pool]
	DNSNameservers  JSON[[]string] `gorm:"column:dns_nameservers"`
	HostRoutes      JSON[[]HostRoute]
	EnableDHCP      bool    `gorm:"column:enable_dhcp"`
	IPv6RAMode      *string `gorm:"column:ipv6_ra_mode"`
	IPv6AddressMode *string `gorm:"column:ipv6_address_mode"`
}

func (*Subnet) what() string { return "subnet" }

// AddressPair is an extra address (and MAC) a port may send from.
type AddressPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address"`
}

// Port is a row of the ports table; its addresses are IPAllocations.
type Port struct {
	Meta
	NetworkID           string
	Name                string
	Description         string
	MACAddress          string `gorm:"column:mac_address"`
	AdminStateUp        bool
	Status              string
	DeviceOwner         string
	DeviceID            string
	BindingHostID       string
	BindingVNICType     string `gorm:"column:binding_vnic_type"`
	BindingProfile      JSON[map[string]any]
	PortSecurityEnabled bool
	AllowedAddressPairs JSON[[]AddressPair]
	SecurityGroups      db.TextArray
}

func (*Port) what() string { return "port" }

// IPAllocation is an address of a subnet held by a port.
type IPAllocation struct {
	SubnetID  string `gorm:"primaryKey"`
	IPAddress string `gorm:"primaryKey;column:ip_address"`
	PortID    string
	NetworkID string
}

// TableName implements gorm's tabler.
func (IPAllocation) TableName() string { return "ip_allocations" }

// SecurityGroup is a row of the security_groups table.
type SecurityGroup struct {
	Meta
	Name        string
	Description string
	Stateful    bool
}

func (*SecurityGroup) what() string { return "security group" }

// SecurityGroupRule is a row of the security_group_rules table.
type SecurityGroupRule struct {
	Meta
	SecurityGroupID string
	Description     string
	Direction       string
	Ethertype       string
	Protocol        *string
	PortRangeMin    *int
	PortRangeMax    *int
	RemoteIPPrefix  *string `gorm:"column:remote_ip_prefix"`
	RemoteGroupID   *string
	// Charged rules were created through the API and hold quota.
	Charged bool
}

func (*SecurityGroupRule) what() string { return "security group rule" }

// Router is a row of the routers table; its interfaces are ports whose
// device is the router.
type Router struct {
	Meta
	Name         string
	Description  string
	AdminStateUp bool
	Status       string
	GWNetworkID  *string `gorm:"column:gw_network_id"`
	GWPortID     *string `gorm:"column:gw_port_id"`
	EnableSNAT   bool    `gorm:"column:enable_snat"`
	Routes       JSON[[]HostRoute]
}

func (*Router) what() string { return "router" }

// FloatingIP is a row of the floating_ips table.
type FloatingIP struct {
	Meta
	Description       string
	FloatingNetworkID string
	FloatingPortID    string
	FloatingIPAddress string `gorm:"column:floating_ip_address"`
	PortID            *string
	FixedIPAddress    *string `gorm:"column:fixed_ip_address"`
	RouterID          *string
	Status            string
}

func (*FloatingIP) what() string { return "floating IP" }

// TableName implements gorm's tabler.
func (FloatingIP) TableName() string { return "floating_ips" }
