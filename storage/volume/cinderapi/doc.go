// Package cinderapi is the volume service's API: the Cinder v3 HTTP API
// (volumes, actions, snapshots, types, attachments, quotas, limits,
// availability zones) with microversions and Cinder's policy, and the bus
// endpoints compute calls to attach volumes (internal/rpc). It owns
// volumes' and attachments' states and the quota charged for them; it
// hands data work to the backend host's manager over JetStream and asks
// that manager to connect hosts. It must not touch volume data, which
// belongs to the driver behind the manager.
package cinderapi
