package test

import "testing"

// TestOpenstackComputeCLI runs scripts/openstack-compute-basics.sh: the
// real openstack CLI against the compute API (flavors with properties and
// access, key pairs imported and generated, compute quotas, availability
// zones, absolute limits).
func TestOpenstackComputeCLI(t *testing.T) {
	runOpenstackScript(t, "openstack-compute-basics.sh")
}
