package test

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestKumoComputeCLI drives the kumo CLI's compute verbs against the shared
// cloud: flavors and key pairs (imported and generated), then a kumo-tiny
// server created with --wait, its console log (boot marker and user data),
// stop --wait, start --wait and delete --wait.
func TestKumoComputeCLI(t *testing.T) {
	c := sharedCloud(t)
	k, admin := newKumoCLI(t, c)
	k.timeout = 5 * time.Minute
	dir := t.TempDir()

	// Flavors.
	flavorName := uniq("kcli-flavor")
	var fl map[string]any
	k.json(&fl, admin, "flavor", "create", flavorName, "--ram", "128", "--vcpus", "1", "--disk", "1")
	if fl["name"] != flavorName || fl["ram"] != float64(128) || fl["vcpus"] != float64(1) || fl["disk"] != float64(1) || fl["is_public"] != true {
		t.Fatalf("flavor create = %v", fl)
	}
	flavorID, _ := fl["id"].(string)
	t.Cleanup(func() { k.exec(admin, "flavor", "delete", flavorID) })
	var flavors []map[string]any
	k.json(&flavors, admin, "flavor", "list")
	if !hasRow(flavors, map[string]any{"id": flavorID, "name": flavorName}) || !hasRow(flavors, map[string]any{"name": "m1.tiny", "ram": float64(128)}) {
		t.Fatalf("flavor list = %v", flavors)
	}
	k.json(&fl, admin, "flavor", "show", "m1.tiny")
	if fl["id"] != "1" || fl["disk"] != float64(1) {
		t.Fatalf("flavor show m1.tiny = %v", fl)
	}
	private := uniq("kcli-private")
	k.run(admin, "flavor", "create", private, "--ram", "64", "--private", "--id", private)
	k.json(&flavors, admin, "flavor", "list")
	if hasRow(flavors, map[string]any{"name": private}) {
		t.Fatalf("flavor list shows the private flavor without --all")
	}
	k.json(&flavors, admin, "flavor", "list", "--all")
	if !hasRow(flavors, map[string]any{"id": private, "is_public": false}) {
		t.Fatalf("flavor list --all lacks the private flavor: %v", flavors)
	}
	k.run(admin, "flavor", "delete", private)
	if _, stderr, err := k.exec(admin, "flavor", "show", private); err == nil || !strings.Contains(string(stderr), "no flavor") {
		t.Fatalf("flavor show after delete: %v %s", err, stderr)
	}

	// Key pairs: one imported, one generated.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(dir, "id.pub")
	if err := os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(sshPub.Marshal())
	var fp []string
	for _, b := range sum {
		fp = append(fp, fmt.Sprintf("%02x", b))
	}
	keyName, genName := uniq("kcli-key"), uniq("kcli-gen")
	var kp map[string]any
	k.json(&kp, admin, "keypair", "create", keyName, "--public-key", pubFile)
	if kp["name"] != keyName || kp["fingerprint"] != strings.Join(fp, ":") {
		t.Fatalf("keypair create --public-key = %v, want fingerprint %s", kp, strings.Join(fp, ":"))
	}
	t.Cleanup(func() { k.exec(admin, "keypair", "delete", keyName) })
	priv := k.run(admin, "keypair", "create", genName)
	t.Cleanup(func() { k.exec(admin, "keypair", "delete", genName) })
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatalf("keypair create printed no private key: %v\n%s", err, priv)
	}
	k.json(&kp, admin, "keypair", "show", genName)
	if kp["fingerprint"] != ssh.FingerprintLegacyMD5(signer.PublicKey()) {
		t.Fatalf("generated key's fingerprint %v, want %s", kp["fingerprint"], ssh.FingerprintLegacyMD5(signer.PublicKey()))
	}
	var keys []map[string]any
	k.json(&keys, admin, "keypair", "list")
	if !hasRow(keys, map[string]any{"name": keyName}) || !hasRow(keys, map[string]any{"name": genName}) {
		t.Fatalf("keypair list = %v", keys)
	}
	if out := k.run(admin, "keypair", "show", keyName, "--public-key"); strings.TrimSpace(string(out)) != strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) {
		t.Fatalf("keypair show --public-key = %q", out)
	}
	k.run(admin, "keypair", "delete", genName)
	k.json(&keys, admin, "keypair", "list")
	if hasRow(keys, map[string]any{"name": genName}) {
		t.Fatalf("keypair %s listed after delete", genName)
	}

	// A server, from create --wait to delete --wait.
	imageID := tinyServerImage(t, c, c.AdminClient(t))
	userData := filepath.Join(dir, "user-data")
	if err := os.WriteFile(userData, []byte("#!/bin/sh\necho KCLI-USERDATA-$((40+2))\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(strings.ReplaceAll(uniq("kcli-vm"), "_", "-"))
	start := time.Now()
	var srv map[string]any
	k.json(&srv, admin, "server", "create", name, "--image", imageID, "--flavor", flavorName, "--key-name", keyName,
		"--user-data", userData, "--network", "none", "--wait")
	took := time.Since(start)
	id, _ := srv["id"].(string)
	t.Cleanup(func() { k.exec(admin, "server", "delete", id, "--wait") })
	if srv["status"] != "ACTIVE" || srv["name"] != name || srv["key_name"] != keyName || srv["flavor"] != flavorID || srv["image"] != imageID {
		t.Fatalf("server create --wait = %v", srv)
	}
	t.Logf("FIGURE kumo server create --wait: %s", took.Round(time.Millisecond))
	var servers []map[string]any
	k.json(&servers, admin, "server", "list")
	if !hasRow(servers, map[string]any{"id": id, "name": name, "status": "ACTIVE"}) {
		t.Fatalf("server list = %v", servers)
	}
	var log string
	waitFor(t, 3*time.Minute, "KUMO-TINY READY and user data in console-log", func() error {
		log = string(k.run(admin, "server", "console-log", name))
		if !strings.Contains(log, "KUMO-TINY READY "+name) || !strings.Contains(log, "KCLI-USERDATA-42") {
			return fmt.Errorf("console tail: %q", tailLines(log, 4))
		}
		return nil
	})
	if out := k.run(admin, "server", "console-log", id, "--lines", "2"); strings.Count(strings.TrimRight(string(out), "\n"), "\n") > 1 {
		t.Errorf("console-log --lines 2 = %q", out)
	}

	k.run(admin, "server", "stop", name, "--wait")
	k.json(&srv, admin, "server", "show", id)
	if srv["status"] != "SHUTOFF" || srv["power_state"] != "SHUTDOWN" {
		t.Fatalf("after stop --wait: %v", srv)
	}
	// Stopping a stopped server is refused with Nova's message on one line.
	_, stderr, err := k.exec(admin, "server", "stop", id)
	if err == nil || !strings.Contains(string(stderr), "HTTP 409") || !strings.Contains(string(stderr), "vm_state stopped") {
		t.Fatalf("stop of a stopped server: %v %s", err, stderr)
	}
	k.run(admin, "server", "start", id, "--wait")
	k.json(&srv, admin, "server", "show", name)
	if srv["status"] != "ACTIVE" || srv["power_state"] != "RUNNING" {
		t.Fatalf("after start --wait: %v", srv)
	}
	k.run(admin, "server", "delete", name, "--wait")
	if _, stderr, err := k.exec(admin, "server", "show", id); err == nil || !strings.Contains(string(stderr), "no server") {
		t.Fatalf("server show after delete --wait: %v %s", err, stderr)
	}
}
