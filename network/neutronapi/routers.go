package neutronapi

import (
	"context"
	"net/netip"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/network/store"
)

var routerAttrs = []string{"name", "description", "admin_state_up", "external_gateway_info", "project_id", "tenant_id",
	"routes", "tags", "distributed", "ha", "availability_zone_hints", "flavor_id"}

func (s *Service) ownRouter(ctx context.Context, tx *store.Store, k caller, id string, lock bool) (*store.Router, error) {
	if uuid.Validate(id) != nil {
		return nil, routerNotFound(id)
	}
	r, err := store.Get[store.Router](ctx, tx, id, lock)
	if err != nil {
		return nil, storeError(err, routerNotFound, id)
	}
	if !k.owns(r.ProjectID) {
		return nil, routerNotFound(id)
	}
	return r, nil
}

func (s *Service) renderRouter(ctx context.Context, tx *store.Store, r *store.Router) (view, error) {
	var gw any
	if r.GWNetworkID != nil {
		ips := []fixedIP{}
		if r.GWPortID != nil {
			allocs, err := tx.PortAllocations(ctx, []string{*r.GWPortID})
			if err != nil {
				return nil, api.Internal(err)
			}
			for _, a := range allocs[*r.GWPortID] {
				ips = append(ips, fixedIP{SubnetID: a.SubnetID, IPAddress: a.IPAddress})
			}
		}
		gw = map[string]any{"network_id": *r.GWNetworkID, "enable_snat": r.EnableSNAT, "external_fixed_ips": ips}
	}
	routes := r.Routes.V
	if routes == nil {
		routes = []store.HostRoute{}
	}
	return meta(view{"name": r.Name, "description": r.Description, "admin_state_up": r.AdminStateUp,
		"status": r.Status, "external_gateway_info": gw, "routes": routes, "distributed": false, "ha": false,
		"availability_zone_hints": []string{}, "availability_zones": []string{"nova"}, "flavor_id": nil}, r.Meta), nil
}

func (s *Service) listRouters(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	where, args := "project_id = ?", []any{k.project}
	if k.admin {
		where, args = "", nil
	}
	rows, err := store.List[store.Router](ctx, s.store, where, args...)
	if err != nil {
		return nil, api.Internal(err)
	}
	items := make([]view, len(rows))
	for i := range rows {
		if items[i], err = s.renderRouter(ctx, s.store, &rows[i]); err != nil {
			return nil, err
		}
	}
	return s.listResponse(c, "routers", items)
}

func (s *Service) getRouter(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	r, err := s.ownRouter(ctx, s.store, callerOf(c), c.Param("id"), false)
	if err != nil {
		return nil, err
	}
	v, err := s.renderRouter(ctx, s.store, r)
	if err != nil {
		return nil, err
	}
	return showResponse(c, "router", v), nil
}

// applyRouter sets name, description, state and routes.
func applyRouter(a attrs, r *store.Router) error {
	if err := a.setStr("name", &r.Name); err != nil {
		return err
	}
	if err := a.setStr("description", &r.Description); err != nil {
		return err
	}
	if err := a.setBool("admin_state_up", &r.AdminStateUp); err != nil {
		return err
	}
	if tags, ok, err := a.strList("tags"); err != nil {
		return err
	} else if ok {
		r.Tags = tags
	}
	if objs, ok, err := a.objects("routes"); err != nil {
		return err
	} else if ok {
		r.Routes.V = []store.HostRoute{}
		for _, o := range objs {
			d, _, _ := o.str("destination")
			nh, _, _ := o.str("nexthop")
			dp, err1 := netip.ParsePrefix(d)
			na, err2 := netip.ParseAddr(nh)
			if err1 != nil || err2 != nil {
				return invalidInput("routes", d, "'%s' via '%s' is not a valid route", d, nh)
			}
			r.Routes.V = append(r.Routes.V, store.HostRoute{Destination: dp.Masked().String(), NextHop: na.String()})
		}
	}
	return nil
}

