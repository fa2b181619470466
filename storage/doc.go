// Package storage groups kumo's storage services: image (Glance v2) and
// volume (Cinder v3: storage/volume/cinderapi, store, manager, driver,
// work). Each lives in its own subpackage tree with its own store and
// drivers; they share no tables and never import each other.
package storage
