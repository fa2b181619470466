package scheduler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Host is what the scheduler knows of one compute host.
type Host struct {
	Name             string
	ProviderID       string
	AvailabilityZone string
	// Enabled is the compute service's admin state; Alive its heartbeat.
	Enabled bool
	Alive   bool
	// Free is what placement can still allocate, by resource class
	// ((total - reserved) * allocation_ratio - used).
	Free map[string]int64
	// Capabilities are what the hypervisor supports: "arch",
	// "hypervisor_type", "vm_mode"; a value may list several, separated by
	// commas ("kvm,qemu").
	Capabilities map[string]string
}

// Group policies of server groups.
const (
	Affinity         = "affinity"
	AntiAffinity     = "anti-affinity"
	SoftAffinity     = "soft-affinity"
	SoftAntiAffinity = "soft-anti-affinity"
)

// ServerGroup is the server group a server is built into.
type ServerGroup struct {
	ID     string
	Policy string
	// MemberHosts has one entry per existing member: the host it is on
	// (so a host appears as often as it has members).
	MemberHosts []string
	// MaxServerPerHost is anti-affinity's max_server_per_host rule; 0
	// means 1.
	MaxServerPerHost int
}

// members counts the group's members on host.
func (g *ServerGroup) members(host string) int {
	n := 0
	for _, h := range g.MemberHosts {
		if h == host {
			n++
		}
	}
	return n
}

// Request is what a server needs of its host.
type Request struct {
	// Resources by placement resource class (VCPU, MEMORY_MB, DISK_GB).
	Resources        map[string]int64
	AvailabilityZone string
	// ImageProperties are the image's scheduling properties:
	// hw_architecture, img_hv_type, hw_vm_mode.
	ImageProperties map[string]string
	Group           *ServerGroup
	// ForceHosts restricts the choice to these hosts and, as in Nova,
	// skips the filters for them (the claim still checks capacity).
	ForceHosts []string
}

// Scheduler chooses hosts with its filters and weighers.
type Scheduler struct {
	Filters  []Filter
	Weighers []Weigher
}

// New returns a scheduler with the default filters and weighers; spread
// is true to prefer the emptiest hosts, false to pack them.
func New(spread bool) *Scheduler {
	return &Scheduler{Filters: DefaultFilters(), Weighers: DefaultWeighers(spread)}
}

// NoValidHost says why no host could take a request.
type NoValidHost struct {
	// Hosts is how many hosts were considered.
	Hosts int
	// Rejections are the filters that rejected hosts, in the order they ran.
	Rejections []Rejection
	// ClaimErrors are the claims that failed on hosts that passed the
	// filters, by host name, in the order they were tried.
	ClaimErrors []ClaimError
	// Missing names forced hosts that are not known.
	Missing []string
}

// Rejection is what one filter did.
type Rejection struct {
	Filter string
	Hosts  int
	// Why summarises the reasons ("need 2048 MB, best has 1024").
	Why string
}

// ClaimError is a claim that failed on a host.
type ClaimError struct {
	Host string
	Err  error
}

