package main

import (
	"errors"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/spf13/cobra"
)

func roleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage roles and role assignments"}

	list := &cobra.Command{
		Use:   "list",
		Short: "List roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			pages, err := roles.List(s.identity, roles.ListOpts{}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := roles.ExtractRoles(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, r := range all {
				rows = append(rows, []any{r.ID, r.Name, r.DomainID})
			}
			return printList(cmd, []string{"id", "name", "domain_id"}, rows)
		},
	}

	cmd.AddCommand(list, grantCommand(true), grantCommand(false), assignmentCommand())
	return cmd
}

// grantTarget is who gets a role (user or group) on what (project,
// domain or system).
type grantTarget struct {
	user, group, project, domain, userDomain, projectDomain string
	system                                                  bool
}

func (g *grantTarget) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&g.user, "user", "", "user (name or id)")
	f.StringVar(&g.group, "group", "", "group (name or id)")
	f.StringVar(&g.project, "project", "", "project (name or id)")
	f.StringVar(&g.domain, "domain", "", "domain (name or id)")
	f.BoolVar(&g.system, "system", false, "the whole system")
	f.StringVar(&g.userDomain, "user-domain", "", "domain of the user or group when named")
	f.StringVar(&g.projectDomain, "project-domain", "", "domain of the project when named")
}

// resolve turns names into ids; with need, exactly one actor and one
// target must be given.
func (g *grantTarget) resolve(s *session, need bool) (actor roles.AssignOpts, err error) {
	if need {
		if (g.user == "") == (g.group == "") {
			return actor, errors.New("give one of --user or --group")
		}
		n := 0
		for _, set := range []bool{g.project != "", g.domain != "", g.system} {
			if set {
				n++
			}
		}
		if n != 1 {
			return actor, errors.New("give one of --project, --domain or --system")
		}
	}
	if g.user != "" {
		u, err := s.findUser(g.user, g.userDomain)
		if err != nil {
			return actor, err
		}
		actor.UserID = u.ID
	}
	if g.group != "" {
		gr, err := s.findGroup(g.group, g.userDomain)
		if err != nil {
			return actor, err
		}
		actor.GroupID = gr.ID
	}
	if g.project != "" {
		p, err := s.findProject(g.project, g.projectDomain)
		if err != nil {
			return actor, err
		}
		actor.ProjectID = p.ID
	}
	if g.domain != "" {
		d, err := s.findDomain(g.domain)
		if err != nil {
			return actor, err
		}
		actor.DomainID = d.ID
	}
	actor.System = g.system
	return actor, nil
}

// grantCommand is "role add" (add) or "role remove".
func grantCommand(add bool) *cobra.Command {
	var g grantTarget
	use, short := "remove", "Remove a role from a user or group"
	if add {
		use, short = "add", "Give a user or group a role on a project, domain or the system"
	}
	cmd := &cobra.Command{
		Use:   use + " ROLE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			opts, err := g.resolve(s, true)
			if err != nil {
				return err
			}
			role, err := s.findRole(args[0])
			if err != nil {
				return err
			}
			if add {
				return roles.Assign(s.ctx, s.identity, role.ID, opts).ExtractErr()
			}
			return roles.Unassign(s.ctx, s.identity, role.ID, roles.UnassignOpts(opts)).ExtractErr()
		},
	}
	g.flags(cmd)
	return cmd
}

func assignmentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "assignment", Short: "Role assignments"}
	var g grantTarget
	var role string
	var names, effective bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List role assignments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			t, err := g.resolve(s, false)
			if err != nil {
				return err
			}
			opts := roles.ListAssignmentsOpts{UserID: t.UserID, GroupID: t.GroupID,
				ScopeProjectID: t.ProjectID, ScopeDomainID: t.DomainID}
			if t.System {
				opts.ScopeSystem = "all"
			}
			if role != "" {
				r, err := s.findRole(role)
				if err != nil {
					return err
				}
				opts.RoleID = r.ID
			}
			if names {
				opts.IncludeNames = &names
			}
			if effective {
				opts.Effective = &effective
			}
			pages, err := roles.ListAssignments(s.identity, opts).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := roles.ExtractRoleAssignments(pages)
			if err != nil {
				return err
			}
			pick := func(id, name, domain string) string {
				if !names {
					return id
				}
				if domain != "" {
					return name + "@" + domain
				}
				return name
			}
			rows := make([][]any, 0, len(all))
			for _, a := range all {
				system := ""
				if a.Scope.System != nil && a.Scope.System.All {
					system = "all"
				}
				rows = append(rows, []any{
					pick(a.Role.ID, a.Role.Name, ""),
					pick(a.User.ID, a.User.Name, a.User.Domain.Name),
					pick(a.Group.ID, a.Group.Name, a.Group.Domain.Name),
					pick(a.Scope.Project.ID, a.Scope.Project.Name, a.Scope.Project.Domain.Name),
					pick(a.Scope.Domain.ID, a.Scope.Domain.Name, ""),
					system,
				})
			}
			return printList(cmd, []string{"role", "user", "group", "project", "domain", "system"}, rows)
		},
	}
	g.flags(list)
	list.Flags().StringVar(&role, "role", "", "only this role (name or id)")
	list.Flags().BoolVar(&names, "names", false, "show names instead of ids")
	list.Flags().BoolVar(&effective, "effective", false, "effective assignments (through groups, implied roles)")
	cmd.AddCommand(list)
	return cmd
}

// findRole resolves a role name or id.
func (s *session) findRole(ref string) (*roles.Role, error) {
	r, err := roles.Get(s.ctx, s.identity, ref).Extract()
	if err == nil {
		return r, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	pages, err := roles.List(s.identity, roles.ListOpts{Name: ref}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := roles.ExtractRoles(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "role", ref)
}

// findGroup resolves a group name or id, by name within domainRef if given.
func (s *session) findGroup(ref, domainRef string) (*groups.Group, error) {
	if domainRef == "" {
		g, err := groups.Get(s.ctx, s.identity, ref).Extract()
		if err == nil {
			return g, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	domainID, err := s.domainID(domainRef)
	if err != nil {
		return nil, err
	}
	pages, err := groups.List(s.identity, groups.ListOpts{Name: ref, DomainID: domainID}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := groups.ExtractGroups(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "group", ref)
}
