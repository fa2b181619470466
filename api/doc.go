// Package api owns kumo's HTTP layer shared by every service: the gin engine,
// routes declared as data, request IDs, access logs, Prometheus metrics,
// health and readiness, and the rendering of typed errors in each OpenStack
// service's own dialect. It must not know any service's domain: services hand
// it a Service value and it mounts it.
package api
