// Package hypervisor owns the hypervisor driver interface the compute agent
// uses and its libvirt implementation: domain XML from typed specs,
// lifecycle, console. It must not know about Nova's API, the database or the
// scheduler: callers hand it typed specs (InstanceSpec, DiskSpec, NICSpec)
// and get power states and host figures back.
package hypervisor
