package neutronapi

import (
	"context"
	"errors"
	"net/netip"

	"github.com/kumo-cloud/kumo/network/store"
)

// ipRange is an inclusive address range.
type ipRange struct{ start, end netip.Addr }

func (r ipRange) contains(a netip.Addr) bool {
	return r.start.Compare(a) <= 0 && a.Compare(r.end) <= 0
}

func (r ipRange) overlaps(o ipRange) bool {
	return r.start.Compare(o.end) <= 0 && o.start.Compare(r.end) <= 0
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// defaultPools is Neutron's default: the CIDR without its network address,
// (for IPv4) its broadcast address, and the gateway.
func defaultPools(p netip.Prefix, gw *netip.Addr) []ipRange {
	first, last := p.Masked().Addr().Next(), lastAddr(p)
	if p.Addr().Is4() {
		last = last.Prev()
	}
	if p.Bits() >= 31 && p.Addr().Is4() || !first.IsValid() || last.Compare(first) < 0 {
		return nil
	}
	r := ipRange{first, last}
	if gw == nil || !r.contains(*gw) {
		return []ipRange{r}
	}
	var out []ipRange
	if gw.Compare(first) > 0 {
		out = append(out, ipRange{first, gw.Prev()})
	}
	if gw.Compare(last) < 0 {
		out = append(out, ipRange{gw.Next(), last})
	}
	return out
}

func pools(sn *store.Subnet) []ipRange {
	out := make([]ipRange, 0, len(sn.AllocationPools.V))
	for _, p := range sn.AllocationPools.V {
		s, err1 := netip.ParseAddr(p.Start)
		e, err2 := netip.ParseAddr(p.End)
		if err1 == nil && err2 == nil {
			out = append(out, ipRange{s, e})
		}
	}
	return out
}

// allocate gives port an address of subnet: ip if it is set (in the CIDR,
// and free: else IpAddressInUse), or the lowest free address of the
// subnet's pools (else IpAddressGenerationFailure). The subnet's row lock
// serialises allocators, and the allocation's primary key backs it up.
func (s *Service) allocate(ctx context.Context, tx *store.Store, subnetID, portID string, ip string) (string, error) {
	sn, err := tx.LockSubnet(ctx, subnetID)
	if err != nil {
		return "", storeError(err, subnetNotFound, subnetID)
	}
	used, err := tx.Allocated(ctx, sn.ID)
	if err != nil {
		return "", storeError(err, nil, "")
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return "", invalidInput("fixed_ips", ip, "'%s' is not a valid IP address", ip)
		}
		cidr := netip.MustParsePrefix(sn.CIDR)
		if !cidr.Contains(a) || a == cidr.Masked().Addr() || (a.Is4() && a == lastAddr(cidr) && cidr.Bits() < 31) {
			return "", badRequest("IP address %s is not a valid IP for the specified subnet.", ip)
		}
		ip = a.String()
		if used[ip] {
			return "", ipInUse(sn.NetworkID, ip)
		}
	} else {
		for _, r := range pools(sn) {
			for a := r.start; a.IsValid() && a.Compare(r.end) <= 0; a = a.Next() {
				if !used[a.String()] {
					ip = a.String()
					break
				}
			}
			if ip != "" {
				break
			}
		}
		if ip == "" {
			return "", conflict("IpAddressGenerationFailure", "No more IP addresses available on network %s.", sn.NetworkID)
		}
	}
	err = tx.Allocate(ctx, store.IPAllocation{SubnetID: sn.ID, IPAddress: ip, PortID: portID, NetworkID: sn.NetworkID})
	if errors.Is(err, store.ErrConflict) {
		return "", ipInUse(sn.NetworkID, ip)
	}
	return ip, storeError(err, nil, "")
}

func ipInUse(network, ip string) error {
	return conflict("IpAddressInUse", "Unable to complete operation for network %s. The IP address %s is in use.", network, ip)
}
