package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kumo-cloud/kumo/api"
)

// statusCommand prints a kumod's readiness, one line per dependency.
func statusCommand() *cobra.Command {
	url := "http://127.0.0.1:8080"
	if v := os.Getenv("KUMO_URL"); v != "" {
		url = v
	}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether a kumod and its dependencies are ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client := &http.Client{Timeout: 10 * time.Second}
			resp, err := client.Get(strings.TrimRight(url, "/") + "/readyz")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var r api.Readiness
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
				return fmt.Errorf("%s/readyz: %v", url, err)
			}
			names := make([]string, 0, len(r.Checks))
			for n := range r.Checks {
				names = append(names, n)
			}
			sort.Strings(names)
			out := cmd.OutOrStdout()
			for _, n := range names {
				c := r.Checks[n]
				fmt.Fprintf(out, "%-9s %s %s\n", n, c.Status, c.Error)
			}
			fmt.Fprintf(out, "%-9s %s\n", "overall", r.Status)
			if r.Status != "ok" {
				return fmt.Errorf("not ready")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", url, "kumod base URL [KUMO_URL]")
	return cmd
}
