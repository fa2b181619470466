package main

import "github.com/spf13/cobra"

// domainNamed describes an identity object the CLI finds by name or id,
// with --domain to say where a name lives (projects, users).
type domainNamed[T any] struct {
	// noun is singular and upper-case in usage strings ("PROJECT"); plural
	// is lower-case for help ("projects").
	noun, plural string
	find         func(s *session, ref, domainRef string) (T, error)
	fields       func(T) []field
	delete       func(s *session, obj T) error
}

// showCommand is "show NOUN".
func (n domainNamed[T]) showCommand() *cobra.Command {
	var domain string
	cmd := &cobra.Command{
		Use:   "show " + n.noun,
		Short: "Show one of the " + n.plural + " (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			obj, err := n.find(s, args[0], domain)
			if err != nil {
				return err
			}
			return printObject(cmd, n.fields(obj))
		},
	}
	cmd.Flags().StringVar(&domain, "domain", "", "domain of the "+n.plural+" when named")
	return cmd
}

// deleteCommand is "delete NOUN...".
func (n domainNamed[T]) deleteCommand() *cobra.Command {
	var domain string
	cmd := &cobra.Command{
		Use:   "delete " + n.noun + "...",
		Short: "Delete " + n.plural + " (names or ids)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			for _, ref := range args {
				obj, err := n.find(s, ref, domain)
				if err != nil {
					return err
				}
				if err := n.delete(s, obj); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&domain, "domain", "", "domain of the "+n.plural+" when named")
	return cmd
}