// setGateway applies external_gateway_info: null (or {}) clears the
// gateway; otherwise the router gets a gateway port on the external network
// with the requested (admin only) or an allocated address.
func (s *Service) setGateway(c *gin.Context, tx *store.Store, r *store.Router, info attrs, verb string) error {
	ctx := c.Request.Context()
	netID := ""
	if info != nil {
		var err error
		if netID, _, err = info.str("network_id"); err != nil {
			return err
		}
	}
	if info != nil && info.has("enable_snat") {
		if err := info.setBool("enable_snat", &r.EnableSNAT); err != nil {
			return err
		}
	} else {
		r.EnableSNAT = true
	}
	fixed, fixedSet, err := parseFixedIPs(attrsOf(info, "external_fixed_ips"))
	if err != nil {
		return err
	}
	if fixedSet && !api.Allowed(c, verb+":external_gateway_info:external_fixed_ips", nil) {
		return api.Forbidden("(rule:%s:external_gateway_info:external_fixed_ips) is disallowed by policy", verb).WithType("HTTPForbidden")
	}
	if r.GWNetworkID != nil && (netID == "" || netID != *r.GWNetworkID || fixedSet) {
		if n, err := store.Count[store.FloatingIP](ctx, tx, "router_id = ?", r.ID); err != nil {
			return api.Internal(err)
		} else if n > 0 && netID != *r.GWNetworkID {
			return conflict("RouterExternalGatewayInUseByFloatingIp", "Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", r.ID, *r.GWNetworkID)
		}
		if r.GWPortID != nil {
			p, err := store.Get[store.Port](ctx, tx, *r.GWPortID, true)
			if err == nil {
				r.GWPortID = nil
				if err := tx.Update(ctx, r); err != nil {
					return api.Internal(err)
				}
				if err := s.removePort(ctx, tx, p); err != nil {
					return err
				}
			}
		}
		r.GWNetworkID, r.GWPortID = nil, nil
	}
	if netID == "" || r.GWNetworkID != nil {
		return nil
	}
	n, err := s.visibleNetwork(ctx, tx, callerOf(c), netID, false)
	if err != nil {
		return err
	}
	if !n.External {
		return badRequest("Bad router request: Network %s is not an external network.", netID)
	}
	p := &store.Port{Meta: store.Meta{ID: uuid.NewString()}, NetworkID: n.ID, AdminStateUp: true, Status: "DOWN",
		DeviceOwner: ownerRouterGateway, DeviceID: r.ID, BindingVNICType: "normal", PortSecurityEnabled: false}
	p.BindingProfile.V = map[string]any{}
	if err := s.insertPort(ctx, tx, n, portSpec{port: p, fixed: fixed, psSet: true}); err != nil {
		return err
	}
	if c, err := store.Count[store.IPAllocation](ctx, tx, "port_id = ?", p.ID); err != nil {
		return api.Internal(err)
	} else if c == 0 {
		return badRequest("Bad router request: No subnets defined on external network %s.", n.ID)
	}
	r.GWNetworkID, r.GWPortID = &n.ID, &p.ID
	return nil
}

// attrsOf returns a's attribute k as attrs holding it under the same key
// (so the list readers apply), or empty attrs.
func attrsOf(a attrs, k string) attrs {
	if a == nil || !a.has(k) {
		return attrs{}
	}
	return attrs{"fixed_ips": a[k]}
}

func (s *Service) createRouter(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "router", routerAttrs...)
	if err != nil {
		return nil, err
	}
	project, err := ownerFor(c, a)
	if err != nil {
		return nil, err
	}
	r := &store.Router{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, AdminStateUp: true,
		Status: "ACTIVE", EnableSNAT: true}
	r.Routes.V = []store.HostRoute{}
	if err := applyRouter(a, r); err != nil {
		return nil, err
	}
	info, infoSet, err := a.object("external_gateway_info")
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	var v view
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.Create(ctx, r); err != nil {
			return api.Internal(err)
		}
		if infoSet && info != nil {
			if err := s.setGateway(c, tx, r, info, "create_router"); err != nil {
				return err
			}
			if err := tx.Update(ctx, r); err != nil {
				return api.Internal(err)
			}
		}
		// Quota last: every path locks subnets before quota rows.
		if err := s.charge(ctx, tx, project, ResourceRouter, 1); err != nil {
			return err
		}
		var err error
		v, err = s.renderRouter(ctx, tx, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "router", "create", r.ID, r.ProjectID, v)
	return api.Created(map[string]any{"router": v}), nil
}

