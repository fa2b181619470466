package neutronapi

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/network/store"
)

var networkAttrs = []string{"name", "description", "admin_state_up", "shared", "router:external", "mtu",
	"provider:network_type", "provider:physical_network", "provider:segmentation_id", "port_security_enabled",
	"project_id", "tenant_id", "availability_zone_hints", "tags"}

// visibleNetwork loads a network the caller owns, or that is shared or
// external; anything else is NetworkNotFound.
func (s *Service) visibleNetwork(ctx context.Context, tx *store.Store, k caller, id string, lock bool) (*store.Network, error) {
	if uuid.Validate(id) != nil {
		return nil, networkNotFound(id)
	}
	n, err := store.Get[store.Network](ctx, tx, id, lock)
	if err != nil {
		return nil, storeError(err, networkNotFound, id)
	}
	if !k.owns(n.ProjectID) && !n.Shared && !n.External {
		return nil, networkNotFound(id)
	}
	return n, nil
}

// ownNetwork is visibleNetwork for changes: only the owner (or an admin).
func (s *Service) ownNetwork(ctx context.Context, tx *store.Store, k caller, id string) (*store.Network, error) {
	n, err := s.visibleNetwork(ctx, tx, k, id, true)
	if err == nil && !k.owns(n.ProjectID) {
		err = networkNotFound(id)
	}
	return n, err
}

func (s *Service) networkView(c *gin.Context, n *store.Network, subnets []string) view {
	v := meta(view{
		"name": n.Name, "description": n.Description, "admin_state_up": n.AdminStateUp, "shared": n.Shared,
		"router:external": n.External, "mtu": n.MTU, "status": n.Status, "subnets": subnets,
		"port_security_enabled": n.PortSecurityEnabled, "availability_zone_hints": []string{},
		"availability_zones": []string{"nova"}, "ipv4_address_scope": nil, "ipv6_address_scope": nil,
		"is_default": false,
	}, n.Meta)
	if api.Allowed(c, "get_network:provider:network_type", nil) {
		v["provider:network_type"] = n.NetworkType
		v["provider:physical_network"] = n.PhysicalNetwork
		v["provider:segmentation_id"] = n.SegmentationID
	}
	return v
}

// subnetIDs returns the subnet IDs of every network, by network ID.
func (s *Service) subnetIDs(ctx context.Context, tx *store.Store) (map[string][]string, error) {
	subs, err := store.List[store.Subnet](ctx, tx, "")
	if err != nil {
		return nil, api.Internal(err)
	}
	out := map[string][]string{}
	for _, sn := range subs {
		out[sn.NetworkID] = append(out[sn.NetworkID], sn.ID)
	}
	return out, nil
}

func (s *Service) listNetworks(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	var rows []store.Network
	var err error
	if k.admin {
		rows, err = store.List[store.Network](ctx, s.store, "")
	} else {
		rows, err = store.List[store.Network](ctx, s.store, "project_id = ? OR shared OR external", k.project)
	}
	if err != nil {
		return nil, api.Internal(err)
	}
	subs, err := s.subnetIDs(ctx, s.store)
	if err != nil {
		return nil, err
	}
	items := make([]view, len(rows))
	for i := range rows {
		items[i] = s.networkView(c, &rows[i], nonNil(subs[rows[i].ID]))
	}
	return s.listResponse(c, "networks", items)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Service) getNetwork(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	n, err := s.visibleNetwork(ctx, s.store, callerOf(c), c.Param("id"), false)
	if err != nil {
		return nil, err
	}
	return showResponse(c, "network", s.renderNetwork(c, n)), nil
}

func (s *Service) renderNetwork(c *gin.Context, n *store.Network) view {
	subs, _ := store.List[store.Subnet](c.Request.Context(), s.store, "network_id = ?", n.ID)
	ids := []string{}
	for _, sn := range subs {
		ids = append(ids, sn.ID)
	}
	return s.networkView(c, n, ids)
}

