package bus

import (
	"fmt"
	"strings"
)

// Subjects come in nats-server style pairs: X is the wildcard form used to
// subscribe or bind streams, XT the fmt template that builds one subject.
const (
	// SubjRequest matches every versioned request/reply subject, kumo.<service>.v1.<verb>.
	SubjRequest = "kumo.*.v1.*"
	// SubjRequestT builds a request/reply subject from service and verb.
	SubjRequestT = "kumo.%s.v1.%s"
	// SubjServiceRequestsT matches every request/reply subject of one service.
	SubjServiceRequestsT = "kumo.%s.v1.*"

	// SubjHostWork matches every per-host work subject, kumo.<service>.v1.host.<host>.<verb>.
	SubjHostWork = "kumo.*.v1.host.*.*"
	// SubjHostWorkT builds a per-host work subject from service, host and verb.
	SubjHostWorkT = "kumo.%s.v1.host.%s.%s"
	// SubjHostWorkForHostT matches all of one service's work for one host; an agent's consumer filter.
	SubjHostWorkForHostT = "kumo.%s.v1.host.%s.*"
	// SubjHostWorkServiceT matches all of one service's per-host work; a work stream subject.
	SubjHostWorkServiceT = "kumo.%s.v1.host.>"

	// SubjEvent matches every event subject, kumo.events.<service>.<resource>.<action>.
	SubjEvent = "kumo.events.*.*.*"
	// SubjEventT builds an event subject from service, resource and action.
	SubjEventT = "kumo.events.%s.%s.%s"
	// SubjServiceEventsT matches every event of one service.
	SubjServiceEventsT = "kumo.events.%s.>"
	// EventsAll matches every event; it is the events stream's subject.
	EventsAll = "kumo.events.>"

	// EventsStream is the JetStream stream that stores events.
	EventsStream = "KUMO_EVENTS"
	// WorkStream is the JetStream work-queue stream that carries per-host work.
	WorkStream = "KUMO_WORK"
	// HeartbeatBucket is the KV bucket holding host heartbeats and capacity.
	HeartbeatBucket = "kumo_heartbeats"
)

// RequestSubject returns kumo.<service>.v1.<verb>.
func RequestSubject(service, verb string) string {
	return fmt.Sprintf(SubjRequestT, service, verb)
}

// HostWorkSubject returns kumo.<service>.v1.host.<host>.<verb>.
func HostWorkSubject(service, host, verb string) string {
	return fmt.Sprintf(SubjHostWorkT, service, host, verb)
}

// HostWorkFilter returns the subject filter matching all of service's work for host.
func HostWorkFilter(service, host string) string {
	return fmt.Sprintf(SubjHostWorkForHostT, service, host)
}

// HostWorkStreamSubject returns the subject a work stream binds to carry service's per-host work.
func HostWorkStreamSubject(service string) string {
	return fmt.Sprintf(SubjHostWorkServiceT, service)
}

// EventSubject returns kumo.events.<service>.<resource>.<action>.
func EventSubject(service, resource, action string) string {
	return fmt.Sprintf(SubjEventT, service, resource, action)
}

// EventFilter returns an event subject filter in which each empty part
// matches anything, so EventFilter("compute", "", "") is kumo.events.compute.*.*.
func EventFilter(service, resource, action string) string {
	wild := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	return EventSubject(wild(service), wild(resource), wild(action))
}

// ValidToken reports whether s can be used as one subject token (a service,
// verb, host, resource or action name): non-empty, without dots, wildcards
// or whitespace.
func ValidToken(s string) error {
	if s == "" {
		return fmt.Errorf("bus: empty subject token")
	}
	if strings.ContainsAny(s, ".*> \t\r\n") {
		return fmt.Errorf("bus: invalid subject token %q", s)
	}
	return nil
}

// hostTokens replaces what a subject token cannot hold.
var hostTokens = strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_")

// HostToken turns a host name into one subject token (dots, wildcards and
// spaces are not allowed inside one), the same way for every service.
func HostToken(host string) string { return hostTokens.Replace(host) }
