// Package work owns the typed messages the volume API and the volume
// managers exchange over the bus: per-backend-host work (create, delete,
// extend, snapshots, uploads) on a JetStream work queue, and the
// connect/disconnect request/reply a manager answers for its host. It holds
// no logic beyond naming subjects; it must not import the API or the
// manager.
package work

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// Service is the bus service name of block storage.
const Service = rpc.VolumeService

// Work verbs, the last token of a host work subject.
const (
	VerbVolume   = "volume"
	VerbSnapshot = "snapshot"
)

// Volume operations carried by Volume.
const (
	OpCreate = "create"
	OpDelete = "delete"
	OpExtend = "extend"
	OpUpload = "upload"
)

// Snapshot operations carried by Snapshot.
const (
	SnapCreate = "create"
	SnapDelete = "delete"
)

// Volume asks a backend host's manager to act on a volume. The volume row
// holds the intent (status, new_size, source); the message only wakes the
// manager, which is idempotent.
type Volume struct {
	VolumeID string `json:"volume_id"`
	Op       string `json:"op"`
	// ImageURL and Token let the manager read (create from image) or
	// write (upload to image) an image as the caller, as Cinder uses the
	// request context; the token expires with the caller's own.
	ImageURL string `json:"image_url,omitempty"`
	Token    string `json:"token,omitempty"`
	// DiskFormat is the format an upload writes (raw or qcow2).
	DiskFormat string `json:"disk_format,omitempty"`
}

// Snapshot asks a backend host's manager to create or delete a snapshot.
type Snapshot struct {
	SnapshotID string `json:"snapshot_id"`
	Op         string `json:"op"`
}

// ConnectRequest asks a manager to connect (or, with Disconnect, to
// disconnect) a host to a volume through its driver.
type ConnectRequest struct {
	VolumeID   string        `json:"volume_id"`
	Connector  rpc.Connector `json:"connector"`
	Disconnect bool          `json:"disconnect,omitempty"`
}

// ConnectReply is the connection info of a connect (empty for a
// disconnect).
type ConnectReply struct {
	ConnectionInfo rpc.ConnectionInfo `json:"connection_info"`
}

// Subject is the work subject of verb for backend host.
func Subject(host, verb string) string {
	return bus.HostWorkSubject(Service, bus.HostToken(host), verb)
}

// ConnectSubject is the request/reply subject of host's connect endpoint,
// outside the work stream's subjects so requests are not stored.
func ConnectSubject(host string) string {
	return fmt.Sprintf("kumo.%s.v1.connect.%s", Service, bus.HostToken(host))
}

// ManagerService is the bus service name every volume manager registers
// its connect endpoint under, with its host and backend as metadata;
// the API lists live managers by pinging it.
const ManagerService = "volume-manager"

// Stream is block storage's per-host work stream.
const Stream = bus.WorkStream + "_VOLUME"

// Queue opens the volume work queue.
func Queue(ctx context.Context, b *bus.Bus) (*bus.WorkQueue, error) {
	return bus.NewWorkQueue(ctx, b, Stream, []string{bus.HostWorkStreamSubject(Service)})
}

// PublishEvent records a volume service state change on the events
// stream; a failure is logged, never returned: the change itself has been
// committed.
func PublishEvent(ctx context.Context, b *bus.Bus, log *slog.Logger, resource, action, id, project string, payload any) {
	if b == nil {
		return
	}
	raw, _ := json.Marshal(payload)
	ev := bus.Event{Service: Service, Resource: resource, Action: action, ResourceID: id, ProjectID: project, Payload: raw}
	if err := bus.PublishEvent(context.WithoutCancel(ctx), b, ev); err != nil {
		log.Warn("publish volume event", "resource", resource, "action", action, "id", id, "error", err)
	}
}
