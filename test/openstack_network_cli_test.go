package test

import "testing"

// TestOpenstackNetworkCLI runs scripts/openstack-network.sh: the real
// openstack CLI against the network API (network, subnet, router with
// gateway and interface, security group rule, port, floating IP create,
// associate, disassociate, and deletes).
func TestOpenstackNetworkCLI(t *testing.T) {
	runOpenstackScript(t, "openstack-network.sh")
}
