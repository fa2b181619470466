// Package identity is kumo's Keystone v3-compatible service: authentication
// and tokens, domains, projects, users, groups, roles and their assignments,
// the service catalog, application credentials, the first-start bootstrap and
// its clouds.yaml. Its tables live behind identity/store. It must not import
// another service; other services learn about identity only through tokens
// and revocation events on NATS.
package identity
