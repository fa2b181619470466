package rpc

import "github.com/kumo-cloud/kumo/internal/bus"

// VolumeService is the block-storage service's bus name.
const VolumeService = "volume"

// Request/reply subjects the volume API serves for compute. They follow
// Nova's use of Cinder's attachments API (3.27+): compute reserves an
// attachment when a user asks for an attach, hands the host's connector
// over when the disk is about to be plugged (and gets the connection
// info), then completes it; a detach begins detaching and deletes the
// attachment once the disk is unplugged.
var (
	// SubjVolumeGet shows a volume: VolumeRequest → Volume.
	SubjVolumeGet = bus.RequestSubject(VolumeService, "volume_get")
	// SubjVolumeCreate creates a volume for boot from volume (empty, from
	// an image, a snapshot or another volume); it returns at once with
	// status "creating": VolumeCreateRequest → Volume.
	SubjVolumeCreate = bus.RequestSubject(VolumeService, "volume_create")
	// SubjVolumeDelete deletes an available volume (a server's
	// delete_on_termination): VolumeRequest → Empty.
	SubjVolumeDelete = bus.RequestSubject(VolumeService, "volume_delete")

	// SubjAttachmentCreate reserves a volume for an instance: the volume
	// goes available → reserved (Cinder's attachment_create without a
	// connector): AttachmentCreateRequest → Attachment.
	SubjAttachmentCreate = bus.RequestSubject(VolumeService, "attachment_create")
	// SubjAttachmentUpdate gives the host's connector and returns the
	// connection info; the volume goes reserved → attaching:
	// AttachmentUpdateRequest → Attachment.
	SubjAttachmentUpdate = bus.RequestSubject(VolumeService, "attachment_update")
	// SubjAttachmentComplete marks the disk plugged: attaching → in-use:
	// AttachmentRequest → Empty.
	SubjAttachmentComplete = bus.RequestSubject(VolumeService, "attachment_complete")
	// SubjAttachmentDelete removes an attachment (after an unplug, or to
	// undo a reservation); the volume becomes available when it was the
	// last one. Deleting an attachment that does not exist succeeds:
	// AttachmentRequest → Empty.
	SubjAttachmentDelete = bus.RequestSubject(VolumeService, "attachment_delete")
	// SubjBeginDetaching moves an in-use volume to detaching:
	// VolumeRequest → Empty.
	SubjBeginDetaching = bus.RequestSubject(VolumeService, "begin_detaching")
	// SubjRollDetaching moves a detaching volume back to in-use (the
	// unplug failed): VolumeRequest → Empty.
	SubjRollDetaching = bus.RequestSubject(VolumeService, "roll_detaching")
)

// Errors carry bus codes: bus.CodeNotFound for a volume, snapshot, image
// or attachment the project cannot see (Nova answers 404), bus.CodeBadRequest
// for a volume in the wrong state (in use by another server, not available:
// Nova answers 400), bus.CodeQuotaExceeded when a create is over quota.

// Scope is on whose behalf compute calls: the server's project, or every
// project for an admin (Nova passes the user's context to Cinder).
type Scope struct {
	ProjectID   string `json:"project_id"`
	UserID      string `json:"user_id,omitempty"`
	AllProjects bool   `json:"all_projects,omitempty"`
}

// Empty is the reply of calls that return nothing.
type Empty struct{}

// VolumeRequest names a volume.
type VolumeRequest struct {
	Scope
	VolumeID string `json:"volume_id"`
}

// VolumeCreateRequest asks for a new volume of SizeGiB, from at most one
// source. Token is the caller's token, used to read the image from the
// image service (as Cinder uses the user's context).
type VolumeCreateRequest struct {
	Scope
	Name             string `json:"name,omitempty"`
	SizeGiB          int    `json:"size"`
	ImageID          string `json:"image_id,omitempty"`
	SnapshotID       string `json:"snapshot_id,omitempty"`
	SourceVolumeID   string `json:"source_volid,omitempty"`
	VolumeType       string `json:"volume_type,omitempty"`
	AvailabilityZone string `json:"availability_zone,omitempty"`
	Token            string `json:"token,omitempty"`
}

