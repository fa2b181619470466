package main

import (
	"context"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsbinding"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsecurity"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/spf13/cobra"
)

// port is a port with the extension attributes kumo serves.
type port struct {
	ports.Port
	portsecurity.PortSecurityExt
	portsbinding.PortsBindingExt
}

// UnmarshalJSON fills each part (Port's own decoder would otherwise be
// promoted and fill only the base attributes).
func (p *port) UnmarshalJSON(b []byte) error {
	return unmarshalParts(b, &p.Port, &p.PortSecurityExt, &p.PortsBindingExt)
}

// fixedIPs renders a port's addresses as ip_address='...', subnet_id='...'
// in tables, as the openstack CLI does, and as objects in JSON.
type fixedIPs []ports.IP

func (f fixedIPs) String() string {
	r := make([]string, len(f))
	for i, ip := range f {
		r[i] = "ip_address='" + ip.IPAddress + "', subnet_id='" + ip.SubnetID + "'"
	}
	return strings.Join(r, "; ")
}

func (s *session) findPort(nc *gophercloud.ServiceClient, ref string) (*port, error) {
	return findNeutron(s, "port", ref, func(id string) (*port, error) {
		var p port
		return &p, ports.Get(s.ctx, nc, id).ExtractInto(&p)
	}, func(name string) ([]port, error) {
		return listPorts(s.ctx, nc, ports.ListOpts{Name: name})
	}, func(p *port) string { return p.ProjectID })
}

func listPorts(ctx context.Context, nc *gophercloud.ServiceClient, opts ports.ListOpts) ([]port, error) {
	pages, err := ports.List(nc, opts).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	var all []port
	return all, ports.ExtractPortsInto(pages, &all)
}

func portFields(p *port) []field {
	return []field{{"id", p.ID}, {"name", p.Name}, {"network_id", p.NetworkID}, {"mac_address", p.MACAddress},
		{"fixed_ips", fixedIPs(p.FixedIPs)}, {"status", p.Status}, {"admin_state_up", p.AdminStateUp},
		{"device_owner", p.DeviceOwner}, {"device_id", p.DeviceID}, {"security_groups", p.SecurityGroups},
		{"port_security_enabled", p.PortSecurityEnabled}, {"allowed_address_pairs", compact{p.AllowedAddressPairs}},
		{"binding:host_id", p.HostID}, {"binding:vif_type", p.VIFType}, {"description", p.Description},
		{"project_id", p.ProjectID}, {"tags", p.Tags}, {"created_at", timeValue(p.CreatedAt)},
		{"updated_at", timeValue(p.UpdatedAt)}}
}

var portNoun = neutronNoun[port]{
	noun: "PORT", plural: "ports", refs: "name or id",
	find:   (*session).findPort,
	fields: portFields,
	delete: func(ctx context.Context, nc *gophercloud.ServiceClient, p *port) error {
		return ports.Delete(ctx, nc, p.ID).ExtractErr()
	},
}

func portCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "port", Short: "Manage ports"}

	var networkRef, mac, description string
	var fixed, groupRefs []string
	var noGroups, disable bool
	create := &cobra.Command{
		Use:   "create NAME --network NETWORK",
		Short: "Create a port",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			n, err := s.findNetwork(nc, networkRef)
			if err != nil {
				return err
			}
			up := !disable
			opts := ports.CreateOpts{Name: args[0], NetworkID: n.ID, MACAddress: mac, Description: description,
				AdminStateUp: &up}
			if len(fixed) > 0 {
				ips := make([]ports.IP, 0, len(fixed))
				for _, f := range fixed {
					m, err := keyValues("fixed-ip", f, "subnet", "ip-address")
					if err != nil {
						return err
					}
					ip := ports.IP{IPAddress: m["ip-address"]}
					if m["subnet"] != "" {
						sn, err := s.findSubnet(nc, m["subnet"])
						if err != nil {
							return err
						}
						ip.SubnetID = sn.ID
					}
					ips = append(ips, ip)
				}
				opts.FixedIPs = ips
			}
			if noGroups || len(groupRefs) > 0 {
				ids := []string{}
				for _, ref := range groupRefs {
					g, err := s.findSecGroup(nc, ref)
					if err != nil {
						return err
					}
					ids = append(ids, g.ID)
				}
				opts.SecurityGroups = &ids
			}
			var p port
			if err := ports.Create(s.ctx, nc, opts).ExtractInto(&p); err != nil {
				return err
			}
			return printObject(cmd, portFields(&p))
		},
	}
	create.Flags().StringVar(&networkRef, "network", "", "network of the port (name or id)")
	create.Flags().StringArrayVar(&fixed, "fixed-ip", nil, "address: subnet=SUBNET,ip-address=IP, either part optional (repeatable)")
	create.Flags().StringArrayVar(&groupRefs, "security-group", nil, "security group (name or id; repeatable; default: the project's default group)")
	create.Flags().BoolVar(&noGroups, "no-security-group", false, "no security group at all")
	create.Flags().StringVar(&mac, "mac-address", "", "MAC address (default: generated)")
	create.Flags().BoolVar(&disable, "disable", false, "create it administratively down")
	create.Flags().StringVar(&description, "description", "", "description")
	_ = create.MarkFlagRequired("network")
	create.MarkFlagsMutuallyExclusive("security-group", "no-security-group")

	var listNetwork, listRouter, listName string
	list := &cobra.Command{
		Use:   "list",
		Short: "List ports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			opts := ports.ListOpts{Name: listName}
			if listNetwork != "" {
				n, err := s.findNetwork(nc, listNetwork)
				if err != nil {
					return err
				}
				opts.NetworkID = n.ID
			}
			if listRouter != "" {
				r, err := s.findRouter(nc, listRouter)
				if err != nil {
					return err
				}
				opts.DeviceID = r.ID
			}
			all, err := listPorts(s.ctx, nc, opts)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, p := range all {
				rows = append(rows, []any{p.ID, p.Name, p.MACAddress, fixedIPs(p.FixedIPs), p.Status, p.DeviceOwner})
			}
			return printList(cmd, []string{"id", "name", "mac_address", "fixed_ips", "status", "device_owner"}, rows)
		},
	}
	list.Flags().StringVar(&listNetwork, "network", "", "only ports on this network (name or id)")
	list.Flags().StringVar(&listRouter, "router", "", "only this router's ports (name or id)")
	list.Flags().StringVar(&listName, "name", "", "only ports with this name")

	cmd.AddCommand(create, list, portNoun.showCommand(), portNoun.deleteCommand())
	return cmd
}
