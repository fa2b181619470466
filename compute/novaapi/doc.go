// Package novaapi serves the Nova v2.1-compatible compute API under
// /compute: version documents, microversion negotiation, flavors (with
// extra specs and access lists), key pairs, limits, quota sets,
// availability zones and extensions, and servers: it writes a server's
// desired state and quota in one transaction, schedules it (compute/scheduler
// over placement providers and agent heartbeats), claims in placement and
// hands typed work (compute/work) to the chosen host's agent; power actions
// and deletes are work messages too, console output a request/reply to the
// host. Around servers it serves update, metadata, tags, lock, instance
// actions with their events, multi-create, server groups (whose policies
// the scheduler applies), os-services (a disabled compute service takes no
// new servers) and os-hypervisors (placement providers plus heartbeats).
// Resize (with confirm and revert, a migrations row and placement's move
// of the old allocation), rebuild and createImage are long tasks on the
// host (work.Task); images a server boots from are checked, and snapshots
// created, in the image service with the caller's token. A create's
// networks and security_groups are kept on the instance for its agent; the
// view's addresses come from the instance's network info cache;
// add/removeSecurityGroup ask the network service, os-interface the host.
//
// It owns the HTTP face only: data lives in compute/store, quotas in the
// shared quota engine. It must not import another service's packages, and
// it must not drive hypervisors: that is the compute agent's job.
package novaapi
