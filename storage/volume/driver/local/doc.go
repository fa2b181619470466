// Package local is the volume driver on local qcow2 files in a libvirt
// storage pool (type dir): the first backend of driver.Driver, for
// all-in-one and single-host volume services.
//
// It owns one directory (Config.Dir, <state dir>/volumes in kumod):
//
//	pool/     the libvirt pool's target: volume-<id>.qcow2 and
//	          snapshot-<id>.qcow2, one file each
//	images/   the image cache: one flattened qcow2 base per image ID and
//	          checksum, which copy-on-write volumes back onto
//	tmp/      files being built; they are renamed into place only when
//	          complete, and whatever a crash left here is removed at start
//
// Empty volumes and copy-on-write overlays are made by libvirt
// (virStorageVolCreateXML, metadata-only writes); data copies (snapshots,
// clones, volumes from snapshots, full copies of images) are made by
// qemu-img convert into tmp/ and renamed into the pool, so a volume or
// snapshot file that exists is always complete. Snapshots, clones and
// volumes from snapshots are full (thin) copies: none depends on its
// source, so any of them can be deleted in any order. Only image bases are
// shared; a base is kept while a volume's qcow2 header names it as backing
// file, which is read from the files themselves, so the count survives a
// restart.
//
// One driver owns a directory: two processes must not use the same one
// (the per-ID locks are in memory). The package must not touch the
// database, the bus or volume states (the volume service's), nor any
// libvirt object other than its own pool, except that it removes kumo
// volume pools (named by DefaultPoolName) whose directory no longer
// exists, which removed state directories leave behind.
package local
