package main

import (
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/spf13/cobra"
)

func flavorCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "flavor", Short: "Manage flavors"}

	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List flavors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			opts := flavors.ListOpts{}
			if all {
				opts.AccessType = flavors.AllAccess
			}
			pages, err := flavors.ListDetail(cc, opts).AllPages(s.ctx)
			if err != nil {
				return err
			}
			fs, err := flavors.ExtractFlavors(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(fs))
			for _, f := range fs {
				rows = append(rows, []any{f.ID, f.Name, f.RAM, f.Disk, f.Ephemeral, f.VCPUs, f.IsPublic})
			}
			return printList(cmd, []string{"id", "name", "ram", "disk", "ephemeral", "vcpus", "is_public"}, rows)
		},
	}
	list.Flags().BoolVar(&all, "all", false, "private flavors too (admin)")

	show := &cobra.Command{
		Use:   "show FLAVOR",
		Short: "Show a flavor (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			f, err := s.findFlavor(cc, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, flavorFields(f))
		},
	}

	var id, description string
	var ram, vcpus, disk, ephemeral, swap int
	var private bool
	create := &cobra.Command{
		Use:   "create NAME --ram MB --vcpus N --disk GB",
		Short: "Create a flavor (admin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			public := !private
			opts := flavors.CreateOpts{Name: args[0], ID: id, RAM: ram, VCPUs: vcpus, Disk: &disk, IsPublic: &public,
				Description: description}
			if cmd.Flags().Changed("ephemeral") {
				opts.Ephemeral = &ephemeral
			}
			if cmd.Flags().Changed("swap") {
				opts.Swap = &swap
			}
			if description != "" {
				cc.Microversion = "2.55"
			}
			f, err := flavors.Create(s.ctx, cc, opts).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, flavorFields(f))
		},
	}
	create.Flags().StringVar(&id, "id", "", "flavor id (default: a generated UUID)")
	create.Flags().IntVar(&ram, "ram", 256, "memory in MiB")
	create.Flags().IntVar(&vcpus, "vcpus", 1, "virtual CPUs")
	create.Flags().IntVar(&disk, "disk", 0, "root disk in GiB (0: the image's size)")
	create.Flags().IntVar(&ephemeral, "ephemeral", 0, "ephemeral disk in GiB")
	create.Flags().IntVar(&swap, "swap", 0, "swap in MiB")
	create.Flags().BoolVar(&private, "private", false, "visible only to projects given access")
	create.Flags().StringVar(&description, "description", "", "description (microversion 2.55)")

	del := &cobra.Command{
		Use:   "delete FLAVOR...",
		Short: "Delete flavors (names or ids; admin)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				f, err := s.findFlavor(cc, ref)
				if err != nil {
					return err
				}
				if err := flavors.Delete(s.ctx, cc, f.ID).ExtractErr(); err != nil {
					return err
				}
			}
			return nil
		},
	}

	cmd.AddCommand(list, show, create, del)
	return cmd
}

// findFlavor resolves a flavor id, or a name that exactly one flavor the
// caller can see has (private ones included for admins).
func (s *session) findFlavor(cc *gophercloud.ServiceClient, ref string) (*flavors.Flavor, error) {
	f, err := flavors.Get(s.ctx, cc, ref).Extract()
	if err == nil {
		return f, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	pages, err := flavors.ListDetail(cc, flavors.ListOpts{AccessType: flavors.AllAccess}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := flavors.ExtractFlavors(pages)
	if err != nil {
		return nil, err
	}
	var named []flavors.Flavor
	for _, f := range all {
		if f.Name == ref {
			named = append(named, f)
		}
	}
	return only(named, "flavor", ref)
}

func flavorFields(f *flavors.Flavor) []field {
	return []field{{"id", f.ID}, {"name", f.Name}, {"ram", f.RAM}, {"vcpus", f.VCPUs}, {"disk", f.Disk},
		{"ephemeral", f.Ephemeral}, {"swap", f.Swap}, {"rxtx_factor", f.RxTxFactor}, {"is_public", f.IsPublic},
		{"description", f.Description}, {"extra_specs", f.ExtraSpecs}}
}
