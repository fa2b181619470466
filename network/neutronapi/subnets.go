package neutronapi

import (
	"context"
	"net/netip"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/network/store"
)

var subnetAttrs = []string{"name", "description", "network_id", "ip_version", "cidr", "gateway_ip", "allocation_pools",
	"dns_nameservers", "host_routes", "enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode", "project_id", "tenant_id",
	"subnetpool_id", "prefixlen", "tags", "segment_id", "service_types"}

// visibleSubnet loads a subnet whose network the caller may see.
func (s *Service) visibleSubnet(ctx context.Context, tx *store.Store, k caller, id string, lock bool) (*store.Subnet, error) {
	if uuid.Validate(id) != nil {
		return nil, subnetNotFound(id)
	}
	sn, err := store.Get[store.Subnet](ctx, tx, id, lock)
	if err != nil {
		return nil, storeError(err, subnetNotFound, id)
	}
	if !k.owns(sn.ProjectID) {
		if _, err := s.visibleNetwork(ctx, tx, k, sn.NetworkID, false); err != nil {
			return nil, subnetNotFound(id)
		}
	}
	return sn, nil
}

func subnetView(sn *store.Subnet) view {
	pools := []map[string]string{}
	for _, p := range sn.AllocationPools.V {
		pools = append(pools, map[string]string{"start": p.Start, "end": p.End})
	}
	dns := sn.DNSNameservers.V
	if dns == nil {
		dns = []string{}
	}
	routes := sn.HostRoutes.V
	if routes == nil {
		routes = []store.HostRoute{}
	}
	return meta(view{
		"name": sn.Name, "description": sn.Description, "network_id": sn.NetworkID, "ip_version": sn.IPVersion,
		"cidr": sn.CIDR, "gateway_ip": sn.GatewayIP, "allocation_pools": pools, "dns_nameservers": dns,
		"host_routes": routes, "enable_dhcp": sn.EnableDHCP, "ipv6_ra_mode": sn.IPv6RAMode,
		"ipv6_address_mode": sn.IPv6AddressMode, "subnetpool_id": nil, "service_types": []string{}, "segment_id": nil,
		"dns_publish_fixed_ip": false,
	}, sn.Meta)
}

func (s *Service) listSubnets(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	var rows []store.Subnet
	var err error
	if k.admin {
		rows, err = store.List[store.Subnet](ctx, s.store, "")
	} else {
		rows, err = store.List[store.Subnet](ctx, s.store,
			"project_id = ? OR network_id IN (SELECT id FROM networks WHERE shared OR external OR project_id = ?)", k.project, k.project)
	}
	if err != nil {
		return nil, api.Internal(err)
	}
	items := make([]view, len(rows))
	for i := range rows {
		items[i] = subnetView(&rows[i])
	}
	return s.listResponse(c, "subnets", items)
}

func (s *Service) getSubnet(c *gin.Context) (*api.Response, error) {
	sn, err := s.visibleSubnet(c.Request.Context(), s.store, callerOf(c), c.Param("id"), false)
	if err != nil {
		return nil, err
	}
	return showResponse(c, "subnet", subnetView(sn)), nil
}

// parseAddr parses an address of the subnet's family.
func parseAddr(attr, v string, version int) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil || (version == 4) != a.Is4() {
		return netip.Addr{}, invalidInput(attr, v, "'%s' is not a valid IP address", v)
	}
	return a, nil
}