func (s *Service) updateRouter(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "router", routerAttrs...)
	if err != nil {
		return nil, err
	}
	info, infoSet, err := a.object("external_gateway_info")
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	var v view
	var r *store.Router
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if r, err = s.ownRouter(ctx, tx, callerOf(c), c.Param("id"), true); err != nil {
			return err
		}
		if err := applyRouter(a, r); err != nil {
			return err
		}
		if infoSet {
			if err := s.setGateway(c, tx, r, info, "update_router"); err != nil {
				return err
			}
		}
		if err := tx.Update(ctx, r); err != nil {
			return api.Internal(err)
		}
		v, err = s.renderRouter(ctx, tx, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "router", "update", r.ID, r.ProjectID, v)
	return api.OK(map[string]any{"router": v}), nil
}

func (s *Service) deleteRouter(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	var r *store.Router
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if r, err = s.ownRouter(ctx, tx, callerOf(c), c.Param("id"), true); err != nil {
			return err
		}
		if n, err := store.Count[store.Port](ctx, tx, "device_id = ? AND device_owner = ?", r.ID, ownerRouterInterface); err != nil {
			return api.Internal(err)
		} else if n > 0 {
			return conflict("RouterInUse", "Router %s still has ports", r.ID)
		}
		if err := s.setGateway(c, tx, r, nil, "update_router"); err != nil {
			return err
		}
		if err := s.charge(ctx, tx, r.ProjectID, ResourceRouter, -1); err != nil {
			return err
		}
		return storeError(tx.Delete(ctx, r), routerNotFound, r.ID)
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "router", "delete", r.ID, r.ProjectID, nil)
	return api.NoContent(), nil
}

// interfaceBody reads {"subnet_id"} or {"port_id"} (exactly one).
func interfaceBody(c *gin.Context) (subnetID, portID string, err error) {
	var body map[string]any
	if err := api.BindJSON(c, &body); err != nil {
		return "", "", err
	}
	a := attrs(body)
	if subnetID, _, err = a.str("subnet_id"); err != nil {
		return "", "", err
	}
	if portID, _, err = a.str("port_id"); err != nil {
		return "", "", err
	}
	if (subnetID == "") == (portID == "") {
		return "", "", badRequest("Bad router request: Either subnet_id or port_id must be specified.")
	}
	return subnetID, portID, nil
}

// routerSubnets returns the subnets the router has interfaces on.
func routerSubnets(ctx context.Context, tx *store.Store, routerID string) (map[string]string, error) {
	ports, err := store.List[store.Port](ctx, tx, "device_id = ? AND device_owner = ?", routerID, ownerRouterInterface)
	if err != nil {
		return nil, api.Internal(err)
	}
	ids := make([]string, len(ports))
	for i, p := range ports {
		ids[i] = p.ID
	}
	allocs, err := tx.PortAllocations(ctx, ids)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := map[string]string{}
	for pid, as := range allocs {
		for _, a := range as {
			out[a.SubnetID] = pid
		}
	}
	return out, nil
}

