package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenstackImageCLI runs scripts/openstack-image.sh: the real openstack
// CLI (openstacksdk image proxy) creates an image from a qcow2 file, lists,
// shows, updates, saves and deletes it against the shared cloud.
func TestOpenstackImageCLI(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Fatalf("qemu-img is missing (%v): deploy/host-setup.sh should install the Debian package qemu-utils", err)
	}
	runOpenstackScript(t, "openstack-image.sh")
}

// TestKumoImageCLI drives the kumo CLI's image verbs: create --file, list,
// show, save (identical bytes) and delete.
func TestKumoImageCLI(t *testing.T) {
	c := sharedCloud(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "kumo")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kumo-cloud/kumo/cmd/kumo").CombinedOutput(); err != nil {
		t.Fatalf("go build kumo: %v\n%s", err, out)
	}
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OS_") || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	k := &kumoCLI{t: t, bin: bin, env: append(env, "HOME="+dir)}
	admin := []string{"OS_CLIENT_CONFIG_FILE=" + c.CloudsYAML, "OS_CLOUD=kumo"}
	qcow := qcow2File(t, dir)
	name := uniq("kcli-image")

	var created map[string]any
	k.json(&created, admin, "image", "create", name, "--file", qcow, "--disk-format", "qcow2", "--property", "os_distro=debian")
	md5hex, _, size := fileDigests(t, qcow)
	if created["status"] != "active" || created["checksum"] != md5hex || created["size"] != float64(size) {
		t.Fatalf("kumo image create: %v", created)
	}
	var rows []map[string]any
	k.json(&rows, admin, "image", "list")
	if !hasRow(rows, map[string]any{"id": created["id"], "name": name, "status": "active"}) {
		t.Fatalf("kumo image list has no %s: %v", name, rows)
	}
	var shown map[string]any
	k.json(&shown, admin, "image", "show", name)
	if shown["id"] != created["id"] || shown["disk_format"] != "qcow2" {
		t.Fatalf("kumo image show: %v", shown)
	}
	saved := filepath.Join(dir, "saved.qcow2")
	k.run(admin, "image", "save", name, "--file", saved)
	a, _ := os.ReadFile(qcow)
	b, _ := os.ReadFile(saved)
	if !bytes.Equal(a, b) {
		t.Fatalf("kumo image save wrote %d bytes that differ from the %d uploaded", len(b), len(a))
	}
	k.run(admin, "image", "delete", name)
	if _, stderr, err := k.exec(admin, "image", "show", created["id"].(string)); err == nil {
		t.Fatalf("image still shows after kumo image delete")
	} else if !strings.Contains(string(stderr), "no image") {
		t.Errorf("show after delete: %s", stderr)
	}
}
