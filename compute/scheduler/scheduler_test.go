package scheduler_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kumo-cloud/kumo/compute/scheduler"
)

func TestNoValidHostExplains(t *testing.T) {
	hosts := []scheduler.Host{
		host("a", 8, 1024, 100),
		host("b", 8, 512, 100),
		with(host("c", 8, 8192, 100), func(h *scheduler.Host) { h.Enabled = false }),
	}
	req := withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.MemoryMB] = 2048 })
	_, err := scheduler.New(true).Schedule(context.Background(), hosts, req, func(scheduler.Host) error {
		t.Fatal("claimed although no host passed")
		return nil
	})
	var nvh *scheduler.NoValidHost
	if !errors.As(err, &nvh) {
		t.Fatalf("Schedule = %v, want *NoValidHost", err)
	}
	want := "No valid host was found. 3 hosts: 1 rejected by ComputeFilter (disabled), 2 by RamFilter (need 2048 MB, best has 1024)"
	if err.Error() != want {
		t.Fatalf("message:\n got %s\nwant %s", err, want)
	}
	wantRej := []scheduler.Rejection{
		{Filter: "ComputeFilter", Hosts: 1, Why: "disabled"},
		{Filter: "RamFilter", Hosts: 2, Why: "need 2048 MB, best has 1024"},
	}
	if !reflect.DeepEqual(nvh.Rejections, wantRej) {
		t.Fatalf("rejections = %+v", nvh.Rejections)
	}
}

func TestNoValidHostMessages(t *testing.T) {
	tests := []struct {
		name  string
		hosts []scheduler.Host
		req   scheduler.Request
		want  string
	}{
		{"no hosts", nil, small(), "No valid host was found. 0 hosts"},
		{"mixed compute reasons", []scheduler.Host{
			with(host("a", 8, 8192, 100), func(h *scheduler.Host) { h.Enabled = false }),
			with(host("b", 8, 8192, 100), func(h *scheduler.Host) { h.Alive = false }),
			with(host("c", 8, 8192, 100), func(h *scheduler.Host) { h.Alive = false }),
		}, small(), "No valid host was found. 3 hosts: 3 rejected by ComputeFilter (1 disabled, 2 down)"},
		{"zone", []scheduler.Host{host("a", 8, 8192, 100), with(host("b", 8, 8192, 100), func(h *scheduler.Host) { h.AvailabilityZone = "az2" })},
			withReq(small(), func(r *scheduler.Request) { r.AvailabilityZone = "az3" }),
			"No valid host was found. 2 hosts: 2 rejected by AvailabilityZoneFilter (want zone az3: 1 in nova, 1 in az2)"},
		{"several classes", []scheduler.Host{host("a", 2, 1024, 100), host("b", 1, 4096, 100)},
			withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.VCPU] = 2; r.Resources[scheduler.MemoryMB] = 2048 }),
			"No valid host was found. 2 hosts: 1 rejected by CoreFilter (need 2 VCPU, best has 1), 1 by RamFilter (need 2048 MB, best has 1024)"},
		{"anti-affinity", []scheduler.Host{host("a", 8, 8192, 100)},
			withReq(small(), func(r *scheduler.Request) {
				r.Group = &scheduler.ServerGroup{ID: "g1", Policy: scheduler.AntiAffinity, MemberHosts: []string{"a"}}
			}),
			"No valid host was found. 1 host: 1 rejected by ServerGroupAntiAffinityFilter (has 1 of 1 members of group g1 allowed)"},
		{"forced host missing", []scheduler.Host{host("a", 8, 8192, 100)},
			withReq(small(), func(r *scheduler.Request) { r.ForceHosts = []string{"zz"} }),
			"No valid host was found. 0 hosts (forced host not found: zz)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scheduler.New(true).Schedule(context.Background(), tt.hosts, tt.req, func(scheduler.Host) error { return nil })
			if err == nil || err.Error() != tt.want {
				t.Fatalf("message:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestScheduleClaimsInWeightedOrder(t *testing.T) {
	hosts := []scheduler.Host{host("small", 2, 2048, 100), host("big", 16, 32768, 100), host("mid", 8, 8192, 100),
		with(host("down", 64, 65536, 100), func(h *scheduler.Host) { h.Alive = false })}
	lost := errors.New("placement: not enough VCPU")

	var tried []string
	got, err := scheduler.New(true).Schedule(context.Background(), hosts, small(), func(h scheduler.Host) error {
		tried = append(tried, h.Name)
		if h.Name == "big" {
			return lost // another build took it first
		}
		return nil
	})
	if err != nil || got.Name != "mid" || !reflect.DeepEqual(tried, []string{"big", "mid"}) {
		t.Fatalf("Schedule = %s, %v after trying %v; want mid after big", got.Name, err, tried)
	}

	tried = nil
	got, err = scheduler.New(false).Schedule(context.Background(), hosts, small(), func(h scheduler.Host) error {
		tried = append(tried, h.Name)
		return nil
	})
	if err != nil || got.Name != "small" {
		t.Fatalf("packing chose %s, %v; want small", got.Name, err)
	}

	// Every claim lost: NoValidHost lists them.
	_, err = scheduler.New(true).Schedule(context.Background(), hosts, small(), func(scheduler.Host) error { return lost })
	want := "No valid host was found. 4 hosts: 1 rejected by ComputeFilter (down), 3 lost the claim (big: " + lost.Error()
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("message:\n got %v\nwant %s...", err, want)
	}

	// A cancelled context stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = scheduler.New(true).Schedule(ctx, hosts, small(), func(scheduler.Host) error { calls++; cancel(); return lost })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("Schedule after cancel = %v with %d claims", err, calls)
	}
	if _, err := scheduler.New(true).Schedule(ctx, hosts, small(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Schedule on a cancelled context = %v", err)
	}
}

func TestScheduleForceHosts(t *testing.T) {
	// Forced hosts skip the filters, as in Nova; the claim still decides.
	hosts := []scheduler.Host{host("a", 8, 8192, 100), with(host("b", 0, 0, 0), func(h *scheduler.Host) { h.Enabled = false })}
	req := withReq(small(), func(r *scheduler.Request) { r.ForceHosts = []string{"b"} })
	got, err := scheduler.New(true).Schedule(context.Background(), hosts, req, func(scheduler.Host) error { return nil })
	if err != nil || got.Name != "b" {
		t.Fatalf("Schedule = %s, %v; want b", got.Name, err)
	}
}

func TestScheduleAffinity(t *testing.T) {
	hosts := []scheduler.Host{host("a", 8, 8192, 100), host("b", 8, 16384, 100), host("c", 8, 4096, 100)}
	claimAll := func(scheduler.Host) error { return nil }
	tests := []struct {
		policy  string
		members []string
		want    string
	}{
		{scheduler.Affinity, []string{"c"}, "c"},
		{scheduler.AntiAffinity, []string{"b"}, "a"},
		{scheduler.SoftAffinity, []string{"c"}, "c"},
		{scheduler.SoftAntiAffinity, []string{"b"}, "a"},
		{scheduler.Affinity, nil, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			req := withReq(small(), func(r *scheduler.Request) {
				r.Group = &scheduler.ServerGroup{ID: "g", Policy: tt.policy, MemberHosts: tt.members}
			})
			got, err := scheduler.New(true).Schedule(context.Background(), hosts, req, claimAll)
			if err != nil || got.Name != tt.want {
				t.Fatalf("Schedule = %s, %v; want %s", got.Name, err, tt.want)
			}
		})
	}
}
