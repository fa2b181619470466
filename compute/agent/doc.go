// Package agent is the compute agent. It owns one hypervisor host:
// registers its resource provider (inventories sized by the allocation
// ratios and reserves) and heartbeat, consumes this host's work queue,
// drives the hypervisor driver, caches images in <instances>/_base, reports
// state back to the database, keeps power states in sync from the
// hypervisor's lifecycle events and a short periodic sync, and reconciles
// on start (finishing or undoing what a crash interrupted) and on a timer.
// Long tasks (resize on the same host, rebuild, cold snapshots uploaded to
// the image service with the caller's token) run on a consumer of their
// own. A build allocates the instance's ports from the network service
// (internal/rpc) and has this host's network agent plug each one before
// the domain is defined; the ports are released on a failed build and at
// delete, and os-interface attach/detach are a request/reply to the agent.
// Volumes (os-volume_attachments and boot from volume) are plugged with
// the connection info the volume service gives for this host's connector
// and unplugged from the domain, found by their serial (the volume ID);
// attaches and detaches a crash interrupted are completed or undone from
// what the domain really has, so no volume stays attaching or detaching.
//
// It must not touch another host's instances, nor libvirt domains it did
// not create: a domain is only destroyed as a leftover when its instance
// directory lives in this agent's state directory.
package agent