// applySubnet sets and validates what create and update share: name,
// description, gateway, pools, DNS servers, host routes and DHCP.
func applySubnet(a attrs, sn *store.Subnet, create bool) error {
	if err := a.setStr("name", &sn.Name); err != nil {
		return err
	}
	if err := a.setStr("description", &sn.Description); err != nil {
		return err
	}
	if err := a.setBool("enable_dhcp", &sn.EnableDHCP); err != nil {
		return err
	}
	if tags, ok, err := a.strList("tags"); err != nil {
		return err
	} else if ok {
		sn.Tags = tags
	}
	cidr := netip.MustParsePrefix(sn.CIDR)
	if a.has("gateway_ip") {
		g, _, err := a.str("gateway_ip")
		if err != nil {
			return err
		}
		if g == "" {
			sn.GatewayIP = nil
		} else {
			gw, err := parseAddr("gateway_ip", g, sn.IPVersion)
			if err != nil {
				return err
			}
			if !cidr.Contains(gw) || gw == cidr.Masked().Addr() || (sn.IPVersion == 4 && gw == lastAddr(cidr)) {
				return badRequest("Invalid input for operation: Gateway is not valid on subnet.")
			}
			g = gw.String()
			sn.GatewayIP = &g
		}
	} else if create {
		g := cidr.Masked().Addr().Next().String()
		sn.GatewayIP = &g
	}
	var gw *netip.Addr
	if sn.GatewayIP != nil {
		g := netip.MustParseAddr(*sn.GatewayIP)
		gw = &g
	}
	if objs, ok, err := a.objects("allocation_pools"); err != nil {
		return err
	} else if ok && len(objs) > 0 {
		var rs []ipRange
		sn.AllocationPools.V = nil
		for _, o := range objs {
			st, _, _ := o.str("start")
			en, _, _ := o.str("end")
			sa, err1 := parseAddr("allocation_pools", st, sn.IPVersion)
			ea, err2 := parseAddr("allocation_pools", en, sn.IPVersion)
			if err1 != nil || err2 != nil {
				return badRequest("Invalid input for operation: The allocation pool %s-%s is not valid.", st, en)
			}
			r := ipRange{sa, ea}
			if ea.Compare(sa) < 0 {
				return badRequest("The allocation pool %s-%s is not valid.", st, en)
			}
			if !cidr.Contains(sa) || !cidr.Contains(ea) {
				return badRequest("The allocation pool %s-%s spans beyond the subnet cidr %s.", st, en, sn.CIDR)
			}
			for _, o := range rs {
				if o.overlaps(r) {
					return badRequest("Found overlapping allocation pools: %s-%s and %s-%s for subnet %s.", o.start, o.end, sa, ea, sn.CIDR)
				}
			}
			if gw != nil && r.contains(*gw) {
				return conflict("GatewayConflictWithAllocationPools", "Gateway ip %s conflicts with allocation pool %s-%s.", gw, sa, ea)
			}
			rs = append(rs, r)
			sn.AllocationPools.V = append(sn.AllocationPools.V, store.Pool{Start: sa.String(), End: ea.String()})
		}
	} else if create || (a.has("gateway_ip") && gw != nil) {
		if !create {
			for _, r := range pools(sn) {
				if r.contains(*gw) {
					return conflict("GatewayConflictWithAllocationPools", "Gateway ip %s conflicts with allocation pool %s-%s.", gw, r.start, r.end)
				}
			}
		} else {
			sn.AllocationPools.V = []store.Pool{}
			for _, r := range defaultPools(cidr, gw) {
				sn.AllocationPools.V = append(sn.AllocationPools.V, store.Pool{Start: r.start.String(), End: r.end.String()})
			}
		}
	}
	if list, ok, err := a.strList("dns_nameservers"); err != nil {
		return err
	} else if ok {
		sn.DNSNameservers.V = []string{}
		for _, d := range list {
			if _, err := netip.ParseAddr(d); err != nil {
				return invalidInput("dns_nameservers", d, "'%s' is not a valid nameserver", d)
			}
			if containsStr(sn.DNSNameservers.V, d) {
				return invalidInput("dns_nameservers", d, "Duplicate nameserver '%s'", d)
			}
			sn.DNSNameservers.V = append(sn.DNSNameservers.V, d)
		}
	}
	if objs, ok, err := a.objects("host_routes"); err != nil {
		return err
	} else if ok {
		sn.HostRoutes.V = []store.HostRoute{}
		for _, o := range objs {
			d, _, _ := o.str("destination")
			nh, _, _ := o.str("nexthop")
			dp, err := netip.ParsePrefix(d)
			if err != nil {
				return invalidInput("host_routes", d, "'%s' is not a valid IP subnet", d)
			}
			na, err := parseAddr("host_routes", nh, sn.IPVersion)
			if err != nil {
				return err
			}
			sn.HostRoutes.V = append(sn.HostRoutes.V, store.HostRoute{Destination: dp.Masked().String(), NextHop: na.String()})
		}
	}
	return nil
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Service) createSubnet(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "subnet", subnetAttrs...)
	if err != nil {
		return nil, err
	}
	project, err := ownerFor(c, a)
	if err != nil {
		return nil, err
	}
	netID, _, err := a.str("network_id")
	if err != nil {
		return nil, err
	}
	if netID == "" {
		return nil, badRequest("Failed to parse request. Required attribute 'network_id' not specified")
	}
	if v, _, _ := a.str("subnetpool_id"); v != "" {
		return nil, badRequest("Subnet pools are not supported.")
	}
	ver, err := a.integer("ip_version")
	if err != nil {
		return nil, err
	}
	if ver == nil {
		return nil, badRequest("Failed to parse request. Required attribute 'ip_version' not specified")
	}
	if *ver != 4 && *ver != 6 {
		return nil, invalidInput("ip_version", *ver, "%d is not in [4, 6]", *ver)
	}
	cs, _, err := a.str("cidr")
	if err != nil {
		return nil, err
	}
	if cs == "" {
		return nil, badRequest("Bad subnets request: a subnetpool must be specified in the absence of a cidr.")
	}
	cidr, err := netip.ParsePrefix(cs)
	if err != nil {
		return nil, invalidInput("cidr", cs, "'%s' is not a valid IP subnet", cs)
	}
	if (*ver == 4) != cidr.Addr().Is4() {
		return nil, badRequest("Invalid input for operation: Cannot use IPv%d subnet %s with ip_version %d.", 10-*ver, cs, *ver)
	}
	if cidr.Masked() != cidr {
		return nil, invalidInput("cidr", cs, "'%s' isn't a recommended CIDR, '%s' is recommended", cs, cidr.Masked())
	}
	if (*ver == 4 && cidr.Bits() > 30) || (*ver == 6 && cidr.Bits() > 126) || cidr.Bits() == 0 {
		return nil, badRequest("Invalid input for operation: Invalid CIDR %s for IPv%d subnet.", cs, *ver)
	}
	sn := &store.Subnet{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, NetworkID: netID,
		IPVersion: *ver, CIDR: cidr.String(), EnableDHCP: true}
	sn.DNSNameservers.V, sn.HostRoutes.V = []string{}, []store.HostRoute{}
	for _, m := range []struct {
		attr string
		dst  **string
	}{{"ipv6_ra_mode", &sn.IPv6RAMode}, {"ipv6_address_mode", &sn.IPv6AddressMode}} {
		v, _, err := a.str(m.attr)
		if err != nil {
			return nil, err
		}
		if v != "" {
			if *ver != 6 || (v != "slaac" && v != "dhcpv6-stateful" && v != "dhcpv6-stateless") {
				return nil, invalidInput(m.attr, v, "'%s' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']", v)
			}
			*m.dst = &v
		}
	}
	if err := applySubnet(a, sn, true); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		n, err := s.visibleNetwork(ctx, tx, k, netID, true)
		if err != nil {
			return err
		}
		// Only the network's owner adds subnets, shared or not, as
		// Neutron's admin_or_network_owner.
		if !k.owns(n.ProjectID) {
			return networkNotFound(netID)
		}
		others, err := store.List[store.Subnet](ctx, tx, "network_id = ?", netID)
		if err != nil {
			return api.Internal(err)
		}
		for _, o := range others {
			op := netip.MustParsePrefix(o.CIDR)
			if op.Overlaps(cidr) {
				return badRequest("Invalid input for operation: Requested subnet with cidr: %s for network: %s overlaps with another subnet.", sn.CIDR, netID)
			}
		}
		if err := s.charge(ctx, tx, project, ResourceSubnet, 1); err != nil {
			return err
		}
		return storeError(tx.Create(ctx, sn), nil, "")
	})
	if err != nil {
		return nil, err
	}
	v := subnetView(sn)
	s.publish(ctx, "subnet", "create", sn.ID, sn.ProjectID, v)
	return api.Created(map[string]any{"subnet": v}), nil
}

