// Package inspect owns the safety check every image passes before it becomes
// active: qemu-img info under CPU, memory and time limits, and the rules that
// refuse dangerous or mislabelled images (backing files, external data files,
// VMDK descriptors and extents, formats that differ from the declared
// disk_format, oversized or corrupt images).
//
// It must not touch image records or stored data: it reads one local file,
// never writes it, and returns either a Result or a *RefusedError whose
// Reason can be shown to the user.
//
// The check is two-layered. A small header check in Go refuses qcow2 files
// with a backing file or external data file and VMDK text descriptors before
// qemu-img ever runs, because qemu opens the extents a descriptor names.
// qemu-img then probes the format itself (the declared format is never passed
// to it) and its JSON report is checked against the same rules, so each
// layer covers the other.
package inspect
