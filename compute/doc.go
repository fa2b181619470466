// Package compute is kumo's Nova: the compute API, placement and the
// scheduler, instance lifecycle, and the per-host compute agent with its
// hypervisor driver. It must not import another service's packages; it talks
// to network, image and block storage over NATS.
package compute
