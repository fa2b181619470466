package neutronapi

import (
	"context"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/network/store"
)

var groupAttrs = []string{"name", "description", "project_id", "tenant_id", "stateful", "tags"}

var ruleAttrs = []string{"security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
	"remote_ip_prefix", "remote_group_id", "remote_address_group_id", "description", "project_id", "tenant_id"}

// ownSecurityGroup loads a group of the caller's project (any, for admins).
func (s *Service) ownSecurityGroup(ctx context.Context, tx *store.Store, k caller, id string, lock bool) (*store.SecurityGroup, error) {
	if uuid.Validate(id) != nil {
		return nil, securityGroupNotFound(id)
	}
	g, err := store.Get[store.SecurityGroup](ctx, tx, id, lock)
	if err != nil {
		return nil, storeError(err, securityGroupNotFound, id)
	}
	if !k.owns(g.ProjectID) {
		return nil, securityGroupNotFound(id)
	}
	return g, nil
}

// ensureDefaultGroup returns the project's default group, creating it with
// Neutron's default rules on first use: all egress over IPv4 and IPv6, and
// ingress from members of the group itself.
func (s *Service) ensureDefaultGroup(ctx context.Context, tx *store.Store, project string) (*store.SecurityGroup, error) {
	if err := tx.Lock(ctx, "default-sg."+project); err != nil {
		return nil, api.Internal(err)
	}
	groups, err := store.List[store.SecurityGroup](ctx, tx, "project_id = ? AND name = 'default'", project)
	if err != nil {
		return nil, api.Internal(err)
	}
	if len(groups) > 0 {
		return &groups[0], nil
	}
	g := &store.SecurityGroup{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, Name: "default",
		Description: "Default security group", Stateful: true}
	if err := tx.Create(ctx, g); err != nil {
		return nil, api.Internal(err)
	}
	for _, eth := range []string{"IPv4", "IPv6"} {
		for _, dir := range []string{"egress", "ingress"} {
			r := &store.SecurityGroupRule{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project},
				SecurityGroupID: g.ID, Direction: dir, Ethertype: eth}
			if dir == "ingress" {
				r.RemoteGroupID = &g.ID
			}
			if err := tx.Create(ctx, r); err != nil {
				return nil, api.Internal(err)
			}
		}
	}
	return g, nil
}

func ruleView(r *store.SecurityGroupRule) view {
	v := meta(view{
		"security_group_id": r.SecurityGroupID, "description": r.Description, "direction": r.Direction,
		"ethertype": r.Ethertype, "protocol": r.Protocol, "port_range_min": r.PortRangeMin,
		"port_range_max": r.PortRangeMax, "remote_ip_prefix": r.RemoteIPPrefix, "remote_group_id": r.RemoteGroupID,
		"remote_address_group_id": nil, "normalized_cidr": r.RemoteIPPrefix, "belongs_to_default_sg": false,
	}, r.Meta)
	delete(v, "tags")
	return v
}

func groupView(g *store.SecurityGroup, rules []store.SecurityGroupRule) view {
	rs := []view{}
	for i := range rules {
		rs = append(rs, ruleView(&rules[i]))
	}
	return meta(view{"name": g.Name, "description": g.Description, "stateful": g.Stateful,
		"security_group_rules": rs, "shared": false}, g.Meta)
}

func (s *Service) renderGroup(ctx context.Context, tx *store.Store, g *store.SecurityGroup) (view, error) {
	rules, err := store.List[store.SecurityGroupRule](ctx, tx, "security_group_id = ?", g.ID)
	if err != nil {
		return nil, api.Internal(err)
	}
	return groupView(g, rules), nil
}

func (s *Service) listSecurityGroups(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	if k.project != "" {
		if err := s.store.Tx(ctx, func(tx *store.Store) error {
			_, err := s.ensureDefaultGroup(ctx, tx, k.project)
			return err
		}); err != nil {
			return nil, err
		}
	}
	where, args := "project_id = ?", []any{k.project}
	if k.admin {
		where, args = "", nil
	}
	groups, err := store.List[store.SecurityGroup](ctx, s.store, where, args...)
	if err != nil {
		return nil, api.Internal(err)
	}
	rules, err := store.List[store.SecurityGroupRule](ctx, s.store, where, args...)
	if err != nil {
		return nil, api.Internal(err)
	}
	byGroup := map[string][]store.SecurityGroupRule{}
	for _, r := range rules {
		byGroup[r.SecurityGroupID] = append(byGroup[r.SecurityGroupID], r)
	}
	items := make([]view, len(groups))
	for i := range groups {
		items[i] = groupView(&groups[i], byGroup[groups[i].ID])
	}
	return s.listResponse(c, "security_groups", items)
}