// Error starts like Nova's message and then explains.
func (e *NoValidHost) Error() string {
	var b strings.Builder
	b.WriteString("No valid host was found. ")
	fmt.Fprintf(&b, "%d %s", e.Hosts, plural(e.Hosts, "host"))
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, " (forced %s not found: %s)", plural(len(e.Missing), "host"), strings.Join(e.Missing, ", "))
	}
	if e.Hosts == 0 {
		return b.String()
	}
	var parts []string
	for i, r := range e.Rejections {
		verb := "by"
		if i == 0 {
			verb = "rejected by"
		}
		parts = append(parts, fmt.Sprintf("%d %s %s (%s)", r.Hosts, verb, r.Filter, r.Why))
	}
	if len(e.ClaimErrors) > 0 {
		var claims []string
		for _, c := range e.ClaimErrors {
			claims = append(claims, c.Host+": "+c.Err.Error())
		}
		parts = append(parts, fmt.Sprintf("%d lost the claim (%s)", len(e.ClaimErrors), strings.Join(claims, "; ")))
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ", "))
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Filter runs the filters over hosts, in order, and returns the survivors
// and what each filter rejected.
func (s *Scheduler) Filter(hosts []Host, req Request) ([]Host, []Rejection) {
	var rejections []Rejection
	for _, f := range s.Filters {
		var kept, rejected []Host
		var reasons []string
		for _, h := range hosts {
			if why := f.Reject(h, req); why != "" {
				rejected = append(rejected, h)
				reasons = append(reasons, why)
			} else {
				kept = append(kept, h)
			}
		}
		if len(rejected) > 0 {
			why := ""
			if f.Explain != nil {
				why = f.Explain(rejected, req)
			} else {
				why = countReasons(reasons)
			}
			rejections = append(rejections, Rejection{Filter: f.Name, Hosts: len(rejected), Why: why})
		}
		hosts = kept
	}
	return hosts, rejections
}

// countReasons summarises reasons as "disabled" or "2 disabled, 1 down".
func countReasons(reasons []string) string {
	counts := map[string]int{}
	var order []string
	for _, r := range reasons {
		if counts[r] == 0 {
			order = append(order, r)
		}
		counts[r]++
	}
	if len(order) == 1 {
		return order[0]
	}
	parts := make([]string, len(order))
	for i, r := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[r], r)
	}
	return strings.Join(parts, ", ")
}

// Weigh returns hosts best first: each weigher's raw values are normalised
// to [0, 1] over the hosts and scaled by its multiplier, as Nova does; ties
// go to the host whose name sorts first, so the order is deterministic.
func (s *Scheduler) Weigh(hosts []Host, req Request) []Host {
	if len(hosts) == 0 {
		return nil
	}
	scores := make([]float64, len(hosts))
	for _, w := range s.Weighers {
		if w.Multiplier == 0 {
			continue
		}
		raw := make([]float64, len(hosts))
		for i, h := range hosts {
			raw[i] = w.Weigh(h, req)
		}
		lo, hi := slices.Min(raw), slices.Max(raw)
		for i := range hosts {
			if hi > lo {
				scores[i] += w.Multiplier * (raw[i] - lo) / (hi - lo)
			}
		}
	}
	idx := make([]int, len(hosts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if scores[idx[a]] != scores[idx[b]] {
			return scores[idx[a]] > scores[idx[b]]
		}
		return hosts[idx[a]].Name < hosts[idx[b]].Name
	})
	out := make([]Host, len(hosts))
	for i, j := range idx {
		out[i] = hosts[j]
	}
	return out
}

// Schedule picks a host for req among hosts and claims on it with claim:
// it filters, weighs, and tries hosts best first until a claim succeeds. A
// failed claim (lost race) moves on to the next host; a cancelled context
// stops at once. With nothing left it returns a *NoValidHost.
func (s *Scheduler) Schedule(ctx context.Context, hosts []Host, req Request, claim func(Host) error) (Host, error) {
	if err := ctx.Err(); err != nil {
		return Host{}, err
	}
	nvh := &NoValidHost{Hosts: len(hosts)}
	var passed []Host
	if len(req.ForceHosts) > 0 {
		for _, name := range req.ForceHosts {
			i := slices.IndexFunc(hosts, func(h Host) bool { return h.Name == name })
			if i < 0 {
				nvh.Missing = append(nvh.Missing, name)
				continue
			}
			passed = append(passed, hosts[i])
		}
		nvh.Hosts = len(passed)
	} else {
		passed, nvh.Rejections = s.Filter(hosts, req)
	}
	for _, h := range s.Weigh(passed, req) {
		err := claim(h)
		if err == nil {
			return h, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return Host{}, ctxErr
		}
		nvh.ClaimErrors = append(nvh.ClaimErrors, ClaimError{Host: h.Name, Err: err})
	}
	return Host{}, nvh
}
