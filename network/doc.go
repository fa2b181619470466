// Package network is kumo's Neutron: the v2.0 API (network/neutronapi),
// its PostgreSQL store with IPAM (network/store), the host datapath
// (network/datapath) that turns the desired state into bridges, VXLAN
// devices, namespaces, dnsmasq and nftables rules, the network agent
// (network/agent) that builds that state from the store on each host and
// serves compute's plug requests, and the metadata proxy
// (network/metadata) behind 169.254.169.254.
//
// The packages under it must not import another service's packages; the
// API and the agent meet only through the store's desired state and the
// events the API publishes on the bus, and compute is reached only through
// internal/rpc.
package network
