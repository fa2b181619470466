// Package rpc holds the typed request/reply contracts services use with
// each other over NATS (internal/bus): plain structs and subject names,
// nothing else. A service serves its own contracts and calls others' only
// through these types, never by importing another service's packages. It
// must not import any service package.
package rpc
