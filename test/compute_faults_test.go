package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// privateCloud is an all-in-one kumod of the test's own, restartable on
// the same state dir and listen address (so clients and tokens survive).
type privateCloud struct {
	*Cloud
	t      testing.TB
	listen string
	extra  []string
	// logs keeps the stderr of the kumods restarted before this one.
	logs strings.Builder
}

// startPrivateCloud starts a private cloud with extra flags and waits for
// it. When the test ends, cleanup runs first (with the cloud of the moment
// still up, e.g. to delete servers), then the kumod is stopped.
func startPrivateCloud(t testing.TB, cleanup func(), extra ...string) *privateCloud {
	t.Helper()
	p := &privateCloud{t: t, listen: freeAddr(t), extra: extra}
	p.launch(stateDir(t))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kumod's log:\n%s", tailLines(p.logs.String()+p.k.stderr.String(), 150))
		}
		if p.k.cmd.ProcessState != nil {
			return
		}
		cleanup()
		p.k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.k.done:
		case <-time.After(45 * time.Second):
			p.k.cmd.Process.Kill()
		}
	})
	return p
}

func (p *privateCloud) launch(state string) {
	p.t.Helper()
	if p.Cloud != nil {
		p.logs.WriteString(p.k.stderr.String())
	}
	k, err := launchKumod(kumodBinary(p.t), state, append([]string{"--listen", p.listen, "--log-level", "info"}, p.extra...)...)
	if err != nil {
		p.t.Fatal(err)
	}
	k.url = "http://" + p.listen
	k.waitReady(p.t, 2*time.Minute)
	p.Cloud = &Cloud{URL: k.url, StateDir: state, k: k,
		CloudsYAML: filepath.Join(state, "clouds.yaml"), OpenRC: filepath.Join(state, "openrc")}
	p.AdminPassword = readAdminPassword(p.t, p.CloudsYAML)
}

// restart stops kumod (SIGKILL with kill, else a clean SIGINT) and starts
// it again on the same state.
func (p *privateCloud) restart(kill bool) {
	p.t.Helper()
	if kill {
		if err := p.k.cmd.Process.Kill(); err != nil {
			p.t.Fatal(err)
		}
		<-p.k.done
	} else {
		p.k.stop(p.t)
	}
	p.launch(p.StateDir)
}

// adminServer is the admin view of a server, with the OS-EXT-STS fields.
func adminServer(t *testing.T, c *Cloud, pc *gophercloud.ProviderClient, id string) (int, map[string]any) {
	t.Helper()
	code, _, body := rawCompute(t, "GET", c.URL+"/compute/v2.1/servers/"+id, pc.Token(), nil, nil)
	srv, _ := body["server"].(map[string]any)
	return code, srv
}

