package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/mtu"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/provider"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/spf13/cobra"
)

// networkSession connects and returns a networking v2.0 client.
func networkSession(cmd *cobra.Command) (*session, *gophercloud.ServiceClient, error) {
	s, err := connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	nc, err := openstack.NewNetworkV2(s.provider, gophercloud.EndpointOpts{})
	if err != nil {
		return nil, nil, err
	}
	return s, nc, nil
}

// neutronNoun describes a network-service object the CLI finds by name or
// id and can show and delete.
type neutronNoun[T any] struct {
	// noun is singular and upper-case in usage strings ("NETWORK"); plural
	// is lower-case for help ("networks").
	noun, plural string
	// refs says how the objects are referenced ("name or id").
	refs   string
	find   func(s *session, nc *gophercloud.ServiceClient, ref string) (*T, error)
	fields func(*T) []field
	delete func(ctx context.Context, nc *gophercloud.ServiceClient, obj *T) error
}

// showCommand is "show NOUN".
func (n neutronNoun[T]) showCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show " + n.noun,
		Short: "Show one of the " + n.plural + " (" + n.refs + ")",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			obj, err := n.find(s, nc, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, n.fields(obj))
		},
	}
}

// deleteCommand is "delete NOUN...".
func (n neutronNoun[T]) deleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete " + n.noun + "...",
		Short: "Delete " + n.plural + " (" + n.refs + ")",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				obj, err := n.find(s, nc, ref)
				if err != nil {
					return err
				}
				if err := n.delete(s.ctx, nc, obj); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// findNeutron resolves ref as an id, else as the name of exactly one of
