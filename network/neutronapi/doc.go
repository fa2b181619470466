// Package neutronapi serves the Neutron v2.0-compatible network API under
// /network: version discovery, extensions, networks (VXLAN segments for
// tenant networks, flat external networks), subnets and IPAM, ports,
// security groups and rules, routers with their gateway and interfaces,
// floating IPs, quotas and tags, with Neutron's filters, field selection,
// sorting and pagination on every list. Every change is published as an
// event (service "network") for the network agent to reconcile. On the
// bus it serves compute's port requests (internal/rpc: allocate,
// deallocate, an instance's ports and security groups) with the same
// validation and IPAM as the REST API.
//
// It owns the HTTP face and Neutron's semantics; rows live in
// network/store and quotas in the shared quota engine. It must not import
// another service's packages, and it must not touch the host datapath:
// that is network/datapath's job, driven from the store's desired state
// (it only borrows the datapath's device names).
package neutronapi
