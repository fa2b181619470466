package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// kumodBinary builds cmd/kumod once per test binary.
func kumodBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildKumod()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// stateDir returns a state directory the postgres user can traverse.
func stateDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kumo-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// freePort returns a loopback address that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

type kumod struct {
	cmd    *exec.Cmd
	url    string
	nats   string // host:port of its embedded NATS server
	state  string
	stderr *bytes.Buffer
	done   chan error
}

// launchKumod starts an all-in-one kumod on free ports, with extra flags.
func launchKumod(bin, state string, extra ...string) (*kumod, error) {
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	natsListen, err := freePort()
	if err != nil {
		return nil, err
	}
	k := &kumod{url: "http://" + listen, nats: natsListen, state: state, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	args := append([]string{"all-in-one", "--state-dir", state, "--listen", listen, "--nats-listen", natsListen, "--log-level", "warn"}, extra...)
	k.cmd = exec.Command(bin, args...)
	k.cmd.Stderr = k.stderr
	if err := k.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { k.done <- k.cmd.Wait() }()
	return k, nil
}

func startKumod(t *testing.T, bin, state string) *kumod {
	t.Helper()
	return startKumodArgs(t, bin, state)
}

// startKumodArgs starts a kumod with extra flags, stopped when the test ends.
func startKumodArgs(t *testing.T, bin, state string, extra ...string) *kumod {
	t.Helper()
	k, err := launchKumod(bin, state, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if k.cmd.ProcessState == nil {
			k.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-k.done:
			case <-time.After(30 * time.Second):
				k.cmd.Process.Kill()
			}
		}
	})
	return k
}

var client = &http.Client{Timeout: 5 * time.Second}

func (k *kumod) readiness() (api.Readiness, int, error) {
	var r api.Readiness
	resp, err := client.Get(k.url + "/readyz")
	if err != nil {
		return r, 0, err
	}
	defer resp.Body.Close()
	return r, resp.StatusCode, json.NewDecoder(resp.Body).Decode(&r)
}

func (k *kumod) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	testutil.WaitFor(t, timeout, func() error {
		select {
		case err := <-k.done:
			t.Fatalf("kumod exited early: %v\n%s", err, k.stderr)
		default:
		}
		r, code, err := k.readiness()
		if err != nil {
			return err
		}
		if code != http.StatusOK || r.Status != "ok" {
			return fmt.Errorf("readyz %d: %+v", code, r)
		}
		return nil
	})
}

// stop sends SIGINT (as Ctrl-C does) and waits for a clean exit.
func (k *kumod) stop(t testing.TB) {
	t.Helper()
	if err := k.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-k.done:
		if err != nil {
			t.Fatalf("kumod exited with %v\n%s", err, k.stderr)
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("kumod did not stop within 45s\n%s", k.stderr)
	}
}

// processesUsing lists live processes whose command line mentions dir.
func processesUsing(dir string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, or a zombie with no command line
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(stat), ") Z ") {
			continue
		}
		if cmd := strings.ReplaceAll(string(raw), "\x00", " "); strings.Contains(cmd, dir) {
			found = append(found, e.Name()+": "+cmd)
		}
	}
	return found
}

// leftovers lists sockets, pid files and PostgreSQL's socket locks left in
// the state dir. (flock files such as the token key repository's .lock are
// not stale state: they hold no lock once their process is gone.)
func leftovers(dir string) []string {
	var found []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.Type()&os.ModeSocket != 0 || name == "postmaster.pid" || strings.HasPrefix(name, ".s.PGSQL") {
			found = append(found, path)
		}
		return nil
	})
	return found
}

func postmasterPID(t *testing.T, state string) int {
	t.Helper()
	var pid int
	testutil.WaitFor(t, 10*time.Second, func() error {
		matches, _ := filepath.Glob(filepath.Join(state, "postgres", "*", "postmaster.pid"))
		if len(matches) == 0 {
			return fmt.Errorf("no postmaster.pid under %s", state)
		}
		raw, err := os.ReadFile(matches[0])
		if err != nil {
			return err
		}
		first, _, _ := strings.Cut(string(raw), "\n")
		pid, err = strconv.Atoi(strings.TrimSpace(first))
		return err
	})
	return pid
}