func (s *Service) addRouterInterface(c *gin.Context) (*api.Response, error) {
	subnetID, portID, err := interfaceBody(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	var r *store.Router
	var p *store.Port
	var subnets []string
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if r, err = s.ownRouter(ctx, tx, k, c.Param("id"), true); err != nil {
			return err
		}
		have, err := routerSubnets(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if portID != "" {
			if p, err = s.visiblePort(ctx, tx, k, portID, true); err != nil {
				return err
			}
			if p.DeviceID != "" || p.DeviceOwner != "" {
				return conflict("PortInUse", "Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.ID, p.NetworkID, p.DeviceID)
			}
			allocs, err := tx.PortAllocations(ctx, []string{p.ID})
			if err != nil {
				return api.Internal(err)
			}
			if len(allocs[p.ID]) == 0 {
				return badRequest("Bad router request: Router port must have at least one fixed IP.")
			}
			for _, a := range allocs[p.ID] {
				if _, ok := have[a.SubnetID]; ok {
					return badRequest("Bad router request: Router already has a port on subnet %s.", a.SubnetID)
				}
				subnets = append(subnets, a.SubnetID)
			}
			p.DeviceID, p.DeviceOwner, p.SecurityGroups = r.ID, ownerRouterInterface, nil
			p.SecurityGroups = []string{}
			return storeError(tx.Update(ctx, p), portNotFound, p.ID)
		}
		sn, err := s.visibleSubnet(ctx, tx, k, subnetID, false)
		if err != nil {
			return err
		}
		if sn.GatewayIP == nil {
			return badRequest("Bad router request: Subnet for router interface must have a gateway IP.")
		}
		if _, ok := have[sn.ID]; ok {
			return badRequest("Bad router request: Router already has a port on subnet %s.", sn.ID)
		}
		n, err := store.Get[store.Network](ctx, tx, sn.NetworkID, false)
		if err != nil {
			return api.Internal(err)
		}
		if n.External {
			return badRequest("Bad router request: Router interface on an external network is not allowed; set it as the gateway.")
		}
		p = &store.Port{Meta: store.Meta{ID: uuid.NewString(), ProjectID: r.ProjectID}, NetworkID: n.ID,
			AdminStateUp: true, Status: "ACTIVE", DeviceOwner: ownerRouterInterface, DeviceID: r.ID,
			BindingVNICType: "normal", PortSecurityEnabled: false}
		p.BindingProfile.V = map[string]any{}
		subnets = []string{sn.ID}
		return s.insertPort(ctx, tx, n, portSpec{port: p, fixed: []fixedIP{{SubnetID: sn.ID, IPAddress: *sn.GatewayIP}}, psSet: true})
	})
	if err != nil {
		return nil, err
	}
	body := map[string]any{"id": r.ID, "tenant_id": r.ProjectID, "project_id": r.ProjectID, "port_id": p.ID,
		"network_id": p.NetworkID, "subnet_id": subnets[0], "subnet_ids": subnets}
	s.publish(ctx, "router", "add_interface", r.ID, r.ProjectID, body)
	return api.OK(body), nil
}

func (s *Service) removeRouterInterface(c *gin.Context) (*api.Response, error) {
	subnetID, portID, err := interfaceBody(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	var r *store.Router
	var p *store.Port
	var subnets []string
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if r, err = s.ownRouter(ctx, tx, k, c.Param("id"), true); err != nil {
			return err
		}
		have, err := routerSubnets(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if portID != "" {
			p, err = store.Get[store.Port](ctx, tx, portID, true)
			if err != nil || p.DeviceID != r.ID || p.DeviceOwner != ownerRouterInterface {
				return notFound("RouterInterfaceNotFound", "Router %s does not have an interface with id %s", r.ID, portID)
			}
		} else {
			pid, ok := have[subnetID]
			if !ok {
				return notFound("RouterInterfaceNotFoundForSubnet", "Router %s has no interface on subnet %s", r.ID, subnetID)
			}
			if p, err = store.Get[store.Port](ctx, tx, pid, true); err != nil {
				return api.Internal(err)
			}
		}
		for sub, pid := range have {
			if pid == p.ID {
				subnets = append(subnets, sub)
			}
		}
		if err := s.checkFloatingIPsNeed(ctx, tx, r, subnets); err != nil {
			return err
		}
		return s.removePort(ctx, tx, p)
	})
	if err != nil {
		return nil, err
	}
	body := map[string]any{"id": r.ID, "tenant_id": r.ProjectID, "project_id": r.ProjectID, "port_id": p.ID,
		"network_id": p.NetworkID, "subnet_ids": nonNil(subnets)}
	if len(subnets) > 0 {
		body["subnet_id"] = subnets[0]
	}
	s.publish(ctx, "router", "remove_interface", r.ID, r.ProjectID, body)
	return api.OK(body), nil
}

// checkFloatingIPsNeed refuses to remove an interface that floating IPs
// associated through the router still use.
func (s *Service) checkFloatingIPsNeed(ctx context.Context, tx *store.Store, r *store.Router, subnets []string) error {
	fips, err := store.List[store.FloatingIP](ctx, tx, "router_id = ?", r.ID)
	if err != nil {
		return api.Internal(err)
	}
	for _, f := range fips {
		if f.PortID == nil || f.FixedIPAddress == nil {
			continue
		}
		allocs, err := tx.PortAllocations(ctx, []string{*f.PortID})
		if err != nil {
			return api.Internal(err)
		}
		for _, a := range allocs[*f.PortID] {
			for _, sub := range subnets {
				if a.SubnetID == sub && a.IPAddress == *f.FixedIPAddress {
					return conflict("RouterInterfaceInUseByFloatingIP", "Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", sub, r.ID)
				}
			}
		}
	}
	return nil
}
