// Package bus owns kumo's NATS plumbing: the embedded server, connections,
// subjects, typed request/reply, durable work queues, the events stream and KV
// buckets. It must not know any service's domain types: services bring their
// own request, reply, work and event payload types and bus only moves them as
// JSON.
package bus