// TestAllInOneLifecycle is the foundation's acceptance test: kumod starts
// its real dependencies, reports readiness, survives PostgreSQL being killed,
// stops cleanly on Ctrl-C and starts again on the same state.
func TestAllInOneLifecycle(t *testing.T) {
	bin := kumodBinary(t)
	state := stateDir(t)

	start := time.Now()
	k := startKumod(t, bin, state)
	k.waitReady(t, 60*time.Second)
	t.Logf("cold start to /readyz ok: %s", time.Since(start).Round(time.Millisecond))

	r, _, err := k.readiness()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "nats", "libvirt"} {
		if r.Checks[name].Status != "ok" {
			t.Fatalf("check %s = %+v", name, r.Checks[name])
		}
	}
	if vt := r.Checks["libvirt"].Detail["virt_type"]; vt != "kvm" && vt != "qemu" {
		t.Fatalf("libvirt check does not show the virt type decision: %+v", r.Checks["libvirt"])
	}

	t.Run("postgres killed is reported and recovered", func(t *testing.T) {
		pid := postmasterPID(t, state)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 15*time.Second, func() error {
			begin := time.Now()
			r, code, err := k.readiness()
			if err != nil {
				t.Fatalf("readyz did not answer while postgres was down: %v", err)
			}
			if took := time.Since(begin); took > api.CheckTimeout+time.Second {
				t.Fatalf("readyz took %s while postgres was down", took)
			}
			if code != http.StatusServiceUnavailable || r.Checks["postgres"].Status != "failed" {
				return fmt.Errorf("postgres still reported %+v", r.Checks["postgres"])
			}
			if r.Checks["nats"].Status != "ok" {
				t.Fatalf("nats affected by postgres: %+v", r.Checks["nats"])
			}
			return nil
		})
		k.waitReady(t, 60*time.Second)
		if newPID := postmasterPID(t, state); newPID == pid {
			t.Fatalf("postmaster pid unchanged after kill")
		}
	})

	k.stop(t)
	testutil.WaitFor(t, 10*time.Second, func() error {
		if p := processesUsing(state); len(p) > 0 {
			return fmt.Errorf("processes left after Ctrl-C: %v", p)
		}
		return nil
	})
	if l := leftovers(state); len(l) > 0 {
		t.Fatalf("stale sockets or locks after Ctrl-C: %v", l)
	}

	k2 := startKumod(t, bin, state)
	k2.waitReady(t, 60*time.Second)
	k2.stop(t)
}

// TestBadConfiguration checks that each mistake gives one line naming it and
// a non-zero exit, never a panic or a hang.
func TestBadConfiguration(t *testing.T) {
	bin := kumodBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(stateDir(t), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		args   []string
		want   string
		forbid string
	}{
		{name: "unknown flag", args: []string{"all-in-one", "--no-such-flag"}, want: "unknown flag: --no-such-flag"},
		{name: "unknown subcommand", args: []string{"no-such-command"}, want: "unknown command"},
		{name: "unreachable database", args: []string{"all-in-one", "--database-url", "postgres://kumo:s3cret@127.0.0.1:1/kumo?sslmode=disable", "--listen", freeAddr(t), "--state-dir", stateDir(t)}, want: "127.0.0.1:1", forbid: "s3cret"},
		{name: "port in use", args: []string{"all-in-one", "--listen", busy.Addr().String(), "--state-dir", stateDir(t)}, want: "address already in use"},
		{name: "unwritable state dir", args: []string{"all-in-one", "--listen", freeAddr(t), "--state-dir", filepath.Join(notADir, "state")}, want: "not writable"},
		{name: "bad virt type", args: []string{"all-in-one", "--virt-type", "xen", "--state-dir", stateDir(t)}, want: "--virt-type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("kumod hung on bad configuration")
			}
			var exit *exec.ExitError
			if err == nil || !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("want a non-zero exit, got %v", err)
			}
			out := strings.TrimSpace(stderr.String())
			lines := strings.Split(out, "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "kumod: ") || !strings.Contains(last, tt.want) {
				t.Fatalf("last line %q does not name %q; stderr:\n%s", last, tt.want, out)
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
				t.Fatalf("stack trace on bad configuration:\n%s", out)
			}
			if tt.forbid != "" && strings.Contains(out, tt.forbid) {
				t.Fatalf("output leaks %q:\n%s", tt.forbid, out)
			}
		})
	}
}
