// Package store is the network service's data access: networks with their
// VXLAN segments, subnets, ports with their fixed addresses (IPAM),
// security groups and rules, routers and floating IPs, in the tables of
// migrations/network.
//
// It owns gorm for the network service and nothing else: validation,
// visibility and Neutron semantics live in network/neutronapi. IPAM
// allocation is race-free because an allocation locks its subnet row and
// the (subnet_id, ip_address) primary key refuses a second owner.
package store
