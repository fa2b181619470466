package main

import "github.com/spf13/cobra"

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "kumo",
		Short:         "kumo cloud client",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addGlobalFlags(root)
	root.AddCommand(statusCommand(), tokenCommand(), projectCommand(), userCommand(), roleCommand(), appCredCommand(), imageCommand(),
		serverCommand(), flavorCommand(), keypairCommand(), volumeCommand(),
		networkCommand(), subnetCommand(), portCommand(), routerCommand(), floatingCommand(), securityCommand())
	return root
}
