// Package testutil owns the test harness shared by every package: a private
// PostgreSQL cluster per test binary with a fresh database per test, an
// in-process NATS server with JetStream per test, and waitFor helpers that
// replace sleeps. It must not import any service package, so that every
// service's own tests can use it.
package testutil
