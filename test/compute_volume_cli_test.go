package test

import (
	"testing"
	"time"
)

// TestComputeVolumeCLI runs scripts/openstack-compute-volume.sh: the real
// openstack CLI attaches and removes a volume on a kumo-tiny server and
// boots one from a volume (one server at a time).
func TestComputeVolumeCLI(t *testing.T) {
	publicTinyImage(t)
	runOpenstackScriptFor(t, "openstack-compute-volume.sh", 12*time.Minute)
}
