package neutronapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/network/store"
)

var portAttrs = []string{"name", "description", "network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id",
	"device_owner", "project_id", "tenant_id", "binding:host_id", "binding:vnic_type", "binding:profile",
	"port_security_enabled", "allowed_address_pairs", "security_groups", "tags", "extra_dhcp_opts"}

// Device owners of ports the network service makes itself.
const (
	ownerRouterInterface = "network:router_interface"
	ownerRouterGateway   = "network:router_gateway"
	ownerFloatingIP      = "network:floatingip"
)

// fixedIP is one address of a port.
type fixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

// visiblePort loads a port the caller owns or whose network the caller owns.
func (s *Service) visiblePort(ctx context.Context, tx *store.Store, k caller, id string, lock bool) (*store.Port, error) {
	if uuid.Validate(id) != nil {
		return nil, portNotFound(id)
	}
	p, err := store.Get[store.Port](ctx, tx, id, lock)
	if err != nil {
		return nil, storeError(err, portNotFound, id)
	}
	if !k.owns(p.ProjectID) {
		n, err := store.Get[store.Network](ctx, tx, p.NetworkID, false)
		if err != nil || !k.owns(n.ProjectID) {
			return nil, portNotFound(id)
		}
	}
	return p, nil
}

func (s *Service) portView(c *gin.Context, p *store.Port, allocs []store.IPAllocation) view {
	ips := []fixedIP{}
	for _, a := range allocs {
		ips = append(ips, fixedIP{SubnetID: a.SubnetID, IPAddress: a.IPAddress})
	}
	pairs := p.AllowedAddressPairs.V
	if pairs == nil {
		pairs = []store.AddressPair{}
	}
	profile := p.BindingProfile.V
	if profile == nil {
		profile = map[string]any{}
	}
	v := meta(view{
		"name": p.Name, "description": p.Description, "network_id": p.NetworkID, "mac_address": p.MACAddress,
		"admin_state_up": p.AdminStateUp, "status": p.Status, "device_owner": p.DeviceOwner, "device_id": p.DeviceID,
		"fixed_ips": ips, "port_security_enabled": p.PortSecurityEnabled, "allowed_address_pairs": pairs,
		"security_groups": nonNil(p.SecurityGroups), "binding:vnic_type": p.BindingVNICType,
		"extra_dhcp_opts": []any{}, "propagate_uplink_status": false,
	}, p.Meta)
	if api.Allowed(c, "get_port:binding:host_id", nil) {
		v["binding:host_id"] = p.BindingHostID
		v["binding:profile"] = profile
		if p.BindingHostID == "" {
			v["binding:vif_type"] = "unbound"
			v["binding:vif_details"] = map[string]any{}
		} else {
			v["binding:vif_type"] = "bridge"
			v["binding:vif_details"] = map[string]any{"port_filter": true, "connectivity": "l2"}
		}
	}
	return v
}

func (s *Service) renderPort(c *gin.Context, tx *store.Store, p *store.Port) (view, error) {
	allocs, err := tx.PortAllocations(c.Request.Context(), []string{p.ID})
	if err != nil {
		return nil, api.Internal(err)
	}
	return s.portView(c, p, allocs[p.ID]), nil
}

func (s *Service) listPorts(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	var rows []store.Port
	var err error
	if k.admin {
		rows, err = store.List[store.Port](ctx, s.store, "")
	} else {
		rows, err = store.List[store.Port](ctx, s.store,
			"project_id = ? OR network_id IN (SELECT id FROM networks WHERE project_id = ?)", k.project, k.project)
	}
	if err != nil {
		return nil, api.Internal(err)
	}
	ids := make([]string, len(rows))
	for i, p := range rows {
		ids[i] = p.ID
	}
	allocs, err := s.store.PortAllocations(ctx, ids)
	if err != nil {
		return nil, api.Internal(err)
	}
	items := make([]view, len(rows))
	for i := range rows {
		items[i] = s.portView(c, &rows[i], allocs[rows[i].ID])
	}
	return s.listResponse(c, "ports", items)
}

