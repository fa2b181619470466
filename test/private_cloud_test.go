package test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// privateCloud starts an all-in-one kumod of the test's own, on a fresh
// state dir with the extra flags, and stops it (and removes the state dir)
// when the test or benchmark ends. Use it when a test needs flags the
// shared cloud does not have, or must restart or kill kumod.
func privateCloud(t testing.TB, extra ...string) *Cloud {
	t.Helper()
	bin, err := buildKumod()
	if err != nil {
		t.Fatal(err)
	}
	state, err := os.MkdirTemp("", "kumo-private-")
	if err == nil {
		err = os.Chmod(state, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := launchKumod(bin, state, extra...)
	if err != nil {
		os.RemoveAll(state)
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
		os.RemoveAll(state)
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, code, err := k.readiness(); err == nil && code == 200 {
			break
		}
		select {
		case err := <-k.done:
			t.Fatalf("kumod exited: %v\n%s", err, k.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kumod not ready after 60s:\n%s", k.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := &Cloud{URL: k.url, StateDir: state, k: k,
		CloudsYAML: filepath.Join(state, "clouds.yaml"), OpenRC: filepath.Join(state, "openrc")}
	c.AdminPassword = readAdminPassword(t, c.CloudsYAML)
	return c
}
