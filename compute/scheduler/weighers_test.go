package scheduler_test

import (
	"reflect"
	"testing"

	"github.com/kumo-cloud/kumo/compute/scheduler"
)

func order(hosts []scheduler.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

func TestWeighers(t *testing.T) {
	// a: lots of RAM, few CPUs; b: middling; c: few RAM, lots of CPUs.
	hosts := []scheduler.Host{host("a", 2, 16384, 100), host("b", 8, 8192, 100), host("c", 32, 1024, 100)}
	soft := func(policy string, members ...string) scheduler.Request {
		r := small()
		r.Group = &scheduler.ServerGroup{ID: "g", Policy: policy, MemberHosts: members}
		return r
	}
	tests := []struct {
		name     string
		weighers []scheduler.Weigher
		req      scheduler.Request
		want     []string
	}{
		{"ram spread", []scheduler.Weigher{scheduler.RAMWeigher(1)}, small(), []string{"a", "b", "c"}},
		{"ram pack", []scheduler.Weigher{scheduler.RAMWeigher(-1)}, small(), []string{"c", "b", "a"}},
		{"cpu spread", []scheduler.Weigher{scheduler.CPUWeigher(1)}, small(), []string{"c", "b", "a"}},
		{"cpu pack", []scheduler.Weigher{scheduler.CPUWeigher(-1)}, small(), []string{"a", "b", "c"}},
		{"equal disk ties by name", []scheduler.Weigher{scheduler.DiskWeigher(1)}, small(), []string{"a", "b", "c"}},
		{"ram outweighs cpu", []scheduler.Weigher{scheduler.RAMWeigher(3), scheduler.CPUWeigher(1)}, small(), []string{"a", "b", "c"}},
		{"cpu outweighs ram", []scheduler.Weigher{scheduler.RAMWeigher(1), scheduler.CPUWeigher(3)}, small(), []string{"c", "b", "a"}},
		{"zero multiplier ignored", []scheduler.Weigher{scheduler.RAMWeigher(0), scheduler.CPUWeigher(1)}, small(), []string{"c", "b", "a"}},
		{"soft affinity beats spread", scheduler.DefaultWeighers(true), soft(scheduler.SoftAffinity, "c", "c"), []string{"c", "a", "b"}},
		{"soft anti-affinity beats pack", scheduler.DefaultWeighers(false), soft(scheduler.SoftAntiAffinity, "a", "b"), []string{"c", "b", "a"}},
		{"soft weighers ignore hard policies", []scheduler.Weigher{scheduler.SoftAffinityWeigher(1), scheduler.SoftAntiAffinityWeigher(1)},
			soft(scheduler.Affinity, "c"), []string{"a", "b", "c"}},
		{"defaults spread", scheduler.DefaultWeighers(true), small(), []string{"a", "c", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scheduler.Scheduler{Weighers: tt.weighers}
			if got := order(s.Weigh(hosts, tt.req)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
		})
	}
}
