package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openstackCLI is where Debian's python3-openstackclient installs the CLI.
const openstackCLI = "/usr/bin/openstack"

// TestOpenstackCLI runs scripts/openstack-identity.sh: the real openstack
// CLI (keystoneauth discovery, tokens, projects, users, role assignments,
// application credentials) against the shared cloud.
func TestOpenstackCLI(t *testing.T) {
	runOpenstackScript(t, "openstack-identity.sh")
}

// runOpenstackScript runs one of scripts/*.sh, which drive the real
// openstack CLI, against the shared cloud; the test fails (never skips) when
// the CLI is missing. extraEnv adds VAR=value settings the script reads.
func runOpenstackScript(t *testing.T, name string, extraEnv ...string) {
	t.Helper()
	runOpenstackScriptFor(t, name, 5*time.Minute, extraEnv...)
}

// runOpenstackScriptFor is runOpenstackScript with the script's time limit,
// for scripts that boot servers.
func runOpenstackScriptFor(t *testing.T, name string, limit time.Duration, extraEnv ...string) {
	t.Helper()
	if _, err := os.Stat(openstackCLI); err != nil {
		t.Fatalf("%s is missing (%v): deploy/host-setup.sh should install the Debian package python3-openstackclient", openstackCLI, err)
	}
	c := sharedCloud(t)
	script, err := filepath.Abs(filepath.Join("scripts", name))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(openstackEnv(t, c), extraEnv...)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s timed out after %s:\n%s", script, time.Since(start).Round(time.Millisecond), out)
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "FIGURE ") {
			t.Log(line)
		}
	}
	t.Logf("%s passed in %s", name, time.Since(start).Round(time.Millisecond))
}

// openstackEnv is the environment for the openstack CLI: the cloud's
// clouds.yaml, no OS_* or proxy settings from the caller, a throwaway HOME
// (no ~/.config/openstack, no caches) and nothing that sends python to the
// network.
func openstackEnv(t *testing.T, c *Cloud) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch upper := strings.ToUpper(name); {
		case strings.HasPrefix(upper, "OS_"), strings.HasSuffix(upper, "_PROXY"),
			upper == "HOME", upper == "XDG_CONFIG_HOME", upper == "XDG_CACHE_HOME",
			strings.HasPrefix(upper, "REQUESTS_"), strings.HasPrefix(upper, "PYTHON"):
			continue
		}
		env = append(env, kv)
	}
	home := t.TempDir()
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1",
		"PYTHONDONTWRITEBYTECODE=1",
		"OS_CLIENT_CONFIG_FILE="+c.CloudsYAML,
		"OS_CLOUD=kumo",
	)
}
