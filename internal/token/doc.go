// Package token owns kumo's token format: self-contained tokens encrypted and
// authenticated with XChaCha20-Poly1305, the rotating key repository, and the
// revocation list every service keeps in sync over NATS. It must not read
// identity's tables: the identity service issues tokens, every service
// validates them locally with a Validator fed by Follow.
package token
