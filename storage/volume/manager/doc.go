// Package manager is the volume manager of one backend host: it consumes
// the host's volume work from JetStream (create, delete, extend, upload,
// snapshots), drives the host's volume driver, moves volumes and snapshots
// through Cinder's states and records failures; it answers the host's
// connect/disconnect requests; and on start it finishes or fails what a
// stopped process left in a transitional state. It runs where the driver's
// storage is. It must not serve HTTP nor decide attachments' states, which
// belong to the volume API.
package manager
