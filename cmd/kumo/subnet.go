package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/spf13/cobra"
)

func (s *session) findSubnet(nc *gophercloud.ServiceClient, ref string) (*subnets.Subnet, error) {
	return findNeutron(s, "subnet", ref, func(id string) (*subnets.Subnet, error) {
		return subnets.Get(s.ctx, nc, id).Extract()
	}, func(name string) ([]subnets.Subnet, error) {
		return listSubnets(s.ctx, nc, subnets.ListOpts{Name: name})
	}, func(sn *subnets.Subnet) string { return sn.ProjectID })
}

func listSubnets(ctx context.Context, nc *gophercloud.ServiceClient, opts subnets.ListOpts) ([]subnets.Subnet, error) {
	pages, err := subnets.List(nc, opts).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	return subnets.ExtractSubnets(pages)
}

// pools renders allocation pools as start-end ranges.
type pools []subnets.AllocationPool

func (p pools) String() string {
	r := make([]string, len(p))
	for i, a := range p {
		r[i] = a.Start + "-" + a.End
	}
	return strings.Join(r, ",")
}

func subnetFields(sn *subnets.Subnet) []field {
	return []field{{"id", sn.ID}, {"name", sn.Name}, {"network_id", sn.NetworkID}, {"cidr", sn.CIDR},
		{"ip_version", sn.IPVersion}, {"gateway_ip", sn.GatewayIP}, {"allocation_pools", pools(sn.AllocationPools)},
		{"dns_nameservers", sn.DNSNameservers}, {"host_routes", compact{sn.HostRoutes}}, {"enable_dhcp", sn.EnableDHCP},
		{"description", sn.Description}, {"project_id", sn.ProjectID}, {"tags", sn.Tags},
		{"created_at", timeValue(sn.CreatedAt)}, {"updated_at", timeValue(sn.UpdatedAt)}}
}

var subnetNoun = neutronNoun[subnets.Subnet]{
	noun: "SUBNET", plural: "subnets", refs: "name or id",
	find:   (*session).findSubnet,
	fields: subnetFields,
	delete: func(ctx context.Context, nc *gophercloud.ServiceClient, sn *subnets.Subnet) error {
		return subnets.Delete(ctx, nc, sn.ID).ExtractErr()
	},
}

// keyValues parses "k1=v1,k2=v2" (the openstack CLI's form for
// --allocation-pool and --fixed-ip), allowing only the given keys.
func keyValues(flag, s string, keys ...string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("--%s %q: want %s=VALUE pairs separated by commas", flag, s, strings.Join(keys, "=...,"))
		}
		known := false
		for _, want := range keys {
			known = known || k == want
		}
		if !known {
			return nil, fmt.Errorf("--%s %q: unknown key %q (want %s)", flag, s, k, strings.Join(keys, ", "))
		}
		m[k] = v
	}
	return m, nil
}

func subnetCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "subnet", Short: "Manage subnets"}

	var networkRef, cidr, gateway, description string
	var dns, poolFlags []string
	var ipVersion int
	var noDHCP bool
	create := &cobra.Command{
		Use:   "create NAME --network NETWORK --subnet-range CIDR",
		Short: "Create a subnet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := subnets.CreateOpts{Name: args[0], CIDR: cidr, IPVersion: gophercloud.IPVersion(ipVersion),
				Description: description}
			switch gateway {
			case "auto":
			case "none":
				none := ""
				opts.GatewayIP = &none
			default:
				opts.GatewayIP = &gateway
			}
			if len(dns) > 0 {
				opts.DNSNameservers = dns
			}
			for _, p := range poolFlags {
				m, err := keyValues("allocation-pool", p, "start", "end")
				if err != nil {
					return err
				}
				if m["start"] == "" || m["end"] == "" {
					return fmt.Errorf("--allocation-pool %q: want start=IP,end=IP", p)
				}
				opts.AllocationPools = append(opts.AllocationPools, subnets.AllocationPool{Start: m["start"], End: m["end"]})
			}
			dhcp := !noDHCP
			opts.EnableDHCP = &dhcp
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			n, err := s.findNetwork(nc, networkRef)
			if err != nil {
				return err
			}
			opts.NetworkID = n.ID
			sn, err := subnets.Create(s.ctx, nc, opts).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, subnetFields(sn))
		},
	}
	create.Flags().StringVar(&networkRef, "network", "", "network of the subnet (name or id)")
	create.Flags().StringVar(&cidr, "subnet-range", "", "the subnet's CIDR, such as 10.0.0.0/24")
	create.Flags().StringVar(&gateway, "gateway", "auto", "gateway address, auto (the first address) or none")
	create.Flags().StringArrayVar(&dns, "dns-nameserver", nil, "DNS name server handed out by DHCP (repeatable)")
	create.Flags().StringArrayVar(&poolFlags, "allocation-pool", nil, "addresses to allocate from, start=IP,end=IP (repeatable)")
	create.Flags().BoolVar(&noDHCP, "no-dhcp", false, "serve no DHCP on the subnet")
	create.Flags().IntVar(&ipVersion, "ip-version", 4, "4 or 6")
	create.Flags().StringVar(&description, "description", "", "description")
	_ = create.MarkFlagRequired("network")
	_ = create.MarkFlagRequired("subnet-range")

	var listNetwork, listName string
	list := &cobra.Command{
		Use:   "list",
		Short: "List subnets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			opts := subnets.ListOpts{Name: listName}
			if listNetwork != "" {
				n, err := s.findNetwork(nc, listNetwork)
				if err != nil {
					return err
				}
				opts.NetworkID = n.ID
			}
			all, err := listSubnets(s.ctx, nc, opts)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, sn := range all {
				rows = append(rows, []any{sn.ID, sn.Name, sn.NetworkID, sn.CIDR, sn.GatewayIP, sn.EnableDHCP})
			}
			return printList(cmd, []string{"id", "name", "network_id", "cidr", "gateway_ip", "enable_dhcp"}, rows)
		},
	}
	list.Flags().StringVar(&listNetwork, "network", "", "only subnets of this network (name or id)")
	list.Flags().StringVar(&listName, "name", "", "only subnets with this name")

	cmd.AddCommand(create, list, subnetNoun.showCommand(), subnetNoun.deleteCommand())
	return cmd
}
