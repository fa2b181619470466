package neutronapi

import (
	"context"
	"net/netip"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/network/store"
)

var floatingIPAttrs = []string{"floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address",
	"description", "project_id", "tenant_id", "tags", "dns_name", "dns_domain", "qos_policy_id"}

func (s *Service) ownFloatingIP(ctx context.Context, tx *store.Store, k caller, id string, lock bool) (*store.FloatingIP, error) {
	if uuid.Validate(id) != nil {
		return nil, floatingIPNotFound(id)
	}
	f, err := store.Get[store.FloatingIP](ctx, tx, id, lock)
	if err != nil {
		return nil, storeError(err, floatingIPNotFound, id)
	}
	if !k.owns(f.ProjectID) {
		return nil, floatingIPNotFound(id)
	}
	return f, nil
}

func floatingIPView(f *store.FloatingIP) view {
	return meta(view{"description": f.Description, "floating_network_id": f.FloatingNetworkID,
		"floating_ip_address": f.FloatingIPAddress, "port_id": f.PortID, "fixed_ip_address": f.FixedIPAddress,
		"router_id": f.RouterID, "status": f.Status, "port_details": nil, "port_forwardings": []any{},
		"qos_policy_id": nil, "dns_name": "", "dns_domain": ""}, f.Meta)
}

func (s *Service) listFloatingIPs(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	where, args := "project_id = ?", []any{k.project}
	if k.admin {
		where, args = "", nil
	}
	rows, err := store.List[store.FloatingIP](ctx, s.store, where, args...)
	if err != nil {
		return nil, api.Internal(err)
	}
	items := make([]view, len(rows))
	for i := range rows {
		items[i] = floatingIPView(&rows[i])
	}
	return s.listResponse(c, "floatingips", items)
}

func (s *Service) getFloatingIP(c *gin.Context) (*api.Response, error) {
	f, err := s.ownFloatingIP(c.Request.Context(), s.store, callerOf(c), c.Param("id"), false)
	if err != nil {
		return nil, err
	}
	return showResponse(c, "floatingip", floatingIPView(f)), nil
}

