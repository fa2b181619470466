package rpc

import "github.com/kumo-cloud/kumo/internal/bus"

// ComputeService is the compute service's bus name.
const ComputeService = "compute"

// SubjInstanceMetadata is served by the compute API for the metadata
// service: InstanceMetadataRequest → InstanceMetadata.
var SubjInstanceMetadata = bus.RequestSubject(ComputeService, "instance_metadata")

// InstanceMetadataRequest names an instance by UUID (the device_id of the
// port the guest's request came from).
type InstanceMetadataRequest struct {
	InstanceUUID string `json:"instance_uuid"`
}

// InstanceMetadata is what the metadata service tells a guest about
// itself (the OpenStack and EC2 trees are rendered from it).
type InstanceMetadata struct {
	UUID             string            `json:"uuid"`
	Name             string            `json:"name"`
	Hostname         string            `json:"hostname"`
	ProjectID        string            `json:"project_id"`
	AvailabilityZone string            `json:"availability_zone"`
	LaunchIndex      int               `json:"launch_index"`
	ReservationID    string            `json:"reservation_id"`
	ImageRef         string            `json:"image_ref"`
	FlavorName       string            `json:"flavor_name"`
	PublicKeys       map[string]string `json:"public_keys,omitempty"`
	Meta             map[string]string `json:"meta,omitempty"`
	// UserData is the decoded user data.
	UserData []byte `json:"user_data,omitempty"`
}
