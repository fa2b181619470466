package main

import (
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/spf13/cobra"
)

func userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}

	var listDomain string
	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
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
			pages, err := users.List(s.identity, users.ListOpts{DomainID: domainID}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := users.ExtractUsers(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, u := range all {
				rows = append(rows, []any{u.ID, u.Name, u.DomainID, u.Enabled, u.DefaultProjectID})
			}
			return printList(cmd, []string{"id", "name", "domain_id", "enabled", "default_project_id"}, rows)
		},
	}
	list.Flags().StringVar(&listDomain, "domain", "", "only users of this domain (name or id)")

	var createDomain, password, project, description, email string
	var disable bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user",
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
			opts := users.CreateOpts{Name: args[0], DomainID: domainID, Password: password, Description: description}
			enabled := !disable
			opts.Enabled = &enabled
			if project != "" {
				p, err := s.findProject(project, createDomain)
				if err != nil {
					return err
				}
				opts.DefaultProjectID = p.ID
			}
			if email != "" {
				opts.Extra = map[string]any{"email": email}
			}
			u, err := users.Create(s.ctx, s.identity, opts).Extract()
			if err != nil {
				return err
			}
			return printObject(cmd, userFields(u))
		},
	}
	create.Flags().StringVar(&createDomain, "domain", "", "domain to create the user in (name or id)")
	create.Flags().StringVar(&password, "password", "", "the user's password")
	create.Flags().StringVar(&project, "project", "", "the user's default project (name or id)")
	create.Flags().StringVar(&description, "description", "", "user description")
	create.Flags().StringVar(&email, "email", "", "the user's email")
	create.Flags().BoolVar(&disable, "disable", false, "create the user disabled")

	named := domainNamed[*users.User]{
		noun: "USER", plural: "users",
		find:   (*session).findUser,
		fields: userFields,
		delete: func(s *session, obj *users.User) error { return users.Delete(s.ctx, s.identity, obj.ID).ExtractErr() },
	}
	show, del := named.showCommand(), named.deleteCommand()

	cmd.AddCommand(list, create, show, del)
	return cmd
}

func userFields(u *users.User) []field {
	return []field{{"id", u.ID}, {"name", u.Name}, {"domain_id", u.DomainID}, {"enabled", u.Enabled},
		{"default_project_id", u.DefaultProjectID}, {"description", u.Description},
		{"password_expires_at", timeValue(u.PasswordExpiresAt)}}
}

// findUser resolves a user name or id, by name within domainRef if given.
func (s *session) findUser(ref, domainRef string) (*users.User, error) {
	if domainRef == "" {
		u, err := users.Get(s.ctx, s.identity, ref).Extract()
		if err == nil {
			return u, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
	}
	domainID, err := s.domainID(domainRef)
	if err != nil {
		return nil, err
	}
	pages, err := users.List(s.identity, users.ListOpts{Name: ref, DomainID: domainID}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := users.ExtractUsers(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "user", ref)
}
