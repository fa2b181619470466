// Package compute is kumo's Nova: the compute API, placement and the
// scheduler, instance lifecycle, and the per-host compute agent with its
// hypervisor driver. It must not import another service's packages; it talks
// to network and block storage over NATS (block storage through
// compute/cinder), and to the image service through
// its public API with the caller's own token (internal/glance), as Nova does.
package compute
