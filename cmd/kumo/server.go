package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/spf13/cobra"
)

// waitPoll is how often --wait polls a server.
const waitPoll = time.Second

// computeSession connects and returns a compute v2.1 client.
func computeSession(cmd *cobra.Command) (*session, *gophercloud.ServiceClient, error) {
	s, err := connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	cc, err := openstack.NewComputeV2(s.provider, gophercloud.EndpointOpts{})
	if err != nil {
		return nil, nil, err
	}
	return s, cc, nil
}

// waitFlags are --wait and --wait-timeout; the wait has its own deadline,
// as a server may take longer to boot than one request may take.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until "+what)
	cmd.Flags().DurationVar(&w.timeout, "wait-timeout", 10*time.Minute, "give up waiting after this long")
}

// context is the wait's context: the command's, without the per-request
// --timeout, bounded by --wait-timeout.
func (w *waitFlags) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, w.timeout)
}

// waitServer polls until the server has status want with no task under
// way; ERROR (unless wanted) fails with the server's fault. With want ""
// it waits until the server is gone.
func waitServer(ctx context.Context, cc *gophercloud.ServiceClient, id, want string) (*servers.Server, error) {
	for {
		srv, err := servers.Get(ctx, cc, id).Extract()
		switch {
		case want == "" && isNotFound(err):
			return nil, nil
		case err != nil && ctx.Err() == nil && !isNotFound(err):
			// A failed poll is retried until the deadline.
		case err != nil:
			return nil, fmt.Errorf("server %s: %w", id, err)
		case srv.Status == "ERROR" && want != "ERROR":
			msg := srv.Fault.Message
			if msg == "" {
				msg = "no fault recorded"
			}
			return srv, fmt.Errorf("server %s went to ERROR: %s", id, msg)
		case want != "" && srv.Status == want && srv.TaskState == "":
			return srv, nil
		}
		select {
		case <-ctx.Done():
			status := "gone"
			if srv != nil {
				status = srv.Status
			}
			if want == "" {
				want = "deleted"
			}
			return srv, fmt.Errorf("server %s is %s, not %s, after waiting: %w", id, status, want, ctx.Err())
		case <-time.After(waitPoll):
		}
	}
}

// findServer resolves a server id, or a name that exactly one of the
// project's servers has.
func (s *session) findServer(cc *gophercloud.ServiceClient, ref string) (*servers.Server, error) {
	srv, err := servers.Get(s.ctx, cc, ref).Extract()
	if err == nil {
		return srv, nil
	}
	if !isNotFound(err) {
		return nil, err
	}
	pages, err := servers.List(cc, servers.ListOpts{Name: "^" + regexpQuote(ref) + "$"}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "server", ref)
}

// regexpQuote escapes the characters Nova's name filter (a regular
// expression) treats specially.
func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func serverFields(srv *servers.Server) []field {
	fields := []field{{"id", srv.ID}, {"name", srv.Name}, {"status", srv.Status}, {"task_state", srv.TaskState},
		{"vm_state", srv.VmState}, {"power_state", srv.PowerState.String()}, {"image", srv.Image["id"]},
		{"flavor", srv.Flavor["id"]}, {"key_name", srv.KeyName}, {"addresses", srv.Addresses},
		{"availability_zone", srv.AvailabilityZone}, {"host", srv.Host}, {"project_id", srv.TenantID},
		{"user_id", srv.UserID}, {"metadata", srv.Metadata}, {"created", timeValue(srv.Created)},
		{"updated", timeValue(srv.Updated)}}
	if srv.Fault.Message != "" {
		fields = append(fields, field{"fault", srv.Fault.Message})
	}
	return fields
}

func serverCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "server", Short: "Manage servers"}
	cmd.AddCommand(serverCreateCommand(), serverListCommand(), serverShowCommand(), serverDeleteCommand(),
		serverConsoleLogCommand())
	cmd.AddCommand(serverVolumeCommands()...)
	for _, a := range serverActions {
		cmd.AddCommand(a.command())
	}
	return cmd
}

