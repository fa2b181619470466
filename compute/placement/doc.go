// Package placement owns placement: resource providers (one per compute
// host), their inventories, and allocations claimed atomically so
// concurrent builds never overcommit; the read API compatible with the
// OpenStack Placement reference. It must not know about servers beyond
// consumer ids.
//
// The tables and the race-free claims live in placement/store; this package
// serves the Placement API (read-only: providers, inventories, usages,
// allocations, allocation candidates) under /placement, honouring the
// OpenStack-API-Version: placement 1.x microversion header.
package placement
