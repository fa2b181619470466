// Package work owns the typed messages the compute API and the compute
// agents exchange over the bus: per-host work (spawn, delete, power
// actions), the console request/reply, and the heartbeat record. It holds
// no logic beyond naming subjects; it must not import the API or the agent.
package work

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// Service is the bus service name of compute.
const Service = "compute"

// Work verbs, the last token of a host work subject.
const (
	VerbSpawn  = "spawn"
	VerbDelete = "delete"
	VerbAction = "action"
	// VerbTask carries the long server tasks (resize, rebuild, snapshot)
	// on a consumer of their own, so they never hold up power actions.
	VerbTask = "task"
	// VerbVolume carries volume attaches and detaches (os-volume_attachments).
	VerbVolume = "volume"
)

// Long server tasks carried by Task.
const (
	TaskResize        = "resize"
	TaskConfirmResize = "confirm_resize"
	TaskRevertResize  = "revert_resize"
	TaskRebuild       = "rebuild"
	TaskSnapshot      = "snapshot"
)

// Power and lifecycle actions carried by Action.
const (
	ActionStop       = "stop"
	ActionStart      = "start"
	ActionRebootSoft = "reboot_soft"
	ActionRebootHard = "reboot_hard"
	ActionPause      = "pause"
	ActionUnpause    = "unpause"
	ActionSuspend    = "suspend"
	ActionResume     = "resume"
)

// HeartbeatTTL is how long a host stays alive without a heartbeat; every
// process opening the heartbeat bucket must use the same value.
const HeartbeatTTL = 30 * time.Second

// HeartbeatInterval is how often an agent beats.
const HeartbeatInterval = 10 * time.Second

// Spawn asks the host's agent to build and boot an instance.
type Spawn struct {
	InstanceUUID string `json:"instance_uuid"`
}

// Delete asks the host's agent to tear an instance down and delete it.
type Delete struct {
	InstanceUUID string `json:"instance_uuid"`
}

// Action asks the host's agent to change an instance's power state.
type Action struct {
	InstanceUUID string `json:"instance_uuid"`
	Action       string `json:"action"`
}

// Task asks the host's agent to run a long task on an instance.
type Task struct {
	InstanceUUID string `json:"instance_uuid"`
	Task         string `json:"task"`
	// MigrationUUID names the resize a resize, confirm or revert works on.
	MigrationUUID string `json:"migration_uuid,omitempty"`
	// ImageID is the image a snapshot uploads to.
	ImageID string `json:"image_id,omitempty"`
	// ImageURL and Token let the agent act on the image service as the
	// caller, as Nova hands its compute manager the request context: the
	// token is the caller's own and expires with it (an hour by default),
	// which bounds how long a queued snapshot may wait. The work stream is
	// a work queue, so the message and its token are gone once acked.
	ImageURL string `json:"image_url,omitempty"`
	Token    string `json:"token,omitempty"`
}

// Volume asks the host's agent to plug (or unplug) the volume of one
// block device mapping, which the API recorded as attaching (detaching)
// with its attachment reserved (its detach begun).
type Volume struct {
	InstanceUUID string `json:"instance_uuid"`
	BDMUUID      string `json:"bdm_uuid"`
	Detach       bool   `json:"detach,omitempty"`
}

// ConsoleRequest asks a host for the tail of an instance's serial console.
type ConsoleRequest struct {
	InstanceUUID string `json:"instance_uuid"`
	// Lines is how many lines from the end; 0 or less means all.
	Lines int `json:"lines"`
}

// ConsoleReply is the console text.
type ConsoleReply struct {
	Output string `json:"output"`
}

// InterfaceRequest asks a host's agent to attach (allocate, plug and
// hot-plug) or detach (unplug and release) one interface of an instance:
// an existing port, or a new port on a network.
type InterfaceRequest struct {
	InstanceUUID string `json:"instance_uuid"`
	Detach       bool   `json:"detach,omitempty"`
	PortID       string `json:"port_id,omitempty"`
	NetworkID    string `json:"network_id,omitempty"`
	FixedIP      string `json:"fixed_ip,omitempty"`
}

// InterfaceReply is the attached port (empty for a detach).
type InterfaceReply struct {
	Port rpc.Port `json:"port"`
}

// HostInfo is what a compute agent publishes with its heartbeat.
type HostInfo struct {
	ProviderID string `json:"provider_id"`
	VirtType   string `json:"virt_type"`
	Arch       string `json:"arch"`
	// Hypervisor figures for os-hypervisors, from the driver at each beat
	// (zero when the driver could not say).
	HypervisorType    string `json:"hypervisor_type,omitempty"`
	HypervisorVersion int    `json:"hypervisor_version,omitempty"`
	CPUModel          string `json:"cpu_model,omitempty"`
	RunningVMs        int    `json:"running_vms,omitempty"`
	DiskGBUsed        int    `json:"disk_gb_used,omitempty"`
	DiskGBTotal       int    `json:"disk_gb_total,omitempty"`
}

// HostToken is bus.HostToken: a host name as one subject token.
func HostToken(host string) string {
	return bus.HostToken(host)
}

// Subject is the work subject of verb for host.
func Subject(host, verb string) string {
	return bus.HostWorkSubject(Service, HostToken(host), verb)
}

// ConsoleSubject is the request/reply subject of host's console endpoint.
// It is outside the work stream's subjects so requests are not stored.
func ConsoleSubject(host string) string {
	return fmt.Sprintf("kumo.%s.v1.console.%s", Service, HostToken(host))
}

// InterfaceSubject is the request/reply subject of host's interface
// attach and detach (os-interface): the API waits for the result.
func InterfaceSubject(host string) string {
	return fmt.Sprintf("kumo.%s.v1.interface.%s", Service, HostToken(host))
}

// Stream is compute's per-host work stream; each service has its own so
// their subjects never overlap.
const Stream = bus.WorkStream + "_COMPUTE"

// Queue opens the compute work queue.
func Queue(ctx context.Context, b *bus.Bus) (*bus.WorkQueue, error) {
	return bus.NewWorkQueue(ctx, b, Stream, []string{bus.HostWorkStreamSubject(Service)})
}

// Heartbeats opens the heartbeat bucket with HeartbeatTTL.
func Heartbeats(ctx context.Context, b *bus.Bus) (*bus.Heartbeats[HostInfo], error) {
	return bus.NewHeartbeats[HostInfo](ctx, b, HeartbeatTTL)
}

// Hostname derives a guest hostname from a server name: lower-case
// letters, digits and single dashes, at most 63 characters.
func Hostname(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	h := strings.TrimRight(b.String(), "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	if h == "" {
		h = "server"
	}
	return h
}
