package main

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/spf13/cobra"
)

// findFloatingIP resolves a floating IP's id or its address (floating IPs
// have no names).
func (s *session) findFloatingIP(nc *gophercloud.ServiceClient, ref string) (*floatingips.FloatingIP, error) {
	fip, err := floatingips.Get(s.ctx, nc, ref).Extract()
	if err == nil {
		return fip, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	all, err := listFloatingIPs(s.ctx, nc, floatingips.ListOpts{FloatingIP: ref})
	if err != nil {
		return nil, err
	}
	if len(all) != 1 {
		return nil, fmt.Errorf("no floating IP with an address or id of %q", ref)
	}
	return &all[0], nil
}

func listFloatingIPs(ctx context.Context, nc *gophercloud.ServiceClient, opts floatingips.ListOpts) ([]floatingips.FloatingIP, error) {
	pages, err := floatingips.List(nc, opts).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	return floatingips.ExtractFloatingIPs(pages)
}

// nullString is nil for "" (gophercloud's zero for Neutron's null).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func floatingIPFields(f *floatingips.FloatingIP) []field {
	return []field{{"id", f.ID}, {"floating_ip_address", f.FloatingIP}, {"floating_network_id", f.FloatingNetworkID},
		{"status", f.Status}, {"port_id", nullString(f.PortID)}, {"fixed_ip_address", nullString(f.FixedIP)},
		{"router_id", nullString(f.RouterID)}, {"description", f.Description}, {"project_id", f.ProjectID},
		{"tags", f.Tags}, {"created_at", timeValue(f.CreatedAt)}, {"updated_at", timeValue(f.UpdatedAt)}}
}

var floatingIPNoun = neutronNoun[floatingips.FloatingIP]{
	noun: "FLOATING_IP", plural: "floating IPs", refs: "address or id",
	find:   (*session).findFloatingIP,
	fields: floatingIPFields,
	delete: func(ctx context.Context, nc *gophercloud.ServiceClient, f *floatingips.FloatingIP) error {
		return floatingips.Delete(ctx, nc, f.ID).ExtractErr()
	},
}

func floatingCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "floating", Short: "Manage floating IPs (floating ip ...)"}
	ip := &cobra.Command{Use: "ip", Short: "Manage floating IPs (ids or addresses)"}

	var portRef, fixedIP, address, description string
	create := &cobra.Command{
		Use:   "create NETWORK",
		Short: "Allocate a floating IP from an external network (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			n, err := s.findNetwork(nc, args[0])
			if err != nil {
				return err
			}
			opts := floatingips.CreateOpts{FloatingNetworkID: n.ID, FloatingIP: address, FixedIP: fixedIP,
				Description: description}
			if portRef != "" {
				p, err := s.findPort(nc, portRef)
				if err != nil {
					return err
				}
				opts.PortID = p.ID
			}
			f, err := floatingips.Create(s.ctx, nc, opts).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, floatingIPFields(f))
		},
	}
	create.Flags().StringVar(&portRef, "port", "", "associate it with this port (name or id)")
	create.Flags().StringVar(&fixedIP, "fixed-ip-address", "", "the port's address to map to (when it has several)")
	create.Flags().StringVar(&address, "floating-ip-address", "", "a specific address on the external network")
	create.Flags().StringVar(&description, "description", "", "description")

	var listNetwork, listPort string
	list := &cobra.Command{
		Use:   "list",
		Short: "List floating IPs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			var opts floatingips.ListOpts
			if listNetwork != "" {
				n, err := s.findNetwork(nc, listNetwork)
				if err != nil {
					return err
				}
				opts.FloatingNetworkID = n.ID
			}
			if listPort != "" {
				p, err := s.findPort(nc, listPort)
				if err != nil {
					return err
				}
				opts.PortID = p.ID
			}
			all, err := listFloatingIPs(s.ctx, nc, opts)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, f := range all {
				rows = append(rows, []any{f.ID, f.FloatingIP, nullString(f.FixedIP), nullString(f.PortID),
					f.FloatingNetworkID, f.Status, f.ProjectID})
			}
			return printList(cmd, []string{"id", "floating_ip_address", "fixed_ip_address", "port_id",
				"floating_network_id", "status", "project_id"}, rows)
		},
	}
	list.Flags().StringVar(&listNetwork, "network", "", "only floating IPs of this external network (name or id)")
	list.Flags().StringVar(&listPort, "port", "", "only the floating IPs of this port (name or id)")

	var setPort, setFixed string
	set := &cobra.Command{
		Use:   "set FLOATING_IP --port PORT",
		Short: "Associate a floating IP (id or address) with a port (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			f, err := s.findFloatingIP(nc, args[0])
			if err != nil {
				return err
			}
			p, err := s.findPort(nc, setPort)
			if err != nil {
				return err
			}
			_, err = floatingips.Update(s.ctx, nc, f.ID, floatingips.UpdateOpts{PortID: &p.ID, FixedIP: setFixed}).Extract()
			return err
		},
	}
	set.Flags().StringVar(&setPort, "port", "", "port to map the floating IP to (name or id)")
	set.Flags().StringVar(&setFixed, "fixed-ip-address", "", "the port's address to map to (when it has several)")
	_ = set.MarkFlagRequired("port")

	var unsetPort bool
	unset := &cobra.Command{
		Use:   "unset FLOATING_IP --port",
		Short: "Disassociate a floating IP (id or address) from its port",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			f, err := s.findFloatingIP(nc, args[0])
			if err != nil {
				return err
			}
			if !unsetPort {
				return nil
			}
			none := ""
			_, err = floatingips.Update(s.ctx, nc, f.ID, floatingips.UpdateOpts{PortID: &none}).Extract()
			return err
		},
	}
	unset.Flags().BoolVar(&unsetPort, "port", false, "disassociate it from its port")

	ip.AddCommand(create, list, floatingIPNoun.showCommand(), floatingIPNoun.deleteCommand(), set, unset)
	cmd.AddCommand(ip)
	return cmd
}