// applyNetwork sets the attributes common to create and update.
func applyNetwork(c *gin.Context, a attrs, n *store.Network, create bool) error {
	if err := a.setStr("name", &n.Name); err != nil {
		return err
	}
	if err := a.setStr("description", &n.Description); err != nil {
		return err
	}
	if err := a.setBool("admin_state_up", &n.AdminStateUp); err != nil {
		return err
	}
	if err := a.setBool("port_security_enabled", &n.PortSecurityEnabled); err != nil {
		return err
	}
	verb := "update_network"
	if create {
		verb = "create_network"
	}
	for _, f := range []struct {
		attr string
		dst  *bool
	}{{"shared", &n.Shared}, {"router:external", &n.External}} {
		if !a.has(f.attr) {
			continue
		}
		v, _, err := a.boolean(f.attr)
		if err != nil {
			return err
		}
		if v != *f.dst && !api.Allowed(c, verb+":"+f.attr, nil) {
			return api.Forbidden("(rule:%s:%s) is disallowed by policy", verb, f.attr).WithType("HTTPForbidden")
		}
		*f.dst = v
	}
	if mtu, err := a.integer("mtu"); err != nil {
		return err
	} else if mtu != nil {
		if *mtu < 68 || *mtu > n.MTU {
			return badRequest("Invalid input for operation: Requested MTU %d is out of range (68 to %d).", *mtu, n.MTU)
		}
		n.MTU = *mtu
	}
	return nil
}

func (s *Service) createNetwork(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "network", networkAttrs...)
	if err != nil {
		return nil, err
	}
	project, err := ownerFor(c, a)
	if err != nil {
		return nil, err
	}
	n := &store.Network{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, AdminStateUp: true,
		PortSecurityEnabled: true, Status: "ACTIVE", NetworkType: store.TypeVXLAN, MTU: s.cfg.TenantMTU}
	if tags, ok, err := a.strList("tags"); err != nil {
		return nil, err
	} else if ok {
		n.Tags = tags
	}
	typ, typSet, err := a.str("provider:network_type")
	if err != nil {
		return nil, err
	}
	phys, physSet, err := a.str("provider:physical_network")
	if err != nil {
		return nil, err
	}
	seg, err := a.integer("provider:segmentation_id")
	if err != nil {
		return nil, err
	}
	if (typSet || physSet || seg != nil) && !api.Allowed(c, "create_network:provider:network_type", nil) {
		return nil, api.Forbidden("(rule:create_network:provider:network_type) is disallowed by policy").WithType("HTTPForbidden")
	}
	switch typ {
	case "", store.TypeVXLAN:
		if physSet && phys != "" {
			return nil, invalidInput("provider:physical_network", phys, "provider:physical_network specified for VXLAN network")
		}
	case store.TypeFlat:
		if phys == "" {
			return nil, invalidInput("provider:physical_network", phys, "physical_network required for flat provider network")
		}
		if seg != nil {
			return nil, invalidInput("provider:segmentation_id", *seg, "segmentation_id specified for flat provider network")
		}
		n.NetworkType, n.PhysicalNetwork, n.MTU = store.TypeFlat, &phys, s.cfg.ExternalMTU
	default:
		return nil, invalidInput("provider:network_type", typ, "network_type value '%s' not supported", typ)
	}
	if err := applyNetwork(c, a, n, true); err != nil {
		return nil, err
	}
	if n.NetworkType == store.TypeVXLAN && seg != nil && (*seg < 1 || *seg > 16777215) {
		return nil, invalidInput("provider:segmentation_id", *seg, "%d is not a valid VXLAN VNI, valid range is 1 to 16777215", *seg)
	}
	ctx := c.Request.Context()
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := s.charge(ctx, tx, project, ResourceNetwork, 1); err != nil {
			return err
		}
		return s.insertNetwork(ctx, tx, n, seg)
	})
	if err != nil {
		return nil, err
	}
	v := s.networkView(c, n, []string{})
	s.publish(ctx, "network", "create", n.ID, n.ProjectID, v)
	return api.Created(map[string]any{"network": v}), nil
}

