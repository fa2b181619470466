package configdrive

import (
	"fmt"
	"net"
)

// NetworkData is network_data.json: the instance's links (NICs), the
// networks (addressing) on them and the services (DNS) they offer, in Nova's
// format.
type NetworkData struct {
	Links    []Link    `json:"links"`
	Networks []Network `json:"networks"`
	Services []Service `json:"services"`
}

// Link is one layer-2 interface; the guest matches it by MAC address.
type Link struct {
	// ID names the link for Network.Link (Nova uses the tap device name).
	ID string `json:"id"`
	// VIFID is the Neutron port ID.
	VIFID string `json:"vif_id,omitempty"`
	// Type is the VIF type: "bridge", "ovs", "phy", ...
	Type string `json:"type"`
	MTU  int    `json:"mtu,omitempty"`
	// MAC is the interface's MAC address, lower case.
	MAC string `json:"ethernet_mac_address"`
}

// Network types cloud-init understands.
const (
	NetworkIPv4DHCP  = "ipv4_dhcp"
	NetworkIPv6DHCP  = "ipv6_dhcp"
	NetworkIPv4      = "ipv4"
	NetworkIPv6      = "ipv6"
	NetworkIPv6SLAAC = "ipv6_slaac"
)

// Network is one entry of network_data.json's "networks": how a link gets
// its addresses. DHCP networks need only ID, Type, Link and NetworkID; static
// ones (ipv4/ipv6) add IPAddress, Netmask and Routes.
type Network struct {
	// ID is the entry's name in this file ("network0", "network1", ...).
	ID   string `json:"id"`
	Type string `json:"type"`
	// Link is the ID of the Link this network is on.
	Link string `json:"link"`
	// NetworkID is the Neutron network ID.
	NetworkID string    `json:"network_id,omitempty"`
	IPAddress string    `json:"ip_address,omitempty"`
	Netmask   string    `json:"netmask,omitempty"`
	Routes    []Route   `json:"routes,omitempty"`
	Services  []Service `json:"services,omitempty"`
}

// Route is a static route of a static network.
type Route struct {
	Network string `json:"network"`
	Netmask string `json:"netmask"`
	Gateway string `json:"gateway"`
}

// Service is a network service the guest should use; Nova only emits "dns".
type Service struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

func (n *NetworkData) validate() error {
	links := map[string]bool{}
	for _, l := range n.Links {
		if l.ID == "" {
			return fmt.Errorf("configdrive: network_data: a link has no id")
		}
		if _, err := net.ParseMAC(l.MAC); err != nil {
			return fmt.Errorf("configdrive: network_data: link %s: bad MAC %q", l.ID, l.MAC)
		}
		links[l.ID] = true
	}
	for _, nw := range n.Networks {
		if !links[nw.Link] {
			return fmt.Errorf("configdrive: network_data: network %s refers to unknown link %q", nw.ID, nw.Link)
		}
		switch nw.Type {
		case NetworkIPv4, NetworkIPv6:
			if net.ParseIP(nw.IPAddress) == nil {
				return fmt.Errorf("configdrive: network_data: network %s: static %s needs an ip_address", nw.ID, nw.Type)
			}
		case "":
			return fmt.Errorf("configdrive: network_data: network %s has no type", nw.ID)
		}
	}
	return nil
}

// normalized returns a copy whose nil lists become empty ones (Nova always
// writes all three keys) and whose MAC addresses are lower case.
func (n *NetworkData) normalized() NetworkData {
	out := NetworkData{Links: []Link{}, Networks: []Network{}, Services: []Service{}}
	for _, l := range n.Links {
		if mac, err := net.ParseMAC(l.MAC); err == nil {
			l.MAC = mac.String()
		}
		out.Links = append(out.Links, l)
	}
	out.Networks = append(out.Networks, n.Networks...)
	out.Services = append(out.Services, n.Services...)
	return out
}
