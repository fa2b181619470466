package test

import (
	"strings"
	"testing"
	"time"
)

// TestKumoVolumeCLI drives the kumo CLI's volume verbs against the shared
// cloud: create --wait, list, show, rename and extend with set, a snapshot
// and a volume from it, server add volume and server remove volume on a
// kumo-tiny server, then deletes with --wait.
func TestKumoVolumeCLI(t *testing.T) {
	c := sharedCloud(t)
	publicTinyImage(t)
	k, admin := newKumoCLI(t, c)
	k.timeout = 5 * time.Minute
	name := uniq("kcli-vol")

	var v map[string]any
	k.json(&v, admin, "volume", "create", name, "--size", "1", "--wait")
	id, _ := v["id"].(string)
	if v["name"] != name || v["status"] != "available" || v["size"] != float64(1) || id == "" {
		t.Fatalf("volume create = %v", v)
	}
	t.Cleanup(func() { k.exec(admin, "volume", "delete", id) })
	var list []map[string]any
	k.json(&list, admin, "volume", "list")
	if !hasRow(list, map[string]any{"id": id, "name": name, "status": "available", "size": float64(1)}) {
		t.Fatalf("volume list = %v", list)
	}
	renamed := name + "-renamed"
	k.json(&v, admin, "volume", "set", name, "--name", renamed, "--size", "2", "--wait")
	if v["name"] != renamed || v["size"] != float64(2) || v["status"] != "available" {
		t.Fatalf("volume set = %v", v)
	}
	if _, stderr, err := k.exec(admin, "volume", "set", renamed, "--size", "1"); err == nil || !strings.Contains(string(stderr), "400") {
		t.Fatalf("shrinking a volume: %v %s", err, stderr)
	}

	snapName := uniq("kcli-snap")
	var snap map[string]any
	k.json(&snap, admin, "volume", "snapshot", "create", snapName, "--volume", renamed, "--wait")
	if snap["status"] != "available" || snap["volume_id"] != id || snap["size"] != float64(2) {
		t.Fatalf("snapshot create = %v", snap)
	}
	cloneName := uniq("kcli-clone")
	var clone map[string]any
	k.json(&clone, admin, "volume", "create", cloneName, "--snapshot", snapName, "--wait")
	if clone["status"] != "available" || clone["snapshot_id"] != snap["id"] || clone["size"] != float64(2) {
		t.Fatalf("volume from snapshot = %v", clone)
	}
	k.run(admin, "volume", "snapshot", "delete", snapName, "--wait")
	k.run(admin, "volume", "delete", cloneName, "--wait")

	server := strings.ToLower(strings.ReplaceAll(uniq("kcli-vol-srv"), "_", "-"))
	var srv map[string]any
	k.json(&srv, admin, "server", "create", server, "--image", "kumo-tiny", "--flavor", "m1.tiny", "--wait")
	t.Cleanup(func() { k.exec(admin, "server", "delete", server, "--wait") })
	// A disk is hot-plugged into a guest that has booted: one still booting
	// may not answer the unplug request later (as with Nova).
	waitBoots(t, compute(t, c.AdminClient(t), ""), srv["id"].(string), server, 1)
	var att map[string]any
	k.json(&att, admin, "server", "add", "volume", server, renamed, "--wait")
	if att["volume_id"] != id || !strings.HasPrefix(att["device"].(string), "/dev/vd") {
		t.Fatalf("server add volume = %v", att)
	}
	k.json(&v, admin, "volume", "show", id)
	if v["status"] != "in-use" || len(v["attachments"].([]any)) != 1 {
		t.Fatalf("attached volume = %v", v)
	}
	if _, stderr, err := k.exec(admin, "volume", "delete", id); err == nil || !strings.Contains(string(stderr), "400") {
		t.Fatalf("deleting an attached volume: %v %s", err, stderr)
	}
	k.run(admin, "server", "remove", "volume", server, renamed, "--wait")
	k.json(&v, admin, "volume", "show", id)
	if v["status"] != "available" || v["attachments"] != nil && len(v["attachments"].([]any)) != 0 {
		t.Fatalf("detached volume = %v", v)
	}
	k.run(admin, "volume", "delete", id, "--wait")
	if _, stderr, err := k.exec(admin, "volume", "show", id); err == nil || !strings.Contains(string(stderr), "no volume") {
		t.Fatalf("volume show after delete: %v %s", err, stderr)
	}
}