func (s *Service) getSecurityGroup(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	g, err := s.ownSecurityGroup(ctx, s.store, callerOf(c), c.Param("id"), false)
	if err != nil {
		return nil, err
	}
	v, err := s.renderGroup(ctx, s.store, g)
	if err != nil {
		return nil, err
	}
	return showResponse(c, "security_group", v), nil
}

func (s *Service) createSecurityGroup(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "security_group", groupAttrs...)
	if err != nil {
		return nil, err
	}
	project, err := ownerFor(c, a)
	if err != nil {
		return nil, err
	}
	g := &store.SecurityGroup{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project}, Stateful: true}
	if err := a.setStr("name", &g.Name); err != nil {
		return nil, err
	}
	if err := a.setStr("description", &g.Description); err != nil {
		return nil, err
	}
	if err := a.setBool("stateful", &g.Stateful); err != nil {
		return nil, err
	}
	if g.Name == "default" {
		return nil, conflict("SecurityGroupDefaultAlreadyExists", "Default security group already exists.")
	}
	ctx := c.Request.Context()
	var v view
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if _, err := s.ensureDefaultGroup(ctx, tx, project); err != nil {
			return err
		}
		if err := s.charge(ctx, tx, project, ResourceSecurityGroup, 1); err != nil {
			return err
		}
		if err := tx.Create(ctx, g); err != nil {
			return api.Internal(err)
		}
		// A new group allows all egress, as Neutron's.
		for _, eth := range []string{"IPv4", "IPv6"} {
			r := &store.SecurityGroupRule{Meta: store.Meta{ID: uuid.NewString(), ProjectID: project},
				SecurityGroupID: g.ID, Direction: "egress", Ethertype: eth}
			if err := tx.Create(ctx, r); err != nil {
				return api.Internal(err)
			}
		}
		var err error
		v, err = s.renderGroup(ctx, tx, g)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "security_group", "create", g.ID, g.ProjectID, v)
	return api.Created(map[string]any{"security_group": v}), nil
}

func (s *Service) updateSecurityGroup(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "security_group", groupAttrs...)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	var v view
	var g *store.SecurityGroup
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if g, err = s.ownSecurityGroup(ctx, tx, callerOf(c), c.Param("id"), true); err != nil {
			return err
		}
		name := g.Name
		if err := a.setStr("name", &g.Name); err != nil {
			return err
		}
		if name == "default" && g.Name != "default" || name != "default" && g.Name == "default" {
			return conflict("SecurityGroupCannotUpdateDefault", "Updating default security group not allowed.")
		}
		if err := a.setStr("description", &g.Description); err != nil {
			return err
		}
		if err := tx.Update(ctx, g); err != nil {
			return api.Internal(err)
		}
		v, err = s.renderGroup(ctx, tx, g)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "security_group", "update", g.ID, g.ProjectID, v)
	return api.OK(map[string]any{"security_group": v}), nil
}

func (s *Service) deleteSecurityGroup(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	var g *store.SecurityGroup
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if g, err = s.ownSecurityGroup(ctx, tx, callerOf(c), c.Param("id"), true); err != nil {
			return err
		}
		if g.Name == "default" && !callerOf(c).admin {
			return conflict("SecurityGroupCannotRemoveDefault", "Insufficient rights for removing default security group.")
		}
		if n, err := store.Count[store.Port](ctx, tx, "? = ANY (security_groups)", g.ID); err != nil {
			return api.Internal(err)
		} else if n > 0 {
			return conflict("SecurityGroupInUse", "Security Group %s in use.", g.ID)
		}
		n, err := store.Count[store.SecurityGroupRule](ctx, tx, "(security_group_id = ? OR remote_group_id = ?) AND charged", g.ID, g.ID)
		if err != nil {
			return api.Internal(err)
		}
		if err := s.charge(ctx, tx, g.ProjectID, ResourceSecurityGroupRule, -n); err != nil {
			return err
		}
		// The default group was created on first use, without quota.
		if g.Name != "default" {
			if err := s.charge(ctx, tx, g.ProjectID, ResourceSecurityGroup, -1); err != nil {
				return err
			}
		}
		return storeError(tx.Delete(ctx, g), securityGroupNotFound, g.ID)
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "security_group", "delete", g.ID, g.ProjectID, nil)
	return api.NoContent(), nil
}

