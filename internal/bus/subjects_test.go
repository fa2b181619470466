package bus_test

import (
	"testing"

	"github.com/kumo-cloud/kumo/internal/bus"
)

func TestSubjects(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"request", bus.RequestSubject("network", "create_port"), "kumo.network.v1.create_port"},
		{"host work", bus.HostWorkSubject("compute", "host1", "spawn"), host1Spawn},
		{"host work filter", bus.HostWorkFilter("compute", "host1"), host1Filter},
		{"work stream subject", bus.HostWorkStreamSubject("compute"), "kumo.compute.v1.host.>"},
		{"event", bus.EventSubject("compute", "server", "created"), "kumo.events.compute.server.created"},
		{"event filter service", bus.EventFilter("compute", "", ""), "kumo.events.compute.*.*"},
		{"event filter action", bus.EventFilter("", "", "deleted"), "kumo.events.*.*.deleted"},
		{"event method", bus.Event{Service: "image", Resource: "image", Action: "uploaded"}.Subject(), "kumo.events.image.image.uploaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestValidToken(t *testing.T) {
	tests := []struct {
		tok  string
		want bool
	}{
		{"compute", true},
		{"host-01_a", true},
		{"", false},
		{"a.b", false},
		{"*", false},
		{">", false},
		{"a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.tok, func(t *testing.T) {
			if got := bus.ValidToken(tt.tok) == nil; got != tt.want {
				t.Fatalf("ValidToken(%q) ok = %v, want %v", tt.tok, got, tt.want)
			}
		})
	}
}
