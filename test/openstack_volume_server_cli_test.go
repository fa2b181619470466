package test

import (
	"testing"
	"time"
)

// TestOpenstackVolumeServerCLI runs scripts/openstack-volume-server.sh: the real
// openstack CLI creates a volume, attaches it to a kumo-tiny server and
// detaches it, snapshots it, makes and extends a volume from the snapshot
// and deletes them all.
func TestOpenstackVolumeServerCLI(t *testing.T) {
	publicKumoTiny(t, sharedCloud(t))
	runOpenstackScriptFor(t, "openstack-volume-server.sh", 10*time.Minute)
}