// virsh runs virsh on the system libvirt and returns its trimmed output.
func virsh(args ...string) (string, error) {
	out, err := exec.Command("virsh", append([]string{"-c", "qemu:///system"}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// domainDefined reports whether libvirt has a domain with the UUID.
func domainDefined(id string) bool {
	_, err := virsh("domstate", id)
	return err == nil
}

// qemuPID is the process ID of the QEMU running a server's domain.
func qemuPID(t *testing.T, id string) string {
	t.Helper()
	raw, err := os.ReadFile("/run/libvirt/qemu/instance-" + id + ".pid")
	if err != nil {
		t.Fatalf("qemu pid of %s: %v", id, err)
	}
	return strings.TrimSpace(string(raw))
}

// noLeftovers checks that the cloud's instances directory holds only the
// live servers' directories (and the image cache), and that libvirt has no
// domain of a server that is gone.
func noLeftovers(t *testing.T, state string, live map[string]bool, gone ...string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(state, "instances"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case e.Name() == "_base":
			tmp, _ := filepath.Glob(filepath.Join(state, "instances", "_base", ".tmp-*"))
			if len(tmp) > 0 {
				t.Errorf("interrupted image fetches left behind: %v", tmp)
			}
		case !live[e.Name()]:
			t.Errorf("instances dir holds %s, which no live server owns", e.Name())
		}
	}
	for _, id := range gone {
		if domainDefined(id) {
			t.Errorf("libvirt still has a domain for %s, which is gone", id)
		}
	}
	for id := range live {
		if !domainDefined(id) {
			t.Errorf("live server %s has no domain", id)
		}
	}
}

// deleteServers deletes the servers and waits until they are gone.
func deleteServers(t *testing.T, cc *gophercloud.ServiceClient, ids ...string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		if err := servers.Delete(ctx, cc, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, 404) {
			t.Errorf("delete %s: %v", id, err)
		}
	}
	for _, id := range ids {
		waitFor(t, 2*time.Minute, "server "+id+" deleted", func() error {
			if _, err := servers.Get(ctx, cc, id).Extract(); !gophercloud.ResponseCodeIs(err, 404) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
	}
}

// waitShutoff waits for a server to become SHUTOFF (vm_state stopped,
// power_state 4, no task) and returns how long it took.
func waitShutoff(t *testing.T, c *Cloud, pc *gophercloud.ProviderClient, id string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, srv := adminServer(t, c, pc, id)
		if srv["status"] == "SHUTOFF" {
			if srv["OS-EXT-STS:vm_state"] != "stopped" || srv["OS-EXT-STS:power_state"] != float64(4) || srv["OS-EXT-STS:task_state"] != nil {
				t.Errorf("SHUTOFF server: %v %v %v", srv["OS-EXT-STS:vm_state"], srv["OS-EXT-STS:power_state"], srv["OS-EXT-STS:task_state"])
			}
			return time.Since(start).Round(10 * time.Millisecond)
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("server still %v a minute later", srv["status"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tinyName(prefix string) string {
	return strings.ToLower(strings.ReplaceAll(uniq(prefix), "_", "-"))
}

// TestComputeFaults is the fault acceptance test of the compute agent, on a
// private all-in-one kumod: a kill -9 in the middle of a build ends with
// the server ACTIVE or ERROR and nothing orphaned; a domain destroyed
// behind kumo's back turns the server SHUTOFF, and os-start brings it back
// even after its image was deleted (disks back onto the host's image
// cache); a restart of kumod adopts running servers without rebooting them.
func TestComputeFaults(t *testing.T) {
	var created []string
	var cc *gophercloud.ServiceClient
	c := startPrivateCloud(t, func() { deleteServers(t, cc, created...) })
	state := c.StateDir
	pc := c.AdminClient(t)
	cc = compute(t, pc, "")
	ctx := context.Background()
	imageID := tinyServerImage(t, c.Cloud, pc)
	flavorID := testFlavor(t, cc, 96, 1, 1)
	create := func() string {
		t.Helper()
		s, err := servers.Create(ctx, cc, servers.CreateOpts{Name: tinyName("fault"), ImageRef: imageID, FlavorRef: flavorID, Networks: "none"}, nil).Extract()
		if err != nil {
			t.Fatalf("create server: %v", err)
		}
		created = append(created, s.ID)
		return s.ID
	}
	var active string
	t.Run("KillDuringBuild", func(t *testing.T) {
		live := map[string]bool{}
		// Once when the instance directory appears (before the domain is
		// defined), once when the domain is defined.
		for _, stage := range []string{"directory", "domain"} {
			id := create()
			dir := filepath.Join(state, "instances", id)
			waitUntil := time.Now().Add(2 * time.Minute)
			for {
				_, err := os.Stat(dir)
				if stage == "directory" && err == nil || stage == "domain" && domainDefined(id) {
					break
				}
				if time.Now().After(waitUntil) {
					t.Fatalf("server %s: no %s after 2m", id, stage)
				}
				time.Sleep(20 * time.Millisecond)
			}
			_, srv := adminServer(t, c.Cloud, pc, id)
			domState, err := virsh("domstate", id)
			if err != nil {
				domState = "not defined"
			}
			t.Logf("kill -9 at the %s stage: task_state %v, domain: %s", stage, srv["OS-EXT-STS:task_state"], domState)
			killed := time.Now()
			c.restart(true)
			ready := time.Since(killed)
			var final map[string]any
			waitFor(t, 3*time.Minute, "server "+id+" out of BUILD", func() error {
				_, srv := adminServer(t, c.Cloud, pc, id)
				if st := srv["status"]; st != "ACTIVE" && st != "ERROR" {
					return fmt.Errorf("status %v task %v", st, srv["OS-EXT-STS:task_state"])
				}
				final = srv
				return nil
			})
			t.Logf("after kill -9 at the %s stage: %v (fault %v) %s after the kill; kumod was ready again after %s", stage, final["status"],
				final["fault"], time.Since(killed).Round(100*time.Millisecond), ready.Round(100*time.Millisecond))
			if final["status"] == "ACTIVE" {
				live[id] = true
				active = id
				if final["OS-EXT-STS:power_state"] != float64(1) || final["OS-EXT-STS:task_state"] != nil {
					t.Errorf("recovered server: power_state %v task_state %v", final["OS-EXT-STS:power_state"], final["OS-EXT-STS:task_state"])
				}
				waitFor(t, time.Minute, "recovered server boots", func() error {
					out, err := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{}).Extract()
					if err != nil || !strings.Contains(out, "KUMO-TINY READY") {
						return fmt.Errorf("console: %v", err)
					}
					return nil
				})
			}
			var gone []string
			for _, other := range created {
				if !live[other] {
					gone = append(gone, other)
				}
			}
			noLeftovers(t, state, live, gone...)
		}
	})

	t.Run("DestroyBehindKumosBack", func(t *testing.T) {
		id := active
		if id == "" {
			id = create()
		}
		waitStatus(t, cc, id, "ACTIVE", 3*time.Minute)
		readies := func() int {
			out, _ := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{}).Extract()
			return strings.Count(out, "KUMO-TINY READY")
		}
		boots := readies()
		// virsh destroy: the domain is powered off, its definition stays.
		if out, err := virsh("destroy", "instance-"+id); err != nil {
			t.Fatalf("virsh destroy: %v %s", err, out)
		}
		t.Logf("SHUTOFF %s after virsh destroy", waitShutoff(t, c.Cloud, pc, id))
		if !domainDefined(id) {
			t.Fatal("the persistent definition went away")
		}
		// The image goes from the image service: the disk backs onto the
		// host's cached copy, so the server still starts.
		if err := images.Delete(ctx, imageClient(t, pc), imageID).ExtractErr(); err != nil {
			t.Fatalf("delete image: %v", err)
		}
		if err := servers.Start(ctx, cc, id).ExtractErr(); err != nil {
			t.Fatalf("os-start: %v", err)
		}
		waitStatus(t, cc, id, "ACTIVE", 2*time.Minute)
		if st, _ := virsh("domstate", id); st != "running" {
			t.Fatalf("domain after os-start: %s", st)
		}
		// The guest powers itself off (on the ACPI button libvirt presses).
		waitFor(t, time.Minute, "guest boots again", func() error {
			if n := readies(); n <= boots {
				return fmt.Errorf("%d boots on the console", n)
			}
			return nil
		})
		if out, err := virsh("shutdown", "instance-"+id); err != nil {
			t.Fatalf("virsh shutdown: %v %s", err, out)
		}
		t.Logf("SHUTOFF %s after the guest was asked to power off", waitShutoff(t, c.Cloud, pc, id))
		if err := servers.Start(ctx, cc, id).ExtractErr(); err != nil {
			t.Fatalf("os-start: %v", err)
		}
		waitStatus(t, cc, id, "ACTIVE", 2*time.Minute)
		active = id
	})

	t.Run("RestartAdoptsRunning", func(t *testing.T) {
		if active == "" {
			t.Fatal("no active server from the subtests before")
		}
		id := active
		pid := qemuPID(t, id)
		domID, _ := virsh("domid", id)
		c.restart(false)
		_, srv := adminServer(t, c.Cloud, pc, id)
		if srv["status"] != "ACTIVE" || srv["OS-EXT-STS:power_state"] != float64(1) {
			t.Fatalf("after restart: %v power %v", srv["status"], srv["OS-EXT-STS:power_state"])
		}
		// A reconcile pass and a power sync later it is still the same QEMU.
		time.Sleep(12 * time.Second)
		_, srv = adminServer(t, c.Cloud, pc, id)
		now, _ := virsh("domid", id)
		if srv["status"] != "ACTIVE" || qemuPID(t, id) != pid || now != domID {
			t.Fatalf("after restart: %v, qemu pid %s (was %s), domain id %s (was %s)", srv["status"], qemuPID(t, id), pid, now, domID)
		}
	})

	deleteServers(t, cc, created...)
	noLeftovers(t, state, nil, created...)
	created = nil
}
