package datapath

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// Name prefixes. Every link kumo creates in the root namespace starts with
// one of the root prefixes and carries the owner's alias, which is how
// Apply finds what is kumo's (and this owner's) to remove.
const (
	bridgePrefix  = "brq"    // network bridge
	vxlanPrefix   = "vxlan-" // VXLAN device of a network
	dhcpPrefix    = "kd-"    // root end of a DHCP port's veth
	routerPrefix  = "kr-"    // root end of a router interface's veth
	gwPrefix      = "kg-"    // root end of a router gateway's veth
	tapPrefix     = "tap"    // VM tap (owned by the hypervisor, never deleted)
	nsDHCPLeg     = "ns-"    // DHCP port inside qdhcp-
	nsRouterLeg   = "qr-"    // router interface inside qrouter-
	nsGatewayLeg  = "qg-"    // router gateway inside qrouter-
	dhcpNSPrefix  = "qdhcp-"
	routerNSPrefx = "qrouter-"
	idLen         = 11
)

func short(id string) string {
	id = strings.ReplaceAll(id, "-", "")
	if len(id) > idLen {
		return id[:idLen]
	}
	return id
}

// BridgeName is the bridge of a network: brq + 11 characters of its ID.
func BridgeName(networkID string) string { return bridgePrefix + short(networkID) }

// VXLANName is the VXLAN device of a network.
func VXLANName(vni uint32) string { return fmt.Sprintf("%s%d", vxlanPrefix, vni) }

// TapName is the default tap name of a VM port: tap + 11 characters of its ID.
func TapName(portID string) string { return tapPrefix + short(portID) }

// DHCPNamespace is the namespace of a network's DHCP server.
func DHCPNamespace(networkID string) string { return dhcpNSPrefix + networkID }

// RouterNamespace is the namespace of a router.
func RouterNamespace(routerID string) string { return routerNSPrefx + routerID }

func dhcpRootName(portID string) string { return dhcpPrefix + short(portID) }
func dhcpNSName(portID string) string   { return nsDHCPLeg + short(portID) }
func qrRootName(portID string) string   { return routerPrefix + short(portID) }
func qrNSName(portID string) string     { return nsRouterLeg + short(portID) }
func qgRootName(portID string) string   { return gwPrefix + short(portID) }
func qgNSName(portID string) string     { return nsGatewayLeg + short(portID) }

// kumoRootLink reports whether a root-namespace link name is one kumo may
// create (and so remove).
func kumoRootLink(name string) bool {
	for _, p := range []string{bridgePrefix, vxlanPrefix, dhcpPrefix, routerPrefix, gwPrefix} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// kumoNamespace reports whether a namespace name is one kumo may create.
func kumoNamespace(name string) bool {
	return strings.HasPrefix(name, dhcpNSPrefix) || strings.HasPrefix(name, routerNSPrefx)
}

// ctZone is the conntrack zone of a network's bridged traffic, stable for
// the network's lifetime, so that two networks with the same CIDR never
// share connection tracking entries.
func ctZone(networkID string) uint16 {
	h := fnv.New32a()
	h.Write([]byte(networkID))
	return uint16(h.Sum32()%65534) + 1
}