func (s *Service) getPort(c *gin.Context) (*api.Response, error) {
	p, err := s.visiblePort(c.Request.Context(), s.store, callerOf(c), c.Param("id"), false)
	if err != nil {
		return nil, err
	}
	v, err := s.renderPort(c, s.store, p)
	if err != nil {
		return nil, err
	}
	return showResponse(c, "port", v), nil
}

// newMAC is a random MAC address in OpenStack's fa:16:3e prefix.
func newMAC() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2])
}

// portSpec is what a port is created with.
type portSpec struct {
	port *store.Port
	// fixed are the requested addresses; nil means one address from each
	// IPv4 and IPv6 subnet of the network (the first of each family).
	fixed []fixedIP
	// sgSet says security groups were given (possibly empty); psSet that
	// port_security_enabled was.
	sgSet, psSet bool
}

// parseFixedIPs reads fixed_ips: entries with subnet_id and/or ip_address.
func parseFixedIPs(a attrs) ([]fixedIP, bool, error) {
	objs, ok, err := a.objects("fixed_ips")
	if err != nil || !ok {
		return nil, ok, err
	}
	out := []fixedIP{}
	for _, o := range objs {
		sub, _, err := o.str("subnet_id")
		if err != nil {
			return nil, true, err
		}
		ip, _, err := o.str("ip_address")
		if err != nil {
			return nil, true, err
		}
		if sub == "" && ip == "" {
			return nil, true, badRequest("Invalid input for fixed_ips. Reason: each entry needs a subnet_id or ip_address.")
		}
		if ip != "" {
			if _, err := netip.ParseAddr(ip); err != nil {
				return nil, true, invalidInput("fixed_ips", ip, "'%s' is not a valid IP address", ip)
			}
		}
		out = append(out, fixedIP{SubnetID: sub, IPAddress: ip})
	}
	return out, true, nil
}

func parsePairs(a attrs, mac string) ([]store.AddressPair, bool, error) {
	objs, ok, err := a.objects("allowed_address_pairs")
	if err != nil || !ok {
		return nil, ok, err
	}
	out := []store.AddressPair{}
	for _, o := range objs {
		ip, _, _ := o.str("ip_address")
		m, _, _ := o.str("mac_address")
		if ip == "" {
			return nil, true, badRequest("AllowedAddressPair must contain ip_address")
		}
		if p, err := netip.ParsePrefix(ip); err == nil {
			ip = p.String()
		} else if ad, err := netip.ParseAddr(ip); err == nil {
			ip = ad.String()
		} else {
			return nil, true, invalidInput("allowed_address_pairs", ip, "'%s' is not a valid IP address", ip)
		}
		if m == "" {
			m = mac
		} else if hw, err := net.ParseMAC(m); err != nil || len(hw) != 6 {
			return nil, true, invalidInput("allowed_address_pairs", m, "'%s' is not a valid MAC address", m)
		} else {
			m = hw.String()
		}
		out = append(out, store.AddressPair{IPAddress: ip, MACAddress: m})
	}
	return out, true, nil
}

func (s *Service) createPort(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "port", portAttrs...)
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
	p := &store.Port{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, NetworkID: netID,
		AdminStateUp: true, Status: "DOWN", BindingVNICType: "normal"}
	p.BindingProfile.V = map[string]any{}
	mac, macSet, err := a.str("mac_address")
	if err != nil {
		return nil, err
	}
	if macSet && mac != "" {
		hw, err := net.ParseMAC(mac)
		if err != nil || len(hw) != 6 || hw[0]&1 == 1 {
			return nil, invalidInput("mac_address", mac, "'%s' is not a valid MAC address", mac)
		}
		p.MACAddress = hw.String()
	}
	spec := portSpec{port: p}
	if err := s.applyPort(c, a, &spec, true); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		// The network's lock keeps a concurrent network delete from
		// missing this port.
		n, err := s.visibleNetwork(ctx, tx, k, netID, true)
		if err != nil {
			return err
		}
		if !k.owns(n.ProjectID) && !n.Shared {
			return networkNotFound(netID)
		}
		return s.insertPort(ctx, tx, n, spec)
	})
	if err != nil {
		return nil, err
	}
	v, err := s.renderPort(c, s.store, p)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "port", "create", p.ID, p.ProjectID, v)
	return api.Created(map[string]any{"port": v}), nil
}

