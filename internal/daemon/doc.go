// Package daemon owns the life of one kumod process: it starts PostgreSQL
// (private or external), NATS (embedded or external), the libvirt
// connection and the HTTP listener in that order, hands them to the services
// it was asked to run, and stops everything in reverse. It must not contain
// any service's logic; services come in through Builder values.
package daemon
