// Package backend owns where image bytes live: a small driver interface and
// the local-filesystem driver; it must fit Ceph RBD and S3 later. It knows
// nothing about image records, formats or policy: callers (the Glance API)
// decide what an id means, inspect staged data and record the result.
package backend