// applyPort sets the attributes port create and update share.
func (s *Service) applyPort(c *gin.Context, a attrs, spec *portSpec, create bool) error {
	p := spec.port
	for _, f := range []struct {
		attr string
		dst  *string
	}{{"name", &p.Name}, {"description", &p.Description}, {"device_id", &p.DeviceID}, {"device_owner", &p.DeviceOwner}} {
		if err := a.setStr(f.attr, f.dst); err != nil {
			return err
		}
	}
	if err := a.setBool("admin_state_up", &p.AdminStateUp); err != nil {
		return err
	}
	verb := "update_port"
	if create {
		verb = "create_port"
	}
	if a.has("binding:host_id") {
		if !api.Allowed(c, verb+":binding:host_id", nil) {
			return api.Forbidden("(rule:%s:binding:host_id) is disallowed by policy", verb).WithType("HTTPForbidden")
		}
		if err := a.setStr("binding:host_id", &p.BindingHostID); err != nil {
			return err
		}
	}
	if v, ok, err := a.str("binding:vnic_type"); err != nil {
		return err
	} else if ok && v != "" {
		if v != "normal" {
			return invalidInput("binding:vnic_type", v, "'%s' is not in ['normal']", v)
		}
	}
	if prof, ok, err := a.object("binding:profile"); err != nil {
		return err
	} else if ok {
		p.BindingProfile.V = map[string]any(prof)
		if p.BindingProfile.V == nil {
			p.BindingProfile.V = map[string]any{}
		}
	}
	if tags, ok, err := a.strList("tags"); err != nil {
		return err
	} else if ok {
		p.Tags = tags
	}
	fixed, ok, err := parseFixedIPs(a)
	if err != nil {
		return err
	}
	if ok {
		spec.fixed = fixed
	}
	sgs, ok, err := a.strList("security_groups")
	if err != nil {
		return err
	}
	if ok {
		spec.sgSet = true
		p.SecurityGroups = db.TextArray(dedup(sgs))
	}
	if a.has("port_security_enabled") {
		spec.psSet = true
		if err := a.setBool("port_security_enabled", &p.PortSecurityEnabled); err != nil {
			return err
		}
	}
	if pairs, ok, err := parsePairs(a, p.MACAddress); err != nil {
		return err
	} else if ok {
		p.AllowedAddressPairs.V = pairs
	}
	return nil
}

// insertPort creates a port on network n: its MAC (unique), its addresses
// (IPAM), its security groups (the project's default group when none are
// given and port security is on) and its quota.
func (s *Service) insertPort(ctx context.Context, tx *store.Store, n *store.Network, spec portSpec) error {
	p := spec.port
	generated := p.MACAddress == ""
	if !spec.psSet {
		p.PortSecurityEnabled = n.PortSecurityEnabled
	}
	if p.AllowedAddressPairs.V == nil {
		p.AllowedAddressPairs.V = []store.AddressPair{}
	}
	// Address pairs without a MAC take the port's.
	var ownMAC []int
	for i := range p.AllowedAddressPairs.V {
		if p.AllowedAddressPairs.V[i].MACAddress == "" {
			ownMAC = append(ownMAC, i)
		}
	}
	if err := s.checkPortSecurity(ctx, tx, p, spec.sgSet); err != nil {
		return err
	}
	// The MAC column is unique: a generated MAC that collides is replaced
	// (the savepoint keeps the transaction), a requested one is refused.
	for try := 0; ; try++ {
		if generated {
			p.MACAddress = newMAC()
		}
		for _, i := range ownMAC {
			p.AllowedAddressPairs.V[i].MACAddress = p.MACAddress
		}
		err := tx.TryCreate(ctx, p)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) {
			return storeError(err, nil, "")
		}
		if !generated || try == 10 {
			return conflict("MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", n.ID, p.MACAddress)
		}
	}
	if err := s.allocateFixed(ctx, tx, n, p, spec.fixed); err != nil {
		return err
	}
	// Quota is charged last so that every path takes the subnet's lock
	// before the project's quota row.
	return s.charge(ctx, tx, p.ProjectID, ResourcePort, 1)
}

