// Package agent is the compute agent. It owns one hypervisor host:
// registers its resource provider and heartbeat, consumes this host's work
// queue, drives the hypervisor driver, reports state back to the database,
// and reconciles on start and on a timer. Long tasks (resize on the same
// host, rebuild, cold snapshots uploaded to the image service with the
// caller's token) run on a consumer of their own.
//
// It must not touch another host's instances, nor libvirt domains it did
// not create: a domain is only destroyed as a leftover when its instance
// directory lives in this agent's state directory.
package agent
