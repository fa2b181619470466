// Package novaapi serves the Nova v2.1-compatible compute API under
// /compute: version documents, microversion negotiation, flavors (with
// extra specs and access lists), key pairs, limits, quota sets,
// availability zones and extensions, and servers: it writes a server's
// desired state and quota in one transaction, schedules it (compute/scheduler
// over placement providers and agent heartbeats), claims in placement and
// hands typed work (compute/work) to the chosen host's agent; power actions
// and deletes are work messages too, console output a request/reply to the
// host. Resize (with confirm and revert, a migrations row and placement's
// move of the old allocation), rebuild and createImage are long tasks on
// the host (work.Task); images a server boots from are checked, and
// snapshots created, in the image service with the caller's token. Server
// groups and instance actions will join it as further files of
// the same shape.
//
// It owns the HTTP face only: data lives in compute/store, quotas in the
// shared quota engine. It must not import another service's packages, and
// it must not drive hypervisors: that is the compute agent's job.
package novaapi
