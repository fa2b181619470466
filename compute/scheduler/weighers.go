package scheduler

// Weigher scores hosts; the scheduler normalises a weigher's raw values
// over the candidate hosts to [0, 1] and scales them by Multiplier, so a
// positive multiplier prefers high values and a negative one low values.
type Weigher struct {
	Name       string
	Multiplier float64
	// Weigh returns the raw value for h.
	Weigh func(h Host, req Request) float64
}

// SoftPolicyMultiplier is how much the soft (anti-)affinity weighers count
// against one resource weigher: more, so that a group's soft policy wins
// over spreading or packing.
const SoftPolicyMultiplier = 2.0

// DefaultWeighers weigh free RAM, CPU and disk, spreading (spread true:
// emptiest first) or packing (fullest first), and honour soft
// (anti-)affinity.
func DefaultWeighers(spread bool) []Weigher {
	m := 1.0
	if !spread {
		m = -1
	}
	return []Weigher{
		RAMWeigher(m),
		CPUWeigher(m),
		DiskWeigher(m),
		SoftAffinityWeigher(SoftPolicyMultiplier),
		SoftAntiAffinityWeigher(SoftPolicyMultiplier),
	}
}

func freeWeigher(name, rc string, multiplier float64) Weigher {
	return Weigher{Name: name, Multiplier: multiplier, Weigh: func(h Host, _ Request) float64 { return float64(h.Free[rc]) }}
}

// RAMWeigher weighs free memory: positive multipliers spread, negative
// ones pack.
func RAMWeigher(multiplier float64) Weigher { return freeWeigher("RAMWeigher", MemoryMB, multiplier) }

// CPUWeigher weighs free VCPUs: positive multipliers spread, negative ones
// pack.
func CPUWeigher(multiplier float64) Weigher { return freeWeigher("CPUWeigher", VCPU, multiplier) }

// DiskWeigher weighs free disk: positive multipliers spread, negative ones
// pack.
func DiskWeigher(multiplier float64) Weigher { return freeWeigher("DiskWeigher", DiskGB, multiplier) }

// SoftAffinityWeigher prefers, for a soft-affinity group, hosts with more
// of its members.
func SoftAffinityWeigher(multiplier float64) Weigher {
	return Weigher{Name: "ServerGroupSoftAffinityWeigher", Multiplier: multiplier, Weigh: func(h Host, req Request) float64 {
		if req.Group == nil || req.Group.Policy != SoftAffinity {
			return 0
		}
		return float64(req.Group.members(h.Name))
	}}
}

// SoftAntiAffinityWeigher prefers, for a soft-anti-affinity group, hosts
// with fewer of its members.
func SoftAntiAffinityWeigher(multiplier float64) Weigher {
	return Weigher{Name: "ServerGroupSoftAntiAffinityWeigher", Multiplier: multiplier, Weigh: func(h Host, req Request) float64 {
		if req.Group == nil || req.Group.Policy != SoftAntiAffinity {
			return 0
		}
		return -float64(req.Group.members(h.Name))
	}}
}
