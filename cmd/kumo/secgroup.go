package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/spf13/cobra"
)

func (s *session) findSecGroup(nc *gophercloud.ServiceClient, ref string) (*groups.SecGroup, error) {
	return findNeutron(s, "security group", ref, func(id string) (*groups.SecGroup, error) {
		return groups.Get(s.ctx, nc, id).Extract()
	}, func(name string) ([]groups.SecGroup, error) {
		pages, err := groups.List(nc, groups.ListOpts{Name: name}).AllPages(s.ctx)
		if err != nil {
			return nil, err
		}
		return groups.ExtractGroups(pages)
	}, func(g *groups.SecGroup) string { return g.ProjectID })
}

// findRule resolves a rule id (rules have no names).
func (s *session) findRule(nc *gophercloud.ServiceClient, ref string) (*rules.SecGroupRule, error) {
	r, err := rules.Get(s.ctx, nc, ref).Extract()
	if isNotFound(err) {
		return nil, fmt.Errorf("no security group rule with an id of %q", ref)
	}
	return r, err
}

func secGroupFields(g *groups.SecGroup) []field {
	rs := make([]string, len(g.Rules))
	for i, r := range g.Rules {
		rs[i] = ruleSummary(&r)
	}
	return []field{{"id", g.ID}, {"name", g.Name}, {"description", g.Description}, {"stateful", g.Stateful},
		{"rules", rs}, {"project_id", g.ProjectID}, {"tags", g.Tags},
		{"created_at", timeValue(g.CreatedAt)}, {"updated_at", timeValue(g.UpdatedAt)}}
}

// ruleSummary is one line for a rule, as the openstack CLI shows them in
// a group.
func ruleSummary(r *rules.SecGroupRule) string {
	parts := []string{"direction=" + r.Direction, "ethertype=" + r.EtherType}
	if r.Protocol != "" {
		parts = append(parts, "protocol="+r.Protocol)
	}
	if ports := portRange(r); ports != "" {
		parts = append(parts, "ports="+ports)
	}
	if r.RemoteIPPrefix != "" {
		parts = append(parts, "remote_ip_prefix="+r.RemoteIPPrefix)
	}
	if r.RemoteGroupID != "" {
		parts = append(parts, "remote_group_id="+r.RemoteGroupID)
	}
	return strings.Join(parts, " ")
}

// portRange is "22", "8000:8080" or "" for any.
func portRange(r *rules.SecGroupRule) string {
	switch {
	case r.PortRangeMin == 0 && r.PortRangeMax == 0:
		return ""
	case r.PortRangeMin == r.PortRangeMax:
		return strconv.Itoa(r.PortRangeMin)
	}
	return fmt.Sprintf("%d:%d", r.PortRangeMin, r.PortRangeMax)
}

func ruleFields(r *rules.SecGroupRule) []field {
	return []field{{"id", r.ID}, {"security_group_id", r.SecGroupID}, {"direction", r.Direction},
		{"ethertype", r.EtherType}, {"protocol", r.Protocol}, {"port_range_min", nullInt(r.PortRangeMin)},
		{"port_range_max", nullInt(r.PortRangeMax)}, {"remote_ip_prefix", nullString(r.RemoteIPPrefix)},
		{"remote_group_id", nullString(r.RemoteGroupID)}, {"description", r.Description}, {"project_id", r.ProjectID},
		{"created_at", timeValue(r.CreatedAt)}}
}

// nullInt is nil for 0 (gophercloud's zero for Neutron's null).
func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

var secGroupNoun = neutronNoun[groups.SecGroup]{
	noun: "GROUP", plural: "security groups", refs: "name or id",
	find:   (*session).findSecGroup,
	fields: secGroupFields,
	delete: func(ctx context.Context, nc *gophercloud.ServiceClient, g *groups.SecGroup) error {
		return groups.Delete(ctx, nc, g.ID).ExtractErr()
	},
}

var ruleNoun = neutronNoun[rules.SecGroupRule]{
	noun: "RULE", plural: "security group rules", refs: "id",
	find:   (*session).findRule,
	fields: ruleFields,
	delete: func(ctx context.Context, nc *gophercloud.ServiceClient, r *rules.SecGroupRule) error {
		return rules.Delete(ctx, nc, r.ID).ExtractErr()
	},
}

func securityCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "security", Short: "Manage security groups (security group ...)"}
	group := &cobra.Command{Use: "group", Short: "Manage security groups and their rules"}

	var description string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a security group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			g, err := groups.Create(s.ctx, nc, groups.CreateOpts{Name: args[0], Description: description}).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, secGroupFields(g))
		},
	}
	create.Flags().StringVar(&description, "description", "", "description")

	list := &cobra.Command{
		Use:   "list",
		Short: "List security groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			pages, err := groups.List(nc, groups.ListOpts{}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := groups.ExtractGroups(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, g := range all {
				rows = append(rows, []any{g.ID, g.Name, g.Description, g.ProjectID})
			}
			return printList(cmd, []string{"id", "name", "description", "project_id"}, rows)
		},
	}

	group.AddCommand(create, list, secGroupNoun.showCommand(), secGroupNoun.deleteCommand(), ruleCommand())
	cmd.AddCommand(group)
	return cmd
}

func ruleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "rule", Short: "Manage security group rules"}

	var protocol, dstPort, remoteIP, remoteGroup, ethertype, description string
	var ingress, egress bool
	create := &cobra.Command{
		Use:   "create GROUP",
		Short: "Add a rule to a security group (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ingress && egress {
				return fmt.Errorf("--ingress and --egress exclude each other")
			}
			if remoteIP != "" && remoteGroup != "" {
				return fmt.Errorf("--remote-ip and --remote-group exclude each other")
			}
			opts := rules.CreateOpts{Direction: rules.DirIngress, EtherType: rules.RuleEtherType(ethertype),
				Protocol: rules.RuleProtocol(strings.ToLower(protocol)), RemoteIPPrefix: remoteIP, Description: description}
			if egress {
				opts.Direction = rules.DirEgress
			}
			if protocol == "any" {
				opts.Protocol = ""
			}
			if dstPort != "" {
				lo, hi, err := parsePortRange(dstPort)
				if err != nil {
					return err
				}
				opts.PortRangeMin, opts.PortRangeMax = lo, hi
			}
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			g, err := s.findSecGroup(nc, args[0])
			if err != nil {
				return err
			}
			opts.SecGroupID = g.ID
			if remoteGroup != "" {
				rg, err := s.findSecGroup(nc, remoteGroup)
				if err != nil {
					return err
				}
				opts.RemoteGroupID = rg.ID
			}
			r, err := rules.Create(s.ctx, nc, opts).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, ruleFields(r))
		},
	}
	create.Flags().StringVar(&protocol, "protocol", "any", "icmp, tcp, udp, a number, or any")
	create.Flags().StringVar(&dstPort, "dst-port", "", "destination port N or range N:M (tcp, udp)")
	create.Flags().StringVar(&remoteIP, "remote-ip", "", "remote CIDR the rule matches")
	create.Flags().StringVar(&remoteGroup, "remote-group", "", "remote security group the rule matches (name or id)")
	create.Flags().BoolVar(&ingress, "ingress", false, "match incoming traffic (the default)")
	create.Flags().BoolVar(&egress, "egress", false, "match outgoing traffic")
	create.Flags().StringVar(&ethertype, "ethertype", "IPv4", "IPv4 or IPv6")
	create.Flags().StringVar(&description, "description", "", "description")

	list := &cobra.Command{
		Use:   "list [GROUP]",
		Short: "List security group rules, all or one group's",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			var opts rules.ListOpts
			if len(args) == 1 {
				g, err := s.findSecGroup(nc, args[0])
				if err != nil {
					return err
				}
				opts.SecGroupID = g.ID
			}
			pages, err := rules.List(nc, opts).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := rules.ExtractRules(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, r := range all {
				rows = append(rows, []any{r.ID, r.Protocol, r.EtherType, r.RemoteIPPrefix, portRange(&r), r.Direction,
					r.RemoteGroupID, r.SecGroupID})
			}
			return printList(cmd, []string{"id", "protocol", "ethertype", "remote_ip_prefix", "port_range", "direction",
				"remote_group_id", "security_group_id"}, rows)
		},
	}

	cmd.AddCommand(create, list, ruleNoun.showCommand(), ruleNoun.deleteCommand())
	return cmd
}

// parsePortRange reads "N" or "N:M".
func parsePortRange(s string) (int, int, error) {
	loText, hiText, isRange := strings.Cut(s, ":")
	lo, err := strconv.Atoi(loText)
	if err != nil {
		return 0, 0, fmt.Errorf("--dst-port %q: want a port N or a range N:M", s)
	}
	hi := lo
	if isRange {
		if hi, err = strconv.Atoi(hiText); err != nil {
			return 0, 0, fmt.Errorf("--dst-port %q: want a port N or a range N:M", s)
		}
	}
	return lo, hi, nil
}
