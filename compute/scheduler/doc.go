// Package scheduler owns choosing a host for a server: filters, weighers,
// and a NoValidHost explanation. It reads host state and claims through
// placement (the caller's claim function); it must not talk to libvirt or
// the API.
//
// Schedule runs the filters in order (each sees only the hosts the ones
// before it passed), weighs the survivors, and claims on them best first; a
// claim that fails, because another build took the room since the host
// state was read, moves on to the next host. When nothing is left, the
// *NoValidHost error says, per filter, how many hosts it rejected and why.
package scheduler