// the objects byName lists (Neutron filters lists by name). When an admin
// sees several objects of that name, the one in the token's own project
// wins (every project has a security group named "default").
func findNeutron[T any](s *session, kind, ref string, get func(id string) (*T, error), byName func(name string) ([]T, error),
	projectOf func(*T) string) (*T, error) {
	obj, err := get(ref)
	if err == nil {
		return obj, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	named, err := byName(ref)
	if err != nil {
		return nil, err
	}
	if len(named) > 1 {
		if p, err := s.token.ExtractProject(); err == nil && p != nil {
			var own []T
			for i := range named {
				if projectOf(&named[i]) == p.ID {
					own = append(own, named[i])
				}
			}
			if len(own) == 1 {
				named = own
			}
		}
	}
	switch len(named) {
	case 0:
		return nil, fmt.Errorf("no %s with a name or id of %q", kind, ref)
	case 1:
		return &named[0], nil
	}
	return nil, fmt.Errorf("%d %ss are named %q: use an id", len(named), kind, ref)
}

// compact is a nested value shown as compact JSON in tables (rather than
// Go's rendering of structs and pointers) and as itself in JSON output.
type compact struct{ v any }

func (c compact) MarshalJSON() ([]byte, error) { return json.Marshal(c.v) }

func (c compact) String() string {
	b, err := json.Marshal(c.v)
	if err != nil {
		return fmt.Sprint(c.v)
	}
	return string(b)
}

// network is a network with the extension attributes kumo serves.
type network struct {
	networks.Network
	external.NetworkExternalExt
	mtu.NetworkMTUExt
	provider.NetworkProviderExt
}

// UnmarshalJSON fills each part: the parts' own decoders (timestamps,
// segmentation ids) would hide one another if promoted together.
func (n *network) UnmarshalJSON(b []byte) error {
	return unmarshalParts(b, &n.Network, &n.NetworkExternalExt, &n.NetworkMTUExt, &n.NetworkProviderExt)
}

// unmarshalParts decodes one JSON object into each of parts.
func unmarshalParts(b []byte, parts ...any) error {
	for _, p := range parts {
		if err := json.Unmarshal(b, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) findNetwork(nc *gophercloud.ServiceClient, ref string) (*network, error) {
	return findNeutron(s, "network", ref, func(id string) (*network, error) {
		var n network
		return &n, networks.Get(s.ctx, nc, id).ExtractInto(&n)
	}, func(name string) ([]network, error) {
		return listNetworks(s.ctx, nc, networks.ListOpts{Name: name})
	}, func(n *network) string { return n.ProjectID })
}

func listNetworks(ctx context.Context, nc *gophercloud.ServiceClient, opts networks.ListOptsBuilder) ([]network, error) {
	pages, err := networks.List(nc, opts).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	var all []network
	return all, networks.ExtractNetworksInto(pages, &all)
}

func networkFields(n *network) []field {
	return []field{{"id", n.ID}, {"name", n.Name}, {"status", n.Status}, {"admin_state_up", n.AdminStateUp},
		{"shared", n.Shared}, {"router:external", n.External}, {"mtu", n.MTU}, {"subnets", n.Subnets},
		{"provider:network_type", n.NetworkType}, {"provider:physical_network", n.PhysicalNetwork},
		{"provider:segmentation_id", n.SegmentationID}, {"description", n.Description}, {"project_id", n.ProjectID},
		{"tags", n.Tags}, {"created_at", timeValue(n.CreatedAt)}, {"updated_at", timeValue(n.UpdatedAt)}}
}

var networkNoun = neutronNoun[network]{
	noun: "NETWORK", plural: "networks", refs: "name or id",
	find:   (*session).findNetwork,
	fields: networkFields,
	delete: func(ctx context.Context, nc *gophercloud.ServiceClient, n *network) error {
		return networks.Delete(ctx, nc, n.ID).ExtractErr()
	},
}

func networkCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks"}

	var share, isExternal, disable bool
	var mtuSize int
	var description, projectRef, projectDomain string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			up := !disable
			opts := networks.CreateOpts{Name: args[0], Description: description, AdminStateUp: &up}
			if share {
				opts.Shared = &share
			}
			if projectRef != "" {
				p, err := s.findProject(projectRef, projectDomain)
				if err != nil {
					return err
				}
				opts.ProjectID = p.ID
			}
			var builder networks.CreateOptsBuilder = opts
			if isExternal {
				builder = external.CreateOptsExt{CreateOptsBuilder: builder, External: &isExternal}
			}
			if mtuSize > 0 {
				builder = mtu.CreateOptsExt{CreateOptsBuilder: builder, MTU: mtuSize}
			}
			var n network
			if err := networks.Create(s.ctx, nc, builder).ExtractInto(&n); err != nil {
				return err
			}
			return printObject(cmd, networkFields(&n))
		},
	}
	create.Flags().BoolVar(&share, "share", false, "share the network with every project (admin)")
	create.Flags().BoolVar(&isExternal, "external", false, "make it an external network for router gateways and floating IPs (admin)")
	create.Flags().BoolVar(&disable, "disable", false, "create it administratively down")
	create.Flags().IntVar(&mtuSize, "mtu", 0, "MTU (default: the cloud's)")
	create.Flags().StringVar(&description, "description", "", "description")
	create.Flags().StringVar(&projectRef, "project", "", "create it for another project (name or id; admin)")
	create.Flags().StringVar(&projectDomain, "project-domain", "", "domain of the --project when named")

	var name string
	var onlyExternal bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List networks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, nc, err := networkSession(cmd)
			if err != nil {
				return err
			}
			var opts networks.ListOptsBuilder = networks.ListOpts{Name: name}
			if onlyExternal {
				opts = external.ListOptsExt{ListOptsBuilder: opts, External: &onlyExternal}
			}
			all, err := listNetworks(s.ctx, nc, opts)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, n := range all {
				rows = append(rows, []any{n.ID, n.Name, n.Status, n.Subnets, n.Shared, n.External})
			}
			return printList(cmd, []string{"id", "name", "status", "subnets", "shared", "router:external"}, rows)
		},
	}
	list.Flags().StringVar(&name, "name", "", "only networks with this name")
	list.Flags().BoolVar(&onlyExternal, "external", false, "only external networks")

	cmd.AddCommand(create, list, networkNoun.showCommand(), networkNoun.deleteCommand())
	return cmd
}
