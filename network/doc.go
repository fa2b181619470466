// Package network is kumo's Neutron: the v2.0 API (network/neutronapi),
// its PostgreSQL store with IPAM (network/store), and the host datapath
// (network/datapath) that turns the desired state into bridges, VXLAN
// devices, namespaces, dnsmasq and nftables rules.
//
// The packages under it must not import another service's packages; the
// API and the datapath meet only through the store's desired state and
// the events the API publishes on the bus.
package network
