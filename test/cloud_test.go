package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"gopkg.in/yaml.v3"
)

// Cloud is a running all-in-one kumod shared by the tests of this package,
// with the admin credentials bootstrap wrote.
type Cloud struct {
	URL        string
	StateDir   string
	CloudsYAML string
	OpenRC     string
	// AdminPassword is the generated admin password from clouds.yaml.
	AdminPassword string
	k             *kumod
}

var (
	sharedOnce  sync.Once
	shared      *Cloud
	sharedErr   error
	sharedState string
)

// TestMain stops the shared cloud after every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-shared.k.done:
		case <-time.After(30 * time.Second):
			shared.k.cmd.Process.Kill()
		}
	}
	if sharedState != "" {
		os.RemoveAll(sharedState)
	}
	if bin := builtKumod; bin != "" {
		os.Remove(bin)
	}
	os.Exit(code)
}

// sharedCloud starts (once) an all-in-one kumod for the whole test binary.
func sharedCloud(t testing.TB) *Cloud {
	t.Helper()
	sharedOnce.Do(func() {
		bin, err := buildKumod()
		if err != nil {
			sharedErr = err
			return
		}
		sharedState, err = os.MkdirTemp("", "kumo-cloud-")
		if err == nil {
			err = os.Chmod(sharedState, 0o755)
		}
		if err != nil {
			sharedErr = err
			return
		}
		k, err := launchKumod(bin, sharedState)
		if err != nil {
			sharedErr = err
			return
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			if _, code, err := k.readiness(); err == nil && code == 200 {
				break
			}
			if time.Now().After(deadline) {
				sharedErr = fmt.Errorf("shared kumod not ready after 60s:\n%s", k.stderr)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		c := &Cloud{URL: k.url, StateDir: sharedState, k: k,
			CloudsYAML: filepath.Join(sharedState, "clouds.yaml"), OpenRC: filepath.Join(sharedState, "openrc")}
		if c.AdminPassword, sharedErr = adminPassword(c.CloudsYAML); sharedErr != nil {
			return
		}
		shared = c
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// adminPassword reads the generated admin password from clouds.yaml.
func adminPassword(cloudsYAML string) (string, error) {
	raw, err := os.ReadFile(cloudsYAML)
	if err != nil {
		return "", err
	}
	var f struct {
		Clouds map[string]struct {
			Auth struct {
				Password string `yaml:"password"`
			} `yaml:"auth"`
		} `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return "", err
	}
	return f.Clouds["kumo"].Auth.Password, nil
}

func readAdminPassword(t testing.TB, cloudsYAML string) string {
	t.Helper()
	pw, err := adminPassword(cloudsYAML)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// AuthURL is the Keystone v3 endpoint of the cloud.
func (c *Cloud) AuthURL() string { return c.URL + "/identity/v3" }

// AdminClient is a gophercloud provider authenticated as the bootstrap
// admin, scoped to the admin project.
func (c *Cloud) AdminClient(t testing.TB) *gophercloud.ProviderClient {
	t.Helper()
	return c.Client(t, gophercloud.AuthOptions{
		IdentityEndpoint: c.AuthURL(), Username: "admin", Password: c.AdminPassword, DomainName: "Default",
		Scope: &gophercloud.AuthScope{ProjectName: "admin", DomainName: "Default"},
	})
}

// Client authenticates with the given options.
func (c *Cloud) Client(t testing.TB, opts gophercloud.AuthOptions) *gophercloud.ProviderClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := openstack.AuthenticatedClient(ctx, opts)
	if err != nil {
		t.Fatalf("authenticate %s: %v", opts.Username, err)
	}
	return pc
}

// Identity returns an identity v3 service client for a provider.
func (c *Cloud) Identity(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewIdentityV3(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

var builtKumod string

// buildKumod builds cmd/kumod once per test binary.
func buildKumod() (string, error) {
	if builtKumod != "" {
		return builtKumod, nil
	}
	bin := filepath.Join(os.TempDir(), fmt.Sprintf("kumod-e2e-%d", os.Getpid()))
	out, err := exec.Command("go", "build", "-o", bin, "github.com/kumo-cloud/kumo/cmd/kumod").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build kumod: %v\n%s", err, out)
	}
	builtKumod = bin
	return bin, nil
}
