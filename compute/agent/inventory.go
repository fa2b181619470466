package agent

import (
	"github.com/kumo-cloud/kumo/compute/hypervisor"
	pstore "github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/internal/config"
)

// inventories is what this host offers placement: the hypervisor's
// capacity with the operator's allocation ratios and reserves, as Nova's
// resource tracker reports it. A zero ratio takes the default; a reserve
// larger than the host is capped at the host (placement rejects more).
func inventories(st hypervisor.HostStats, al config.Allocation) map[string]pstore.Inventory {
	def := config.DefaultAllocation()
	ratio := func(v, d float64) float64 {
		if v > 0 {
			return v
		}
		return d
	}
	mem := int64(st.MemoryMB)
	reservedMem := int64(al.ReservedMemoryMB)
	if reservedMem < 0 {
		reservedMem = min(512, mem/4)
	}
	disk := int64(max(st.DiskGB, 1))
	vcpus := int64(max(st.VCPUs, 1))
	mem = max(mem, 1)
	return map[string]pstore.Inventory{
		"VCPU":      {Total: vcpus, Reserved: min(int64(al.ReservedCPUs), vcpus), AllocationRatio: ratio(al.CPURatio, def.CPURatio)},
		"MEMORY_MB": {Total: mem, Reserved: min(reservedMem, mem), AllocationRatio: ratio(al.RAMRatio, def.RAMRatio)},
		// Nova rounds reserved_host_disk_mb up to whole GB.
		"DISK_GB": {Total: disk, Reserved: min((int64(al.ReservedDiskMB)+1023)/1024, disk), AllocationRatio: ratio(al.DiskRatio, def.DiskRatio)},
	}
}
