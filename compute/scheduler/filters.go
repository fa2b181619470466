package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Filter rejects hosts that cannot take a request.
type Filter struct {
	// Name is the filter's name, as in Nova ("RamFilter").
	Name string
	// Reject says why h cannot take req, or "" if it can.
	Reject func(h Host, req Request) string
	// Explain, if set, summarises why the rejected hosts failed; by
	// default the distinct reasons are listed with their counts.
	Explain func(rejected []Host, req Request) string
}

// Resource classes the resource filters know by name.
const (
	VCPU     = "VCPU"
	MemoryMB = "MEMORY_MB"
	DiskGB   = "DISK_GB"
)

// DefaultFilters are Nova's usual filters, cheapest first.
func DefaultFilters() []Filter {
	return []Filter{
		AvailabilityZoneFilter(),
		ComputeFilter(),
		ResourceFilter("CoreFilter", VCPU),
		ResourceFilter("RamFilter", MemoryMB),
		ResourceFilter("DiskFilter", DiskGB),
		ResourceFilter("ResourceFilter"),
		ImagePropertiesFilter(),
		ServerGroupAffinityFilter(),
		ServerGroupAntiAffinityFilter(),
	}
}

// AvailabilityZoneFilter keeps the hosts in the requested zone.
func AvailabilityZoneFilter() Filter {
	return Filter{
		Name: "AvailabilityZoneFilter",
		Reject: func(h Host, req Request) string {
			if req.AvailabilityZone == "" || h.AvailabilityZone == req.AvailabilityZone {
				return ""
			}
			return "in " + h.AvailabilityZone
		},
		Explain: func(rejected []Host, req Request) string {
			reasons := make([]string, len(rejected))
			for i, h := range rejected {
				reasons[i] = "in " + h.AvailabilityZone
			}
			return "want zone " + req.AvailabilityZone + ": " + countReasons(reasons)
		},
	}
}

// ComputeFilter keeps the hosts whose compute service is enabled and alive.
func ComputeFilter() Filter {
	return Filter{
		Name: "ComputeFilter",
		Reject: func(h Host, _ Request) string {
			switch {
			case !h.Enabled:
				return "disabled"
			case !h.Alive:
				return "down"
			}
			return ""
		},
	}
}

// units names how a class is counted in messages.
var units = map[string]string{MemoryMB: "MB", DiskGB: "GB", VCPU: "VCPU"}

// ResourceFilter keeps the hosts with enough free resources of the given
// classes; with no classes, it checks every requested class that the
// named resource filters (VCPU, MEMORY_MB, DISK_GB) do not.
func ResourceFilter(name string, classes ...string) Filter {
	mine := func(req Request) []string {
		var out []string
		for rc := range req.Resources {
			if len(classes) == 0 && units[rc] == "" || slices.Contains(classes, rc) {
				out = append(out, rc)
			}
		}
		sort.Strings(out)
		return out
	}
	return Filter{
		Name: name,
		Reject: func(h Host, req Request) string {
			for _, rc := range mine(req) {
				if need, free := req.Resources[rc], h.Free[rc]; free < need {
					return fmt.Sprintf("%s: need %d, free %d", rc, need, free)
				}
			}
			return ""
		},
		Explain: func(rejected []Host, req Request) string {
			var parts []string
			for _, rc := range mine(req) {
				need := req.Resources[rc]
				best, short := int64(0), false
				for _, h := range rejected {
					if h.Free[rc] < need {
						short = true
					}
					best = max(best, h.Free[rc])
				}
				if !short {
					continue
				}
				unit := units[rc]
				if unit == "" {
					unit = rc
				}
				parts = append(parts, fmt.Sprintf("need %d %s, best has %d", need, unit, best))
			}
			return strings.Join(parts, "; ")
		},
	}
}

// imageChecks maps image properties to the host capability they need.
var imageChecks = []struct{ prop, capability string }{
	{"hw_architecture", "arch"},
	{"architecture", "arch"},
	{"img_hv_type", "hypervisor_type"},
	{"hypervisor_type", "hypervisor_type"},
	{"hw_vm_mode", "vm_mode"},
	{"vm_mode", "vm_mode"},
}

// canonical spells architectures, hypervisor types and VM modes the one
// way Nova does ("amd64" is "x86_64").
func canonical(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "amd64", "x64", "x86-64":
		return "x86_64"
	case "i386", "i486", "i586", "x86", "ia32":
		return "i686"
	case "arm64", "armv8", "armv8l":
		return "aarch64"
	case "hv", "hyper-v":
		return "hyperv"
	case "baremetal":
		return "hvm"
	}
	return v
}

// ImagePropertiesFilter keeps the hosts whose hypervisor supports the
// image's architecture, hypervisor type and VM mode. A host that does not
// report a capability is not rejected for it.
func ImagePropertiesFilter() Filter {
	return Filter{
		Name: "ImagePropertiesFilter",
		Reject: func(h Host, req Request) string {
			for _, c := range imageChecks {
				want := canonical(req.ImageProperties[c.prop])
				have, reported := h.Capabilities[c.capability]
				if want == "" || !reported {
					continue
				}
				var supported []string
				for _, v := range strings.Split(have, ",") {
					supported = append(supported, canonical(v))
				}
				if !slices.Contains(supported, want) {
					return fmt.Sprintf("%s %s, image wants %s", c.capability, have, want)
				}
			}
			return ""
		},
	}
}

// ServerGroupAffinityFilter keeps, for an affinity group with members, the
// hosts its members are on.
func ServerGroupAffinityFilter() Filter {
	return Filter{
		Name: "ServerGroupAffinityFilter",
		Reject: func(h Host, req Request) string {
			g := req.Group
			if g == nil || g.Policy != Affinity || len(g.MemberHosts) == 0 || g.members(h.Name) > 0 {
				return ""
			}
			return "not a host of group " + g.ID
		},
	}
}

// ServerGroupAntiAffinityFilter keeps, for an anti-affinity group, the
// hosts with fewer than max_server_per_host (default 1) of its members.
func ServerGroupAntiAffinityFilter() Filter {
	return Filter{
		Name: "ServerGroupAntiAffinityFilter",
		Reject: func(h Host, req Request) string {
			g := req.Group
			if g == nil || g.Policy != AntiAffinity {
				return ""
			}
			limit := g.MaxServerPerHost
			if limit <= 0 {
				limit = 1
			}
			if n := g.members(h.Name); n >= limit {
				return fmt.Sprintf("has %d of %d members of group %s allowed", n, limit, g.ID)
			}
			return ""
		},
	}
}