func serverCreateCommand() *cobra.Command {
	var image, flavor, keyName, userData string
	var networks, props []string
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "create NAME --image IMAGE --flavor FLAVOR",
		Short: "Create a server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			ic, err := openstack.NewImageV2(s.provider, gophercloud.EndpointOpts{})
			if err != nil {
				return err
			}
			img, err := s.findImage(ic, image)
			if err != nil {
				return err
			}
			fl, err := s.findFlavor(cc, flavor)
			if err != nil {
				return err
			}
			opts := servers.CreateOpts{Name: args[0], ImageRef: img.ID, FlavorRef: fl.ID, Metadata: map[string]string{}}
			for _, p := range props {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return fmt.Errorf("--property %q: want KEY=VALUE", p)
				}
				opts.Metadata[k] = v
			}
			switch {
			case len(networks) == 1 && (networks[0] == "none" || networks[0] == "auto"):
				// Nova takes "none" and "auto" from microversion 2.37.
				opts.Networks = networks[0]
				cc.Microversion = "2.37"
			default:
				nets := make([]servers.Network, 0, len(networks))
				for _, n := range networks {
					if n == "none" || n == "auto" {
						return fmt.Errorf("--network %s cannot be combined with other networks", n)
					}
					nets = append(nets, servers.Network{UUID: n})
				}
				opts.Networks = nets
			}
			if userData != "" {
				if opts.UserData, err = os.ReadFile(userData); err != nil {
					return err
				}
			}
			var builder servers.CreateOptsBuilder = opts
			if keyName != "" {
				builder = keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: keyName}
			}
			created, err := servers.Create(s.ctx, cc, builder, nil).Extract()
			if err != nil {
				return err
			}
			srv := created
			if w.wait {
				ctx, cancel := w.context(cmd)
				defer cancel()
				if srv, err = waitServer(ctx, cc, created.ID, "ACTIVE"); err != nil {
					return err
				}
			} else if srv, err = servers.Get(s.ctx, cc, created.ID).Extract(); err != nil {
				return err
			}
			return printObject(cmd, append(serverFields(srv), field{"admin_pass", created.AdminPass}))
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "image to boot (name or id)")
	cmd.Flags().StringVar(&flavor, "flavor", "", "flavor (name or id)")
	cmd.Flags().StringVar(&keyName, "key-name", "", "key pair to install in the guest")
	cmd.Flags().StringVar(&userData, "user-data", "", "file passed to the guest as user data")
	cmd.Flags().StringArrayVar(&networks, "network", []string{"none"}, "none, auto, or a network id (repeatable)")
	cmd.Flags().StringArrayVar(&props, "property", nil, "metadata KEY=VALUE (repeatable)")
	_ = cmd.MarkFlagRequired("image")
	_ = cmd.MarkFlagRequired("flavor")
	w.add(cmd, "the server is ACTIVE (or fail when it goes to ERROR)")
	return cmd
}

func serverListCommand() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the project's servers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			pages, err := servers.List(cc, servers.ListOpts{Name: name}).AllPages(s.ctx)
			if err != nil {
				return err
			}
			all, err := servers.ExtractServers(pages)
			if err != nil {
				return err
			}
			rows := make([][]any, 0, len(all))
			for _, srv := range all {
				rows = append(rows, []any{srv.ID, srv.Name, srv.Status, srv.TaskState, srv.PowerState.String(),
					srv.Image["id"], srv.Flavor["id"], srv.KeyName})
			}
			return printList(cmd, []string{"id", "name", "status", "task_state", "power_state", "image", "flavor", "key_name"}, rows)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only servers whose name matches this regular expression")
	return cmd
}

func serverShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show SERVER",
		Short: "Show a server (name or id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			srv, err := s.findServer(cc, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd, serverFields(srv))
		},
	}
}

func serverDeleteCommand() *cobra.Command {
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "delete SERVER...",
		Short: "Delete servers (names or ids)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			var ids []string
			for _, ref := range args {
				srv, err := s.findServer(cc, ref)
				if err != nil {
					return err
				}
				if err := servers.Delete(s.ctx, cc, srv.ID).ExtractErr(); err != nil {
					return err
				}
				ids = append(ids, srv.ID)
			}
			if !w.wait {
				return nil
			}
			ctx, cancel := w.context(cmd)
			defer cancel()
			for _, id := range ids {
				if _, err := waitServer(ctx, cc, id, ""); err != nil {
					return err
				}
			}
			return nil
		},
	}
	w.add(cmd, "the servers are gone")
	return cmd
}

