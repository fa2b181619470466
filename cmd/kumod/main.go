// Command kumod is the kumo server. It parses configuration, builds the
// daemon with the services its subcommand asks for, runs it, and stops it in
// order on SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kumo-cloud/kumo/compute/agent"
	"github.com/kumo-cloud/kumo/compute/novaapi"
	"github.com/kumo-cloud/kumo/compute/placement"
	"github.com/kumo-cloud/kumo/identity"
	"github.com/kumo-cloud/kumo/internal/config"
	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/logging"
	"github.com/kumo-cloud/kumo/internal/seed"
	"github.com/kumo-cloud/kumo/internal/token"
	netagent "github.com/kumo-cloud/kumo/network/agent"
	"github.com/kumo-cloud/kumo/network/neutronapi"
	"github.com/kumo-cloud/kumo/storage/image"
	"github.com/kumo-cloud/kumo/storage/volume/cinderapi"
	volmanager "github.com/kumo-cloud/kumo/storage/volume/manager"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "kumod: %s\n", oneLine(err.Error()))
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "kumod",
		Short:         "kumo cloud server",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		serveCommand("all-in-one", "Run every kumo service, an embedded NATS and a private PostgreSQL in one process",
			"127.0.0.1:8080", []string{"all-in-one"}, identity.Build, novaapi.Build, neutronapi.Build, image.Build,
			cinderapi.Build, volmanager.Build, placement.Build, agent.Build, netagent.Build),
		serveCommand("identity", "Run the identity (Keystone v3) service alone", "127.0.0.1:5000", []string{"identity"}, identity.Build),
		serveCommand("compute-api", "Run the compute API (Nova v2.1) alone", "127.0.0.1:8774", []string{"compute-api"}, novaapi.Build),
		serveCommand("compute-agent", "Run the compute agent of this host alone", "127.0.0.1:8781", []string{"compute-agent"}, agent.Build),
		serveCommand("network", "Run the network API (Neutron v2.0) alone", "127.0.0.1:9696", []string{"network"}, neutronapi.Build),
		serveCommand("network-agent", "Run the network agent of this host alone", "127.0.0.1:9697", []string{"network-agent"}, netagent.Build),
		serveCommand("image", "Run the image (Glance v2) service alone", "127.0.0.1:9292", []string{"image"}, image.Build),
		serveCommand("volume", "Run the block storage (Cinder v3) API and this node's volume manager alone", "127.0.0.1:8776", []string{"volume"},
			cinderapi.Build, volmanager.Build),
		serveCommand("placement", "Run the placement service alone", "127.0.0.1:8778", []string{"placement"}, placement.Build),
		bootstrapCommand(),
		rotateKeysCommand(),
	)
	return root
}

// serveCommand builds a subcommand that runs a daemon with the given roles.
func serveCommand(use, short, listen string, roles []string, services ...daemon.Builder) *cobra.Command {
	cfg := config.Default()
	cfg.Listen = listen
	var seedFlags []string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			log := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
			opts := daemon.Options{Roles: roles, Version: version, Services: services}
			if len(seedFlags) > 0 {
				seeds := make([]seed.Image, 0, len(seedFlags))
				for _, v := range seedFlags {
					img, err := seed.Parse(v)
					if err != nil {
						return err
					}
					seeds = append(seeds, img)
				}
				opts.OnReady = append(opts.OnReady, func(ctx context.Context, _ daemon.Deps) error {
					return seed.Publish(ctx, cfg.Path("clouds.yaml"), seeds, log.With("component", "seed"))
				})
			}
			d, err := daemon.Start(ctx, cfg, log, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "kumo is ready at %s (state in %s)\n", d.URL(), cfg.StateDir)
			if clouds := cfg.Path("clouds.yaml"); fileExists(clouds) {
				fmt.Fprintf(os.Stderr, "admin credentials: %s (cloud \"kumo\": export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=kumo) and %s\n",
					clouds, clouds, cfg.Path("openrc"))
			}
			go func() {
				<-ctx.Done()
				stop() // a second signal now ends the process at once
			}()
			return d.Run(ctx)
		},
	}
	cfg.Bind(cmd.Flags())
	cmd.Flags().StringArrayVar(&seedFlags, "seed-image", nil, "publish a local image file as a public image once the API serves: name=path (repeatable)")
	return cmd
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// bootstrapCommand runs identity's first-start bootstrap (domain, roles,
// admin, catalog, clouds.yaml) and exits, without serving.
func bootstrapCommand() *cobra.Command {
	cfg := config.Default()
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create the Default domain, roles, admin user and catalog, write clouds.yaml and openrc, and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.PublicURL == "" {
				cfg.PublicURL = "http://" + cfg.Listen
			}
			// Bootstrap serves nothing; a private port keeps it from
			// clashing with a kumod already running on --listen.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			log := logging.New(os.Stderr, cfg.LogLevel, cfg.LogFormat)
			d, err := daemon.Start(cmd.Context(), cfg, log, daemon.Options{Roles: []string{"bootstrap"}, Version: version,
				Listener: ln, Services: []daemon.Builder{identity.Build}})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "bootstrapped; admin credentials in %s and %s\n", cfg.Path("clouds.yaml"), cfg.Path("openrc"))
			return d.Shutdown(context.Background())
		},
	}
	cfg.Bind(cmd.Flags())
	return cmd
}

// rotateKeysCommand rotates the token key repository like keystone-manage
// fernet_rotate: the staged key becomes primary, a new staged key is made,
// and the oldest secondary beyond the active set is dropped.
func rotateKeysCommand() *cobra.Command {
	cfg := config.Default()
	cmd := &cobra.Command{
		Use:   "rotate-token-keys",
		Short: "Rotate the token encryption keys (tokens from the previous primary stay valid)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := token.OpenRepository(cfg.Path("identity", "token-keys"))
			if err != nil {
				return err
			}
			if err := repo.Rotate(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rotated token keys in %s: %d active\n", repo.Dir(), len(repo.Keys()))
			return nil
		},
	}
	cmd.Flags().StringVar(&cfg.StateDir, "state-dir", envOr("KUMO_STATE_DIR", cfg.StateDir), "state directory [KUMO_STATE_DIR]")
	return cmd
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// oneLine keeps an error message on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