// checkPortSecurity fills in and validates a port's security groups.
func (s *Service) checkPortSecurity(ctx context.Context, tx *store.Store, p *store.Port, sgSet bool) error {
	if strings.HasPrefix(p.DeviceOwner, "network:") && !sgSet {
		p.SecurityGroups = db.TextArray{}
		return nil
	}
	if !sgSet && p.PortSecurityEnabled && len(p.SecurityGroups) == 0 && p.ProjectID != "" {
		def, err := s.ensureDefaultGroup(ctx, tx, p.ProjectID)
		if err != nil {
			return err
		}
		p.SecurityGroups = db.TextArray{def.ID}
	}
	if !p.PortSecurityEnabled && len(p.SecurityGroups) > 0 {
		return conflict("PortSecurityAndIPRequiredForSecurityGroups", "Port security must be enabled and port must have an IP address in order to use security groups.")
	}
	if !p.PortSecurityEnabled && len(p.AllowedAddressPairs.V) > 0 {
		return conflict("AddressPairAndPortSecurityRequired", "Port Security must be enabled in order to have allowed address pairs on a port.")
	}
	for _, id := range p.SecurityGroups {
		if uuid.Validate(id) != nil {
			return securityGroupNotFound(id)
		}
		g, err := store.Get[store.SecurityGroup](ctx, tx, id, false)
		if err != nil || (g.ProjectID != p.ProjectID) {
			return securityGroupNotFound(id)
		}
	}
	if p.SecurityGroups == nil {
		p.SecurityGroups = db.TextArray{}
	}
	return nil
}

// allocateFixed gives a new port its addresses: the requested ones, or
// one from the first subnet of each IP version of the network.
func (s *Service) allocateFixed(ctx context.Context, tx *store.Store, n *store.Network, p *store.Port, fixed []fixedIP) error {
	subs, err := store.List[store.Subnet](ctx, tx, "network_id = ?", n.ID)
	if err != nil {
		return api.Internal(err)
	}
	if fixed == nil {
		seen := map[int]bool{}
		for _, sn := range subs {
			if !seen[sn.IPVersion] {
				seen[sn.IPVersion] = true
				fixed = append(fixed, fixedIP{SubnetID: sn.ID})
			}
		}
	}
	for _, f := range fixed {
		if f.SubnetID == "" {
			a := netip.MustParseAddr(f.IPAddress)
			for _, sn := range subs {
				if netip.MustParsePrefix(sn.CIDR).Contains(a) {
					f.SubnetID = sn.ID
					break
				}
			}
			if f.SubnetID == "" {
				return badRequest("Invalid input for operation: IP address %s is not a valid IP for any of the subnets on the specified network.", f.IPAddress)
			}
		} else {
			found := false
			for _, sn := range subs {
				found = found || sn.ID == f.SubnetID
			}
			if !found {
				if uuid.Validate(f.SubnetID) == nil {
					if _, err := store.Get[store.Subnet](ctx, tx, f.SubnetID, false); err == nil {
						return badRequest("Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet %s.", n.ID, f.SubnetID)
					}
				}
				return subnetNotFound(f.SubnetID)
			}
		}
		if _, err := s.allocate(ctx, tx, f.SubnetID, p.ID, f.IPAddress); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) updatePort(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "port", portAttrs...)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"network_id", "project_id", "tenant_id", "mac_address"} {
		if a.has(f) && !(f == "mac_address" && callerOf(c).admin) {
			return nil, badRequest("Cannot update read-only attribute %s", f)
		}
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	var p *store.Port
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if p, err = s.visiblePort(ctx, tx, k, c.Param("id"), true); err != nil {
			return err
		}
		spec := portSpec{port: p}
		if err := s.applyPort(c, a, &spec, false); err != nil {
			return err
		}
		if err := s.checkPortSecurity(ctx, tx, p, true); err != nil {
			return err
		}
		if spec.fixed != nil {
			n, err := store.Get[store.Network](ctx, tx, p.NetworkID, false)
			if err != nil {
				return api.Internal(err)
			}
			if err := s.reallocate(ctx, tx, n, p, spec.fixed); err != nil {
				return err
			}
		}
		return storeError(tx.Update(ctx, p), portNotFound, p.ID)
	})
	if err != nil {
		return nil, err
	}
	v, err := s.renderPort(c, s.store, p)
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "port", "update", p.ID, p.ProjectID, v)
	return api.OK(map[string]any{"port": v}), nil
}

