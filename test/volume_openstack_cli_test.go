package test

import "testing"

// TestOpenstackVolumeCLI runs scripts/openstack-volume.sh: the real
// openstack CLI creates, shows, renames, extends, snapshots and deletes
// volumes and types against the shared cloud.
func TestOpenstackVolumeCLI(t *testing.T) {
	runOpenstackScript(t, "openstack-volume.sh")
}
