package main

import (
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/spf13/cobra"
)

func projectCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Manage projects"}

	var listDomain string
	list := &cobra.Command{
		Use:   "list",
		Short: "List projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			domainID, err := s.domainID(listDomain)
			if err != nil {
				return err
			}
			pages, err := projects.List(s.identity, projects.ListOpts{DomainID: domainID}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := projects.ExtractProjects(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, p := range all {
				rows = append(rows, []any{p.ID, p.Name, p.DomainID, p.Enabled, p.Description})
			}
			return printList(cmd, []string{"id", "name", "domain_id", "enabled", "description"}, rows)
		},
	}
	list.Flags().StringVar(&listDomain, "domain", "", "only projects of this domain (name or id)")

	var createDomain, description string
	var disable bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			domainID, err := s.domainID(createDomain)
			if err != nil {
				return err
			}
			enabled := !disable
			p, err := projects.Create(s.ctx, s.identity, projects.CreateOpts{
				Name: args[0], DomainID: domainID, Description: description, Enabled: &enabled}).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, projectFields(p))
		},
	}
	create.Flags().StringVar(&createDomain, "domain", "", "domain to create the project in (name or id; default: the token's)")
	create.Flags().StringVar(&description, "description", "", "project description")
	create.Flags().BoolVar(&disable, "disable", false, "create the project disabled")

	named := domainNamed[*projects.Project]{
		noun: "PROJECT", plural: "projects",
		find:   (*session).findProject,
		fields: projectFields,
		delete: func(s *session, obj *projects.Project) error {
			return projects.Delete(s.ctx, s.identity, obj.ID).ExtractErr()
		},
	}
	show, del := named.showCommand(), named.deleteCommand()

	cmd.AddCommand(list, create, show, del)
	return cmd
}

func projectFields(p *projects.Project) []field {
	return []field{{"id", p.ID}, {"name", p.Name}, {"domain_id", p.DomainID}, {"enabled", p.Enabled},
		{"description", p.Description}, {"parent_id", p.ParentID}, {"tags", p.Tags}}
}

// findProject resolves a project name or id, by name within domainRef if
// given.
func (s *session) findProject(ref, domainRef string) (*projects.Project, error) {
	if domainRef == "" {
		p, err := projects.Get(s.ctx, s.identity, ref).Extract()
		if err == nil {
			return p, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	domainID, err := s.domainID(domainRef)
	if err != nil {
		return nil, err
	}
	pages, err := projects.List(s.identity, projects.ListOpts{Name: ref, DomainID: domainID}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := projects.ExtractProjects(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "project", ref)
}