// Volume is what compute needs to know of a volume.
type Volume struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	ProjectID        string `json:"project_id"`
	Status           string `json:"status"`
	SizeGiB          int    `json:"size"`
	Bootable         bool   `json:"bootable"`
	Multiattach      bool   `json:"multiattach"`
	AvailabilityZone string `json:"availability_zone"`
	VolumeType       string `json:"volume_type"`
	// ImageID is the image the volume was created from, if any
	// (volume_image_metadata.image_id).
	ImageID     string       `json:"image_id,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Connector describes the host that will plug a volume (os-brick's
// connector properties).
type Connector struct {
	Host      string `json:"host"`
	IP        string `json:"ip,omitempty"`
	Initiator string `json:"initiator,omitempty"`
	Multipath bool   `json:"multipath,omitempty"`
	Platform  string `json:"platform,omitempty"`
	OSType    string `json:"os_type,omitempty"`
}

// Connection-info driver types (Cinder's driver_volume_type).
const (
	// ConnFile is a volume that is a file on the connecting host
	// (data: device_path, format).
	ConnFile = "file"
	// ConnRBD is a Ceph RBD image (data: name, hosts, ports,
	// auth_username, secret_uuid).
	ConnRBD = "rbd"
	// ConnISCSI is an iSCSI LUN (data: target_portal, target_iqn,
	// target_lun).
	ConnISCSI = "iscsi"
)

// ConnectionInfo tells a compute host how to reach a volume's data, in
// Cinder's shape.
type ConnectionInfo struct {
	DriverVolumeType string         `json:"driver_volume_type"`
	Data             ConnectionData `json:"data"`
}

// ConnectionData is the union of the drivers' connection fields.
type ConnectionData struct {
	VolumeID   string `json:"volume_id"`
	AccessMode string `json:"access_mode,omitempty"` // rw or ro
	// DevicePath and Format are a file volume's path on the host and its
	// image format (qcow2 or raw).
	DevicePath string `json:"device_path,omitempty"`
	Format     string `json:"format,omitempty"`
	// Name, Hosts, Ports, AuthUsername, SecretType and SecretUUID are an
	// RBD image's pool/image name, monitors and cephx secret.
	Name         string   `json:"name,omitempty"`
	Hosts        []string `json:"hosts,omitempty"`
	Ports        []string `json:"ports,omitempty"`
	AuthUsername string   `json:"auth_username,omitempty"`
	SecretType   string   `json:"secret_type,omitempty"`
	SecretUUID   string   `json:"secret_uuid,omitempty"`
	// TargetPortal, TargetIQN and TargetLUN are an iSCSI target's.
	TargetPortal string `json:"target_portal,omitempty"`
	TargetIQN    string `json:"target_iqn,omitempty"`
	TargetLUN    int    `json:"target_lun,omitempty"`
	Discard      bool   `json:"discard,omitempty"`
}

// Attachment statuses (Cinder's attach_status of an attachment).
const (
	AttachReserved  = "reserved"
	AttachAttaching = "attaching"
	AttachAttached  = "attached"
	AttachDetaching = "detaching"
)

// Attachment is a volume's attachment to an instance.
type Attachment struct {
	ID           string `json:"id"`
	VolumeID     string `json:"volume_id"`
	InstanceUUID string `json:"instance_uuid"`
	Status       string `json:"attach_status"`
	Host         string `json:"attached_host,omitempty"`
	Mountpoint   string `json:"mountpoint,omitempty"`
	// ConnectionInfo is set once a connector was given.
	ConnectionInfo *ConnectionInfo `json:"connection_info,omitempty"`
}

// AttachmentCreateRequest reserves VolumeID for InstanceUUID. A request
// for an instance that holds a reservation of that volume already returns
// it again (compute may retry).
type AttachmentCreateRequest struct {
	Scope
	VolumeID     string `json:"volume_id"`
	InstanceUUID string `json:"instance_uuid"`
	// Mode is rw (default) or ro.
	Mode string `json:"mode,omitempty"`
}

// AttachmentUpdateRequest hands the connector of the host that will plug
// the disk, and the device it will appear as.
type AttachmentUpdateRequest struct {
	Scope
	AttachmentID string    `json:"attachment_id"`
	Connector    Connector `json:"connector"`
	Mountpoint   string    `json:"mountpoint,omitempty"`
}

// AttachmentRequest names an attachment.
type AttachmentRequest struct {
	Scope
	AttachmentID string `json:"attachment_id"`
}
