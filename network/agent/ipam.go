package agent

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/kumo-cloud/kumo/network/store"
)

// allocate gives a DHCP port the lowest free address of a subnet's pools,
// under the subnet's row lock as the API's IPAM does.
func allocate(ctx context.Context, tx *store.Store, subnetID, portID string) error {
	sn, err := tx.LockSubnet(ctx, subnetID)
	if err != nil {
		return err
	}
	used, err := tx.Allocated(ctx, sn.ID)
	if err != nil {
		return err
	}
	for _, p := range sn.AllocationPools.V {
		start, err1 := netip.ParseAddr(p.Start)
		end, err2 := netip.ParseAddr(p.End)
		if err1 != nil || err2 != nil {
			continue
		}
		for ip := start; ip.IsValid() && ip.Compare(end) <= 0; ip = ip.Next() {
			if !used[ip.String()] {
				return tx.Allocate(ctx, store.IPAllocation{SubnetID: sn.ID, IPAddress: ip.String(), PortID: portID, NetworkID: sn.NetworkID})
			}
		}
	}
	return fmt.Errorf("no free address on subnet %s for its DHCP port", sn.ID)
}
