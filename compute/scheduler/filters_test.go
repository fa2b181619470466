package scheduler_test

import (
	"strings"
	"testing"

	"github.com/kumo-cloud/kumo/compute/scheduler"
)

// host is a healthy host with the given free resources.
func host(name string, vcpu, memMB, diskGB int64) scheduler.Host {
	return scheduler.Host{Name: name, ProviderID: "rp-" + name, AvailabilityZone: "nova", Enabled: true, Alive: true,
		Free:         map[string]int64{scheduler.VCPU: vcpu, scheduler.MemoryMB: memMB, scheduler.DiskGB: diskGB},
		Capabilities: map[string]string{"arch": "x86_64", "hypervisor_type": "kvm,qemu", "vm_mode": "hvm"}}
}

func with(h scheduler.Host, fn func(*scheduler.Host)) scheduler.Host { fn(&h); return h }

func small() scheduler.Request {
	return scheduler.Request{Resources: map[string]int64{scheduler.VCPU: 1, scheduler.MemoryMB: 512, scheduler.DiskGB: 1}}
}

func withReq(r scheduler.Request, fn func(*scheduler.Request)) scheduler.Request { fn(&r); return r }

func TestFilters(t *testing.T) {
	h := host("h1", 4, 4096, 40)
	group := func(policy string, max int, members ...string) func(*scheduler.Request) {
		return func(r *scheduler.Request) {
			r.Group = &scheduler.ServerGroup{ID: "g", Policy: policy, MemberHosts: members, MaxServerPerHost: max}
		}
	}
	tests := []struct {
		filter scheduler.Filter
		name   string
		host   scheduler.Host
		req    scheduler.Request
		want   string // "" passes; otherwise a substring of the reason
	}{
		{scheduler.AvailabilityZoneFilter(), "no zone asked", h, small(), ""},
		{scheduler.AvailabilityZoneFilter(), "same zone", h, withReq(small(), func(r *scheduler.Request) { r.AvailabilityZone = "nova" }), ""},
		{scheduler.AvailabilityZoneFilter(), "other zone", h, withReq(small(), func(r *scheduler.Request) { r.AvailabilityZone = "az2" }), "in nova"},

		{scheduler.ComputeFilter(), "up", h, small(), ""},
		{scheduler.ComputeFilter(), "disabled", with(h, func(h *scheduler.Host) { h.Enabled = false }), small(), "disabled"},
		{scheduler.ComputeFilter(), "down", with(h, func(h *scheduler.Host) { h.Alive = false }), small(), "down"},

		{scheduler.ResourceFilter("RamFilter", scheduler.MemoryMB), "fits exactly", h,
			withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.MemoryMB] = 4096 }), ""},
		{scheduler.ResourceFilter("RamFilter", scheduler.MemoryMB), "short of memory", h,
			withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.MemoryMB] = 4097 }), "MEMORY_MB: need 4097, free 4096"},
		{scheduler.ResourceFilter("RamFilter", scheduler.MemoryMB), "ignores cpu", h,
			withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.VCPU] = 99 }), ""},
		{scheduler.ResourceFilter("CoreFilter", scheduler.VCPU), "short of cpu", h,
			withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.VCPU] = 5 }), "VCPU: need 5, free 4"},
		{scheduler.ResourceFilter("DiskFilter", scheduler.DiskGB), "short of disk", h,
			withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.DiskGB] = 41 }), "DISK_GB"},
		{scheduler.ResourceFilter("ResourceFilter"), "other class missing", h,
			withReq(small(), func(r *scheduler.Request) { r.Resources["VGPU"] = 1 }), "VGPU: need 1, free 0"},
		{scheduler.ResourceFilter("ResourceFilter"), "other class present",
			with(h, func(h *scheduler.Host) { h.Free = map[string]int64{"VGPU": 2} }),
			withReq(small(), func(r *scheduler.Request) { r.Resources["VGPU"] = 2 }), ""},
		{scheduler.ResourceFilter("ResourceFilter"), "leaves named classes alone", h,
			withReq(small(), func(r *scheduler.Request) { r.Resources[scheduler.VCPU] = 99 }), ""},

		{scheduler.ImagePropertiesFilter(), "no properties", h, small(), ""},
		{scheduler.ImagePropertiesFilter(), "matching arch alias", h,
			withReq(small(), func(r *scheduler.Request) { r.ImageProperties = map[string]string{"hw_architecture": "amd64"} }), ""},
		{scheduler.ImagePropertiesFilter(), "other arch", h,
			withReq(small(), func(r *scheduler.Request) { r.ImageProperties = map[string]string{"hw_architecture": "aarch64"} }), "arch x86_64, image wants aarch64"},
		{scheduler.ImagePropertiesFilter(), "qemu on a kvm,qemu host", h,
			withReq(small(), func(r *scheduler.Request) { r.ImageProperties = map[string]string{"img_hv_type": "QEMU"} }), ""},
		{scheduler.ImagePropertiesFilter(), "xen image", h,
			withReq(small(), func(r *scheduler.Request) { r.ImageProperties = map[string]string{"img_hv_type": "xen"} }), "hypervisor_type"},
		{scheduler.ImagePropertiesFilter(), "vm mode", h,
			withReq(small(), func(r *scheduler.Request) { r.ImageProperties = map[string]string{"hw_vm_mode": "xen"} }), "vm_mode"},
		{scheduler.ImagePropertiesFilter(), "host reports nothing", with(h, func(h *scheduler.Host) { h.Capabilities = nil }),
			withReq(small(), func(r *scheduler.Request) { r.ImageProperties = map[string]string{"hw_architecture": "aarch64"} }), ""},

		{scheduler.ServerGroupAffinityFilter(), "no group", h, small(), ""},
		{scheduler.ServerGroupAffinityFilter(), "first member goes anywhere", h, withReq(small(), group(scheduler.Affinity, 0)), ""},
		{scheduler.ServerGroupAffinityFilter(), "member's host", h, withReq(small(), group(scheduler.Affinity, 0, "h1")), ""},
		{scheduler.ServerGroupAffinityFilter(), "not a member's host", h, withReq(small(), group(scheduler.Affinity, 0, "h2")), "not a host of group g"},
		{scheduler.ServerGroupAffinityFilter(), "ignores anti-affinity", h, withReq(small(), group(scheduler.AntiAffinity, 0, "h2")), ""},

		{scheduler.ServerGroupAntiAffinityFilter(), "no member here", h, withReq(small(), group(scheduler.AntiAffinity, 0, "h2")), ""},
		{scheduler.ServerGroupAntiAffinityFilter(), "member here", h, withReq(small(), group(scheduler.AntiAffinity, 0, "h1", "h2")), "has 1 of 1"},
		{scheduler.ServerGroupAntiAffinityFilter(), "max_server_per_host 2", h, withReq(small(), group(scheduler.AntiAffinity, 2, "h1")), ""},
		{scheduler.ServerGroupAntiAffinityFilter(), "max_server_per_host 2 reached", h, withReq(small(), group(scheduler.AntiAffinity, 2, "h1", "h1")), "has 2 of 2"},
		{scheduler.ServerGroupAntiAffinityFilter(), "soft is not a filter", h, withReq(small(), group(scheduler.SoftAntiAffinity, 0, "h1")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.filter.Name+"/"+tt.name, func(t *testing.T) {
			got := tt.filter.Reject(tt.host, tt.req)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("Reject = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaultFilterNames(t *testing.T) {
	var names []string
	for _, f := range scheduler.DefaultFilters() {
		names = append(names, f.Name)
	}
	want := "AvailabilityZoneFilter ComputeFilter CoreFilter RamFilter DiskFilter ResourceFilter ImagePropertiesFilter ServerGroupAffinityFilter ServerGroupAntiAffinityFilter"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("filters = %s", got)
	}
}