func (s *Service) updateSubnet(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "subnet", subnetAttrs...)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"network_id", "ip_version", "cidr", "project_id", "tenant_id", "ipv6_ra_mode", "ipv6_address_mode"} {
		if a.has(f) {
			return nil, badRequest("Cannot update read-only attribute %s", f)
		}
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	var sn *store.Subnet
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if sn, err = s.visibleSubnet(ctx, tx, k, c.Param("id"), true); err != nil {
			return err
		}
		if !k.owns(sn.ProjectID) {
			return subnetNotFound(sn.ID)
		}
		if err := applySubnet(a, sn, false); err != nil {
			return err
		}
		return storeError(tx.Update(ctx, sn), subnetNotFound, sn.ID)
	})
	if err != nil {
		return nil, err
	}
	v := subnetView(sn)
	s.publish(ctx, "subnet", "update", sn.ID, sn.ProjectID, v)
	return api.OK(map[string]any{"subnet": v}), nil
}

// removeSubnet deletes a subnet row whose addresses are all free.
func (s *Service) removeSubnet(ctx context.Context, tx *store.Store, sn *store.Subnet) error {
	if err := s.charge(ctx, tx, sn.ProjectID, ResourceSubnet, -1); err != nil {
		return err
	}
	return storeError(tx.Delete(ctx, sn), subnetNotFound, sn.ID)
}

func (s *Service) deleteSubnet(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	var sn *store.Subnet
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if sn, err = s.visibleSubnet(ctx, tx, k, c.Param("id"), true); err != nil {
			return err
		}
		if !k.owns(sn.ProjectID) {
			return subnetNotFound(sn.ID)
		}
		allocs, err := tx.SubnetAllocations(ctx, sn.ID)
		if err != nil {
			return api.Internal(err)
		}
		for _, al := range allocs {
			p, err := store.Get[store.Port](ctx, tx, al.PortID, true)
			if err != nil {
				return api.Internal(err)
			}
			if !autoDeleted[p.DeviceOwner] {
				return conflict("SubnetInUse", "Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", sn.ID)
			}
			if err := tx.Release(ctx, p.ID, sn.ID); err != nil {
				return api.Internal(err)
			}
		}
		return s.removeSubnet(ctx, tx, sn)
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "subnet", "delete", sn.ID, sn.ProjectID, nil)
	return api.NoContent(), nil
}
