package work

import (
	"fmt"
	"time"
)

// The interactive serial console runs over NATS core (not JetStream: a
// console is live, nothing is replayed). The compute API asks the host's
// agent to open a session with a SerialOpen request on SerialOpenSubject;
// then bytes typed by the user flow on SerialInSubject and the guest's
// output on SerialOutSubject. An empty message is a keepalive; a message
// with the header SerialHeaderClose ends the session from either side. A
// side that hears nothing for SerialIdleTimeout gives up, so a crashed
// peer cannot leak a session.
const (
	// SerialHeaderClose, on a data message, ends the session; its value says why.
	SerialHeaderClose = "Kumo-Serial-Close"
	// SerialKeepalive is how often each side sends a keepalive.
	SerialKeepalive = 10 * time.Second
	// SerialIdleTimeout ends a session whose peer has been silent this long.
	SerialIdleTimeout = 3 * SerialKeepalive
	// SerialChunk is the most output bytes carried in one message.
	SerialChunk = 16 << 10
)

// SerialOpen asks a host's agent to attach session to an instance's serial
// port. The caller subscribes to SerialOutSubject before asking.
type SerialOpen struct {
	InstanceUUID string `json:"instance_uuid"`
	Session      string `json:"session"`
}

// SerialOpened is the agent's answer once it listens on SerialInSubject.
type SerialOpened struct {
	Session string `json:"session"`
}

// SerialOpenSubject is the request/reply subject where host's agent opens
// serial console sessions.
func SerialOpenSubject(host string) string {
	return fmt.Sprintf("kumo.%s.v1.serial.%s.open", Service, HostToken(host))
}

// SerialInSubject carries a session's input, API to agent.
func SerialInSubject(host, session string) string {
	return fmt.Sprintf("kumo.%s.v1.serial.%s.%s.in", Service, HostToken(host), session)
}

// SerialOutSubject carries a session's output, agent to API.
func SerialOutSubject(host, session string) string {
	return fmt.Sprintf("kumo.%s.v1.serial.%s.%s.out", Service, HostToken(host), session)
}