// reallocate replaces a port's addresses with the requested ones, keeping
// those it already holds.
func (s *Service) reallocate(ctx context.Context, tx *store.Store, n *store.Network, p *store.Port, fixed []fixedIP) error {
	cur, err := tx.PortAllocations(ctx, []string{p.ID})
	if err != nil {
		return api.Internal(err)
	}
	var add []fixedIP
	keep := map[string]bool{}
	for _, f := range fixed {
		held := false
		for _, al := range cur[p.ID] {
			if (f.IPAddress == "" || al.IPAddress == f.IPAddress) && (f.SubnetID == "" || al.SubnetID == f.SubnetID) && !keep[al.IPAddress] {
				keep[al.IPAddress], held = true, true
				break
			}
		}
		if !held {
			add = append(add, f)
		}
	}
	for _, al := range cur[p.ID] {
		if !keep[al.IPAddress] {
			if err := tx.Release(ctx, p.ID, al.SubnetID); err != nil {
				return api.Internal(err)
			}
		}
	}
	if len(add) == 0 {
		return nil
	}
	return s.allocateFixed(ctx, tx, n, p, add)
}

// removePort deletes a port row with its addresses, releasing its quota,
// and clears floating IPs associated with it.
func (s *Service) removePort(ctx context.Context, tx *store.Store, p *store.Port) error {
	fips, err := store.List[store.FloatingIP](ctx, tx, "port_id = ?", p.ID)
	if err != nil {
		return api.Internal(err)
	}
	for i := range fips {
		f := &fips[i]
		f.PortID, f.FixedIPAddress, f.RouterID, f.Status = nil, nil, nil, "DOWN"
		if err := tx.Update(ctx, f); err != nil {
			return api.Internal(err)
		}
	}
	if err := tx.Release(ctx, p.ID, ""); err != nil {
		return api.Internal(err)
	}
	if !strings.HasPrefix(p.DeviceOwner, "network:router_gateway") && p.DeviceOwner != ownerFloatingIP {
		if err := s.charge(ctx, tx, p.ProjectID, ResourcePort, -1); err != nil {
			return err
		}
	}
	return storeError(tx.Delete(ctx, p), portNotFound, p.ID)
}

func (s *Service) deletePort(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	var p *store.Port
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if p, err = s.visiblePort(ctx, tx, k, c.Param("id"), true); err != nil {
			return err
		}
		switch p.DeviceOwner {
		case ownerRouterInterface, ownerRouterGateway, ownerFloatingIP:
			return conflict("ServicePortInUse", "Port %s cannot be deleted directly via the port API: has device owner %s.", p.ID, p.DeviceOwner)
		}
		return s.removePort(ctx, tx, p)
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "port", "delete", p.ID, p.ProjectID, nil)
	return api.NoContent(), nil
}
