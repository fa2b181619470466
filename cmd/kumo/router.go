package main

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/spf13/cobra"
)

func (s *session) findRouter(nc *gophercloud.ServiceClient, ref string) (*routers.Router, error) {
	return findNeutron(s, "router", ref, func(id string) (*routers.Router, error) {
		return routers.Get(s.ctx, nc, id).Extract()
	}, func(name string) ([]routers.Router, error) {
		return listRouters(s.ctx, nc, routers.ListOpts{Name: name})
	}, func(r *routers.Router) string { return r.ProjectID })
}

func listRouters(ctx context.Context, nc *gophercloud.ServiceClient, opts routers.ListOpts) ([]routers.Router, error) {
	pages, err := routers.List(nc, opts).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	return routers.ExtractRouters(pages)
}

// gateway is a router's external gateway for output: nil when it has none.
func gateway(r *routers.Router) any {
	if r.GatewayInfo.NetworkID == "" {
		return nil
	}
	return compact{r.GatewayInfo}
}

func routerFields(r *routers.Router) []field {
	return []field{{"id", r.ID}, {"name", r.Name}, {"status", r.Status}, {"admin_state_up", r.AdminStateUp},
		{"external_gateway_info", gateway(r)}, {"routes", compact{r.Routes}}, {"description", r.Description},
		{"project_id", r.ProjectID}, {"tags", r.Tags}, {"created_at", timeValue(r.CreatedAt)},
		{"updated_at", timeValue(r.UpdatedAt)}}
}

var routerNoun = neutronNoun[routers.Router]{
	noun: "ROUTER", plural: "routers", refs: "name or id",
	find:   (*session).findRouter,
	fields: routerFields,
	delete: func(ctx context.Context, nc *gophercloud.ServiceClient, r *routers.Router) error {
		return routers.Delete(ctx, nc, r.ID).ExtractErr()
	},
}

func routerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "router", Short: "Manage routers"}

	var description string
	var disable bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a router",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			up := !disable
			r, err := routers.Create(s.ctx, nc, routers.CreateOpts{Name: args[0], Description: description, AdminStateUp: &up}).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, routerFields(r))
		},
	}
	create.Flags().StringVar(&description, "description", "", "description")
	create.Flags().BoolVar(&disable, "disable", false, "create it administratively down")

	var listName string
	list := &cobra.Command{
		Use:   "list",
		Short: "List routers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			all, err := listRouters(s.ctx, nc, routers.ListOpts{Name: listName})
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, r := range all {
				rows = append(rows, []any{r.ID, r.Name, r.Status, r.AdminStateUp, r.GatewayInfo.NetworkID, r.ProjectID})
			}
			return printList(cmd, []string{"id", "name", "status", "admin_state_up", "external_network_id", "project_id"}, rows)
		},
	}
	list.Flags().StringVar(&listName, "name", "", "only routers with this name")

	cmd.AddCommand(create, list, routerNoun.showCommand(), routerNoun.deleteCommand(),
		routerInterfaceCommand("add", "Add an interface on a subnet to a router"),
		routerInterfaceCommand("remove", "Remove a router's interface on a subnet"),
		routerSetCommand(), routerUnsetCommand())
	return cmd
}

// routerInterfaceCommand is "router add subnet" or "router remove subnet".
func routerInterfaceCommand(verb, short string) *cobra.Command {
	cmd := &cobra.Command{Use: verb, Short: short}
	cmd.AddCommand(&cobra.Command{
		Use:   "subnet ROUTER SUBNET",
		Short: short + " (names or ids)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			r, err := s.findRouter(nc, args[0])
			if err != nil {
				return err
			}
			sn, err := s.findSubnet(nc, args[1])
			if err != nil {
				return err
			}
			if verb == "add" {
				_, err = routers.AddInterface(s.ctx, nc, r.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract()
			} else {
				_, err = routers.RemoveInterface(s.ctx, nc, r.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract()
			}
			return err
		},
	})
	return cmd
}

func routerSetCommand() *cobra.Command {
	var network, name string
	var disableSNAT, enableSNAT bool
	cmd := &cobra.Command{
		Use:   "set ROUTER",
		Short: "Set a router's name or external gateway",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			r, err := s.findRouter(nc, args[0])
			if err != nil {
				return err
			}
			if (disableSNAT || enableSNAT) && network == "" {
				return fmt.Errorf("--enable-snat and --disable-snat go with --external-gateway")
			}
			opts := routers.UpdateOpts{Name: name}
			if network != "" {
				n, err := s.findNetwork(nc, network)
				if err != nil {
					return err
				}
				opts.GatewayInfo = &routers.GatewayInfo{NetworkID: n.ID}
				if disableSNAT || enableSNAT {
					snat := enableSNAT
					opts.GatewayInfo.EnableSNAT = &snat
				}
			}
			_, err = routers.Update(s.ctx, nc, r.ID, opts).Extract()
			return err
		},
	}
	cmd.Flags().StringVar(&network, "external-gateway", "", "external network for the router's gateway (name or id)")
	cmd.Flags().BoolVar(&enableSNAT, "enable-snat", false, "translate outgoing traffic to the gateway's address (the default)")
	cmd.Flags().BoolVar(&disableSNAT, "disable-snat", false, "route without address translation (admin)")
	cmd.Flags().StringVar(&name, "name", "", "new name")
	cmd.MarkFlagsMutuallyExclusive("enable-snat", "disable-snat")
	return cmd
}

func routerUnsetCommand() *cobra.Command {
	var gw bool
	cmd := &cobra.Command{
		Use:   "unset ROUTER --external-gateway",
		Short: "Remove a router's external gateway",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			r, err := s.findRouter(nc, args[0])
			if err != nil {
				return err
			}
			if !gw {
				return nil
			}
			_, err = routers.Update(s.ctx, nc, r.ID, routers.UpdateOpts{GatewayInfo: &routers.GatewayInfo{}}).Extract()
			return err
		},
	}
	cmd.Flags().BoolVar(&gw, "external-gateway", false, "remove the external gateway")
	return cmd
}