func serverConsoleLogCommand() *cobra.Command {
	var lines int
	cmd := &cobra.Command{
		Use:   "console-log SERVER",
		Short: "Print a server's serial console log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			srv, err := s.findServer(cc, args[0])
			if err != nil {
				return err
			}
			out, err := servers.ShowConsoleOutput(s.ctx, cc, srv.ID, servers.ShowConsoleOutputOpts{Length: lines}).Extract()
			if err != nil {
				return err
			}
			if global.format == "json" {
				return writeJSON(cmd, map[string]string{"output": out})
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
	cmd.Flags().IntVar(&lines, "lines", 0, "only the last N lines")
	return cmd
}

// serverAction is a power verb: the call and the status it ends in.
type serverAction struct {
	verb, short, want string
	call              func(ctx context.Context, cc *gophercloud.ServiceClient, id string, hard bool) error
}

var serverActions = []serverAction{
	{"start", "Start a stopped server", "ACTIVE", func(ctx context.Context, cc *gophercloud.ServiceClient, id string, _ bool) error {
		return servers.Start(ctx, cc, id).ExtractErr()
	}},
	{"stop", "Stop (power off) a server", "SHUTOFF", func(ctx context.Context, cc *gophercloud.ServiceClient, id string, _ bool) error {
		return servers.Stop(ctx, cc, id).ExtractErr()
	}},
	{"reboot", "Reboot a server (--hard to power-cycle it)", "ACTIVE", func(ctx context.Context, cc *gophercloud.ServiceClient, id string, hard bool) error {
		how := servers.SoftReboot
		if hard {
			how = servers.HardReboot
		}
		return servers.Reboot(ctx, cc, id, servers.RebootOpts{Type: how}).ExtractErr()
	}},
	{"pause", "Pause a server (freeze it in memory)", "PAUSED", func(ctx context.Context, cc *gophercloud.ServiceClient, id string, _ bool) error {
		return servers.Pause(ctx, cc, id).ExtractErr()
	}},
	{"unpause", "Unpause a paused server", "ACTIVE", func(ctx context.Context, cc *gophercloud.ServiceClient, id string, _ bool) error {
		return servers.Unpause(ctx, cc, id).ExtractErr()
	}},
	{"suspend", "Suspend a server (save its memory to disk)", "SUSPENDED", func(ctx context.Context, cc *gophercloud.ServiceClient, id string, _ bool) error {
		return servers.Suspend(ctx, cc, id).ExtractErr()
	}},
	{"resume", "Resume a suspended server", "ACTIVE", func(ctx context.Context, cc *gophercloud.ServiceClient, id string, _ bool) error {
		return servers.Resume(ctx, cc, id).ExtractErr()
	}},
}

func (a serverAction) command() *cobra.Command {
	var hard bool
	var w waitFlags
	cmd := &cobra.Command{
		Use:   a.verb + " SERVER...",
		Short: a.short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, cc, err := computeSession(cmd)
			if err != nil {
				return err
			}
			var ids []string
			for _, ref := range args {
				srv, err := s.findServer(cc, ref)
				if err != nil {
					return err
				}
				if err := a.call(s.ctx, cc, srv.ID, hard); err != nil {
					return err
				}
				ids = append(ids, srv.ID)
			}
			if !w.wait {
				return nil
			}
			ctx, cancel := w.context(cmd)
			defer cancel()
			for _, id := range ids {
				if _, err := waitServer(ctx, cc, id, a.want); err != nil {
					return err
				}
			}
			return nil
		},
	}
	if a.verb == "reboot" {
		cmd.Flags().BoolVar(&hard, "hard", false, "power-cycle instead of a clean restart")
	}
	w.add(cmd, "the server is "+a.want)
	return cmd
}
