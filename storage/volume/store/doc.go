// Package store is the volume service's data access: volume types with
// their extra specs, volumes, attachments and snapshots in PostgreSQL
// (migrations/volume). It owns gorm for the volume service and must not
// touch volume data (the driver's) or the bus.
package store
