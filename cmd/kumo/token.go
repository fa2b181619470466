package main

import "github.com/spf13/cobra"

func tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Issue tokens"}
	cmd.AddCommand(&cobra.Command{
		Use:   "issue",
		Short: "Issue a token for the configured credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := connect(cmd)
			if err != nil {
				return err
			}
			tok, err := s.token.ExtractToken()
			if err != nil {
				return err
			}
			user, err := s.token.ExtractUser()
			if err != nil {
				return err
			}
			fields := []field{{"id", tok.ID}, {"expires", timeValue(tok.ExpiresAt)}}
			if p, err := s.token.ExtractProject(); err == nil && p != nil {
				fields = append(fields, field{"project_id", p.ID}, field{"project_name", p.Name})
			}
			if d, err := s.token.ExtractDomain(); err == nil && d != nil {
				fields = append(fields, field{"domain_id", d.ID})
			}
			fields = append(fields, field{"user_id", user.ID}, field{"user_name", user.Name})
			return printObject(cmd, fields)
		},
	})
	return cmd
}