// associate points f at a port (and one of its IPv4 addresses), through
// the router that connects the port's subnet to f's external network.
func (s *Service) associate(ctx context.Context, tx *store.Store, k caller, f *store.FloatingIP, portID, fixed string) error {
	if portID == "" {
		f.PortID, f.FixedIPAddress, f.RouterID, f.Status = nil, nil, nil, "DOWN"
		return nil
	}
	p, err := s.visiblePort(ctx, tx, k, portID, false)
	if err != nil {
		return err
	}
	if !k.owns(p.ProjectID) || p.ProjectID != f.ProjectID && !k.admin {
		return portNotFound(portID)
	}
	allocs, err := tx.PortAllocations(ctx, []string{p.ID})
	if err != nil {
		return api.Internal(err)
	}
	var chosen *store.IPAllocation
	for i, a := range allocs[p.ID] {
		ad := netip.MustParseAddr(a.IPAddress)
		if fixed == "" && ad.Is4() || fixed != "" && a.IPAddress == fixed {
			chosen = &allocs[p.ID][i]
			break
		}
	}
	if chosen == nil {
		if fixed != "" {
			return badRequest("Bad floatingip request: Port %s does not have fixed ip %s.", p.ID, fixed)
		}
		return badRequest("Bad floatingip request: Port %s does not have any IPv4 address.", p.ID)
	}
	if p.NetworkID == f.FloatingNetworkID {
		return badRequest("Bad floatingip request: the port is on the floating IP's own network.")
	}
	routers, err := store.List[store.Router](ctx, tx, "gw_network_id = ?", f.FloatingNetworkID)
	if err != nil {
		return api.Internal(err)
	}
	var routerID string
	for _, r := range routers {
		have, err := routerSubnets(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if _, ok := have[chosen.SubnetID]; ok {
			routerID = r.ID
			break
		}
	}
	if routerID == "" {
		return notFound("ExternalGatewayForFloatingIPNotFound", "External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.", f.FloatingNetworkID, chosen.SubnetID, p.ID)
	}
	others, err := store.List[store.FloatingIP](ctx, tx, "port_id = ? AND fixed_ip_address = ? AND id <> ?", p.ID, chosen.IPAddress, f.ID)
	if err != nil {
		return api.Internal(err)
	}
	if len(others) > 0 {
		return conflict("FloatingIPPortAlreadyAssociated", "Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.", f.FloatingIPAddress, f.ID, p.ID, chosen.IPAddress, f.FloatingNetworkID)
	}
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status = &p.ID, &chosen.IPAddress, &routerID, "ACTIVE"
	return nil
}

func (s *Service) createFloatingIP(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "floatingip", floatingIPAttrs...)
	if err != nil {
		return nil, err
	}
	project, err := ownerFor(c, a)
	if err != nil {
		return nil, err
	}
	var netID, addr, subnetID, portID, fixed, desc string
	for _, f := range []struct {
		attr string
		dst  *string
	}{{"floating_network_id", &netID}, {"floating_ip_address", &addr}, {"subnet_id", &subnetID},
		{"port_id", &portID}, {"fixed_ip_address", &fixed}, {"description", &desc}} {
		if err := a.setStr(f.attr, f.dst); err != nil {
			return nil, err
		}
	}
	if netID == "" {
		return nil, badRequest("Failed to parse request. Required attribute 'floating_network_id' not specified")
	}
	if addr != "" && !api.Allowed(c, "create_floatingip:floating_ip_address", nil) {
		return nil, api.Forbidden("(rule:create_floatingip:floating_ip_address) is disallowed by policy").WithType("HTTPForbidden")
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	f := &store.FloatingIP{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, Description: desc, Status: "DOWN"}
	if tags, ok, err := a.strList("tags"); err != nil {
		return nil, err
	} else if ok {
		f.Tags = tags
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		n, err := s.visibleNetwork(ctx, tx, k, netID, false)
		if err != nil {
			return err
		}
		if !n.External {
			return badRequest("Bad floatingip request: Network %s is not a valid external network.", netID)
		}
		p := &store.Port{Meta: store.Meta{ID: uuid.NewString()}, NetworkID: n.ID, AdminStateUp: true, Status: "N/A",
			DeviceOwner: ownerFloatingIP, DeviceID: f.ID, BindingVNICType: "normal"}
		p.BindingProfile.V = map[string]any{}
		var want []fixedIP
		if addr != "" || subnetID != "" {
			want = []fixedIP{{SubnetID: subnetID, IPAddress: addr}}
		} else {
			subs, err := store.List[store.Subnet](ctx, tx, "network_id = ? AND ip_version = 4", n.ID)
			if err != nil {
				return api.Internal(err)
			}
			if len(subs) == 0 {
				return badRequest("Bad floatingip request: Network %s does not contain any IPv4 subnet.", n.ID)
			}
			want = []fixedIP{{SubnetID: subs[0].ID}}
		}
		if err := s.insertPort(ctx, tx, n, portSpec{port: p, fixed: want, psSet: true}); err != nil {
			return err
		}
		allocs, err := tx.PortAllocations(ctx, []string{p.ID})
		if err != nil {
			return api.Internal(err)
		}
		f.FloatingNetworkID, f.FloatingPortID, f.FloatingIPAddress = n.ID, p.ID, allocs[p.ID][0].IPAddress
		if err := s.associate(ctx, tx, k, f, portID, fixed); err != nil {
			return err
		}
		if err := tx.Create(ctx, f); err != nil {
			return storeError(err, nil, "")
		}
		// Quota last: every path locks subnets before quota rows.
		return s.charge(ctx, tx, project, ResourceFloatingIP, 1)
	})
	if err != nil {
		return nil, err
	}
	v := floatingIPView(f)
	s.publish(ctx, "floatingip", "create", f.ID, f.ProjectID, v)
	return api.Created(map[string]any{"floatingip": v}), nil
}

func (s *Service) updateFloatingIP(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "floatingip", "port_id", "fixed_ip_address", "description", "tags", "qos_policy_id")
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	var f *store.FloatingIP
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if f, err = s.ownFloatingIP(ctx, tx, k, c.Param("id"), true); err != nil {
			return err
		}
		if err := a.setStr("description", &f.Description); err != nil {
			return err
		}
		if a.has("port_id") {
			portID, _, err := a.str("port_id")
			if err != nil {
				return err
			}
			fixed, _, err := a.str("fixed_ip_address")
			if err != nil {
				return err
			}
			if err := s.associate(ctx, tx, k, f, portID, fixed); err != nil {
				return err
			}
		}
		return storeError(tx.Update(ctx, f), floatingIPNotFound, f.ID)
	})
	if err != nil {
		return nil, err
	}
	v := floatingIPView(f)
	s.publish(ctx, "floatingip", "update", f.ID, f.ProjectID, v)
	return api.OK(map[string]any{"floatingip": v}), nil
}

func (s *Service) deleteFloatingIP(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	var f *store.FloatingIP
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if f, err = s.ownFloatingIP(ctx, tx, callerOf(c), c.Param("id"), true); err != nil {
			return err
		}
		if err := s.charge(ctx, tx, f.ProjectID, ResourceFloatingIP, -1); err != nil {
			return err
		}
		if err := tx.Delete(ctx, f); err != nil {
			return storeError(err, floatingIPNotFound, f.ID)
		}
		p, err := store.Get[store.Port](ctx, tx, f.FloatingPortID, true)
		if err != nil {
			return api.Internal(err)
		}
		return s.removePort(ctx, tx, p)
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "floatingip", "delete", f.ID, f.ProjectID, nil)
	return api.NoContent(), nil
}