// protocols are the protocol names Neutron accepts, with their numbers.
var protocols = map[string]int{"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "icmp": 1, "icmpv6": 58,
	"igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
	"ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112}

// validateRule checks a rule as Neutron does: protocol by name or number,
// port ranges for TCP/UDP/SCTP/UDP-Lite, ICMP type and code, and a remote
// prefix of the rule's ethertype.
func validateRule(r *store.SecurityGroupRule) error {
	if r.Direction != "ingress" && r.Direction != "egress" {
		return invalidInput("direction", r.Direction, "'%s' is not in ['ingress', 'egress']", r.Direction)
	}
	if r.Ethertype != "IPv4" && r.Ethertype != "IPv6" {
		return badRequest("Security group rule for ethertype '%s' not supported. Allowed values are ['IPv4', 'IPv6'].", r.Ethertype)
	}
	proto := ""
	if r.Protocol != nil {
		proto = strings.ToLower(*r.Protocol)
		if proto == "any" || proto == "" {
			r.Protocol, proto = nil, ""
		} else if n, err := strconv.Atoi(proto); err == nil {
			if n < 0 || n > 255 {
				return badRequest("Security group rule protocol %s not supported. Only protocol values [None, ah, dccp, egp, esp, gre, icmp, icmpv6, igmp, ipip, ipv6-encap, ipv6-frag, ipv6-icmp, ipv6-nonxt, ipv6-opts, ipv6-route, ospf, pgm, rsvp, sctp, tcp, udp, udplite, vrrp] and integer representations [0 to 255] are supported.", *r.Protocol)
			}
		} else if _, ok := protocols[proto]; !ok {
			return badRequest("Security group rule protocol %s not supported. Only protocol values [None, ah, dccp, egp, esp, gre, icmp, icmpv6, igmp, ipip, ipv6-encap, ipv6-frag, ipv6-icmp, ipv6-nonxt, ipv6-opts, ipv6-route, ospf, pgm, rsvp, sctp, tcp, udp, udplite, vrrp] and integer representations [0 to 255] are supported.", *r.Protocol)
		} else {
			r.Protocol = &proto
		}
	}
	if (proto == "icmpv6" || proto == "ipv6-icmp" || proto == "58") && r.Ethertype == "IPv4" {
		return badRequest("Security group rule for protocol %s and ethertype IPv4 is not supported.", proto)
	}
	num := protocols[proto]
	if n, err := strconv.Atoi(proto); err == nil {
		num = n
	}
	min, max := r.PortRangeMin, r.PortRangeMax
	switch {
	case min == nil && max == nil:
	case num == 6 || num == 17 || num == 132 || num == 136 || num == 33:
		if min == nil || max == nil {
			return badRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max")
		}
		for _, p := range []int{*min, *max} {
			if p < 1 || p > 65535 {
				return badRequest("Invalid value for port %d", p)
			}
		}
		if *min > *max {
			return badRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max")
		}
	case num == 1 || num == 58:
		if min != nil && (*min < 0 || *min > 255) {
			return badRequest("Invalid value for ICMP field (type) %d. It must be 0 to 255.", *min)
		}
		if max != nil && (*max < 0 || *max > 255) {
			return badRequest("Invalid value for ICMP field (code) %d. It must be 0 to 255.", *max)
		}
		if min == nil && max != nil {
			return badRequest("ICMP code (port-range-max) %d is provided but ICMP type (port-range-min) is missing.", *max)
		}
	default:
		return badRequest("Invalid protocol %s for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP.", proto)
	}
	if r.RemoteIPPrefix != nil {
		p, err := netip.ParsePrefix(*r.RemoteIPPrefix)
		if err != nil {
			a, err2 := netip.ParseAddr(*r.RemoteIPPrefix)
			if err2 != nil {
				return invalidInput("remote_ip_prefix", *r.RemoteIPPrefix, "'%s' is not a valid IP subnet", *r.RemoteIPPrefix)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4() != (r.Ethertype == "IPv4") {
			return badRequest("Conflicting value ethertype %s for CIDR %s", r.Ethertype, *r.RemoteIPPrefix)
		}
		ps := p.Masked().String()
		if p.Bits() == 0 {
			r.RemoteIPPrefix = nil
		} else {
			r.RemoteIPPrefix = &ps
		}
		if r.RemoteGroupID != nil {
			return badRequest("Only remote_ip_prefix or remote_group_id may be provided.")
		}
	}
	return nil
}

func same(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func sameInt(a, b *int) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func (s *Service) createRule(c *gin.Context) (*api.Response, error) {
	a, err := readBody(c, "security_group_rule", ruleAttrs...)
	if err != nil {
		return nil, err
	}
	r := &store.SecurityGroupRule{Meta: store.Meta{ID: uuid.NewString()}, Ethertype: "IPv4"}
	var gid string
	for _, f := range []struct {
		attr string
		dst  *string
	}{{"security_group_id", &gid}, {"direction", &r.Direction}, {"ethertype", &r.Ethertype}, {"description", &r.Description}} {
		if err := a.setStr(f.attr, f.dst); err != nil {
			return nil, err
		}
	}
	if gid == "" {
		return nil, badRequest("Failed to parse request. Required attribute 'security_group_id' not specified")
	}
	for _, f := range []struct {
		attr string
		dst  **string
	}{{"remote_ip_prefix", &r.RemoteIPPrefix}, {"remote_group_id", &r.RemoteGroupID}} {
		v, _, err := a.str(f.attr)
		if err != nil {
			return nil, err
		}
		if v != "" {
			*f.dst = &v
		}
	}
	if x, ok := a["protocol"]; ok && x != nil {
		switch t := x.(type) {
		case string:
			r.Protocol = &t
		default:
			p := strings.TrimSpace(strings.Trim(strings.TrimSpace(toString(t)), "\""))
			r.Protocol = &p
		}
	}
	if r.PortRangeMin, err = a.integer("port_range_min"); err != nil {
		return nil, err
	}
	if r.PortRangeMax, err = a.integer("port_range_max"); err != nil {
		return nil, err
	}
	if err := validateRule(r); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		g, err := s.ownSecurityGroup(ctx, tx, k, gid, true)
		if err != nil {
			return err
		}
		r.ProjectID = g.ProjectID
		r.SecurityGroupID = g.ID
		if r.RemoteGroupID != nil {
			if _, err := s.ownSecurityGroup(ctx, tx, caller{project: g.ProjectID, admin: k.admin}, *r.RemoteGroupID, false); err != nil {
				return err
			}
		}
		rules, err := store.List[store.SecurityGroupRule](ctx, tx, "security_group_id = ?", g.ID)
		if err != nil {
			return api.Internal(err)
		}
		for _, o := range rules {
			if o.Direction == r.Direction && o.Ethertype == r.Ethertype && same(o.Protocol, r.Protocol) &&
				sameInt(o.PortRangeMin, r.PortRangeMin) && sameInt(o.PortRangeMax, r.PortRangeMax) &&
				same(o.RemoteIPPrefix, r.RemoteIPPrefix) && same(o.RemoteGroupID, r.RemoteGroupID) {
				return conflict("SecurityGroupRuleExists", "Security group rule already exists. Rule id is %s.", o.ID)
			}
		}
		if err := s.charge(ctx, tx, g.ProjectID, ResourceSecurityGroupRule, 1); err != nil {
			return err
		}
		r.Charged = true
		return storeError(tx.Create(ctx, r), nil, "")
	})
	if err != nil {
		return nil, err
	}
	v := ruleView(r)
	s.publish(ctx, "security_group_rule", "create", r.ID, r.ProjectID, v)
	return api.Created(map[string]any{"security_group_rule": v}), nil
}

func toString(x any) string {
	if n, ok := x.(interface{ String() string }); ok {
		return n.String()
	}
	return ""
}

func (s *Service) ownRule(ctx context.Context, tx *store.Store, k caller, id string) (*store.SecurityGroupRule, error) {
	if uuid.Validate(id) != nil {
		return nil, securityGroupRuleNotFound(id)
	}
	r, err := store.Get[store.SecurityGroupRule](ctx, tx, id, false)
	if err != nil {
		return nil, storeError(err, securityGroupRuleNotFound, id)
	}
	if !k.owns(r.ProjectID) {
		return nil, securityGroupRuleNotFound(id)
	}
	return r, nil
}

func (s *Service) listRules(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	k := callerOf(c)
	where, args := "project_id = ?", []any{k.project}
	if k.admin {
		where, args = "", nil
	}
	rules, err := store.List[store.SecurityGroupRule](ctx, s.store, where, args...)
	if err != nil {
		return nil, api.Internal(err)
	}
	items := make([]view, len(rules))
	for i := range rules {
		items[i] = ruleView(&rules[i])
	}
	return s.listResponse(c, "security_group_rules", items)
}

func (s *Service) getRule(c *gin.Context) (*api.Response, error) {
	r, err := s.ownRule(c.Request.Context(), s.store, callerOf(c), c.Param("id"))
	if err != nil {
		return nil, err
	}
	return showResponse(c, "security_group_rule", ruleView(r)), nil
}

func (s *Service) deleteRule(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	var r *store.SecurityGroupRule
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if r, err = s.ownRule(ctx, tx, callerOf(c), c.Param("id")); err != nil {
			return err
		}
		if r.Charged {
			if err := s.charge(ctx, tx, r.ProjectID, ResourceSecurityGroupRule, -1); err != nil {
				return err
			}
		}
		return storeError(tx.Delete(ctx, r), securityGroupRuleNotFound, r.ID)
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, "security_group_rule", "delete", r.ID, r.ProjectID, nil)
	return api.NoContent(), nil
}
