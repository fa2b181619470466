package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/spf13/cobra"
)

func keypairCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "keypair", Short: "Manage SSH key pairs"}

	list := &cobra.Command{
		Use:   "list",
		Short: "List your key pairs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			pages, err := keypairs.List(cc, keypairs.ListOpts{}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := keypairs.ExtractKeyPairs(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, k := range all {
				rows = append(rows, []any{k.Name, k.Fingerprint, k.Type})
			}
			return printList(cmd, []string{"name", "fingerprint", "type"}, rows)
		},
	}

	var onlyPublic bool
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key pair",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			k, err := keypairs.Get(s.ctx, cc, args[0], nil).Extract()
			if err != nil {
				return err
			}
			if onlyPublic {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), strings.TrimSpace(k.PublicKey))
				return err
			}
			return printObject(cmd, keypairFields(k))
		},
	}
	show.Flags().BoolVar(&onlyPublic, "public-key", false, "print only the public key")

	var publicKey, privateKey, keyType string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Import --public-key FILE, or have the cloud generate a key pair and print its private key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := keypairs.CreateOpts{Name: args[0], Type: keyType}
			if publicKey != "" {
				raw, err := os.ReadFile(publicKey)
				if err != nil {
					return err
				}
				opts.PublicKey = strings.TrimSpace(string(raw))
			}
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			if keyType != "" {
				cc.Microversion = "2.2"
			}
			k, err := keypairs.Create(s.ctx, cc, opts).Extract()
			if err != nil {
				return err
			}
			if k.PrivateKey == "" {
				return printObject(cmd, keypairFields(k))
			}
			if privateKey != "" {
				if err := os.WriteFile(privateKey, []byte(k.PrivateKey), 0o600); err != nil {
					return fmt.Errorf("write the private key (key pair %s was created: delete it or keep the key another way): %w", k.Name, err)
				}
				return printObject(cmd, keypairFields(k))
			}
			if global.format == "json" {
				return printObject(cmd, append(keypairFields(k), field{"private_key", k.PrivateKey}))
			}
			// As openstack keypair create does: the private key alone, ready
			// to be redirected to a file.
			_, err = fmt.Fprint(cmd.OutOrStdout(), k.PrivateKey)
			return err
		},
	}
	create.Flags().StringVar(&publicKey, "public-key", "", "import this public key file instead of generating a key pair")
	create.Flags().StringVar(&privateKey, "private-key", "", "write a generated private key to this file (mode 0600) instead of standard output")
	create.Flags().StringVar(&keyType, "type", "", "ssh or x509 (microversion 2.2)")

	del := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete key pairs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := keypairs.Delete(s.ctx, cc, name, nil).ExtractErr(); err != nil {
					return err
				}
			}
			return nil
		},
	}

	cmd.AddCommand(list, show, create, del)
	return cmd
}

func keypairFields(k *keypairs.KeyPair) []field {
	return []field{{"name", k.Name}, {"fingerprint", k.Fingerprint}, {"type", k.Type}, {"user_id", k.UserID},
		{"public_key", strings.TrimSpace(k.PublicKey)}}
}