// insertNetwork allocates a VXLAN network its VNI (the requested one, or
// the lowest free) under the VNI lock, and inserts it.
func (s *Service) insertNetwork(ctx context.Context, tx *store.Store, n *store.Network, seg *int) error {
	if n.NetworkType == store.TypeVXLAN {
		if err := tx.Lock(ctx, "vni"); err != nil {
			return err
		}
		if seg == nil {
			vni, err := tx.FreeVNI(ctx)
			if err != nil {
				return err
			}
			seg = &vni
		}
		n.SegmentationID = seg
	}
	err := tx.Create(ctx, n)
	if errors.Is(err, store.ErrConflict) {
		if n.NetworkType == store.TypeFlat {
			return conflict("FlatNetworkInUse", "Unable to create the flat network. Physical network %s is in use.", *n.PhysicalNetwork)
		}
		return conflict("TunnelIdInUse", "Unable to create the network. The tunnel ID %d is in use.", *n.SegmentationID)
	}
	return storeError(err, nil, "")
}

func (s *Service) updateNetwork(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "network", networkAttrs...)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"provider:network_type", "provider:physical_network", "provider:segmentation_id", "project_id", "tenant_id"} {
		if a.has(f) {
			return nil, badRequest("Cannot update read-only attribute %s", f)
		}
	}
	ctx := c.Request.Context()
	var n *store.Network
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if n, err = s.ownNetwork(ctx, tx, callerOf(c), c.Param("id")); err != nil {
			return err
		}
		if err := applyNetwork(c, a, n, false); err != nil {
			return err
		}
		if tags, ok, err := a.strList("tags"); err != nil {
			return err
		} else if ok {
			n.Tags = tags
		}
		return storeError(tx.Update(ctx, n), networkNotFound, n.ID)
	})
	if err != nil {
		return nil, err
	}
	v := s.renderNetwork(c, n)
	s.publish(ctx, "network", "update", n.ID, n.ProjectID, v)
	return api.OK(map[string]any{"network": v}), nil
}

// autoDeleted are the device owners whose ports go with their network, as
// Neutron's AUTO_DELETE_PORT_OWNERS.
var autoDeleted = map[string]bool{"network:dhcp": true}

func (s *Service) deleteNetwork(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	var n *store.Network
	var gone []string
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if n, err = s.ownNetwork(ctx, tx, callerOf(c), c.Param("id")); err != nil {
			return err
		}
		ports, err := store.List[store.Port](ctx, tx, "network_id = ?", n.ID)
		if err != nil {
			return api.Internal(err)
		}
		for _, p := range ports {
			if !autoDeleted[p.DeviceOwner] {
				return conflict("NetworkInUse", "Unable to complete operation on network %s. There are one or more ports still in use on the network.", n.ID)
			}
		}
		for i := range ports {
			if err := s.removePort(ctx, tx, &ports[i]); err != nil {
				return err
			}
		}
		subs, err := store.List[store.Subnet](ctx, tx, "network_id = ?", n.ID)
		if err != nil {
			return api.Internal(err)
		}
		for i := range subs {
			if err := s.removeSubnet(ctx, tx, &subs[i]); err != nil {
				return err
			}
			gone = append(gone, subs[i].ID)
		}
		if err := s.charge(ctx, tx, n.ProjectID, ResourceNetwork, -1); err != nil {
			return err
		}
		return storeError(tx.Delete(ctx, n), networkNotFound, n.ID)
	})
	if err != nil {
		return nil, err
	}
	for _, id := range gone {
		s.publish(ctx, "subnet", "delete", id, n.ProjectID, nil)
	}
	s.publish(ctx, "network", "delete", n.ID, n.ProjectID, nil)
	return api.NoContent(), nil
}

// charge consumes (or with a negative n releases) quota of a project;
// resources without an owning project (router gateway and floating IP
// ports) are not charged.
func (s *Service) charge(ctx context.Context, tx *store.Store, project, resource string, n int64) error {
	if project == "" {
		return nil
	}
	return storeError(tx.ConsumeQuota(ctx, s.quota, project, map[string]int64{resource: n}), nil, "")
}
