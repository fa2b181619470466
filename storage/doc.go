// Package storage groups kumo's storage services: image (Glance v2) and,
// later, volume (Cinder v3). Each lives in its own subpackage with its own
// store and drivers; they share no tables and never import each other.
package storage
