package test

import (
	"strings"
	"testing"
)

// TestKumoVolumeCLI drives the kumo CLI's volume verbs against the volume
// service of the shared cloud: create (empty, from an image, from a
// snapshot) with --wait, list, show by name, set (rename, extend),
// snapshots, the refusal to delete a volume with a snapshot, and the
// deletes with --wait.
func TestKumoVolumeCLI(t *testing.T) {
	c := sharedCloud(t)
	k, admin := newKumoCLI(t, c)
	object := func(args ...string) (m map[string]any) {
		t.Helper()
		k.json(&m, admin, args...)
		return m
	}
	list := func(args ...string) (rows []map[string]any) {
		t.Helper()
		k.json(&rows, admin, args...)
		return rows
	}
	name := uniq("kcli-vol")
	t.Cleanup(func() {
		k.exec(admin, "volume", "delete", "--wait", name+"-from-snap", name+"-from-image")
		k.exec(admin, "volume", "snapshot", "delete", "--wait", name+"-snap")
		k.exec(admin, "volume", "delete", "--wait", name+"-renamed")
	})

	v := object("volume", "create", name, "--size", "1", "--wait")
	if v["status"] != "available" || v["size"] != float64(1) || v["volume_type"] != "__DEFAULT__" || v["bootable"] != "false" {
		t.Fatalf("kumo volume create: %v", v)
	}
	if rows := list("volume", "list"); !hasRow(rows, map[string]any{"id": v["id"], "name": name, "status": "available"}) {
		t.Fatalf("kumo volume list has no %s: %v", name, rows)
	}
	set := object("volume", "set", name, "--name", name+"-renamed", "--size", "2", "--wait")
	if set["name"] != name+"-renamed" || set["size"] != float64(2) || set["status"] != "available" {
		t.Fatalf("kumo volume set: %v", set)
	}

	sn := object("volume", "snapshot", "create", name+"-snap", "--volume", name+"-renamed", "--wait")
	if sn["status"] != "available" || sn["volume_id"] != v["id"] || sn["size"] != float64(2) {
		t.Fatalf("kumo volume snapshot create: %v", sn)
	}
	if rows := list("volume", "snapshot", "list"); !hasRow(rows, map[string]any{"id": sn["id"], "name": name + "-snap"}) {
		t.Fatalf("kumo volume snapshot list: %v", rows)
	}
	from := object("volume", "create", name+"-from-snap", "--snapshot", name+"-snap", "--wait")
	if from["size"] != float64(2) || from["snapshot_id"] != sn["id"] || from["status"] != "available" {
		t.Fatalf("volume from snapshot: %v", from)
	}
	if _, stderr, err := k.exec(admin, "volume", "delete", name+"-renamed"); err == nil || !strings.Contains(string(stderr), "snapshots") {
		t.Fatalf("delete with a snapshot: err %v, stderr %s", err, stderr)
	}

	imageID := tinyServerImage(t, c, c.AdminClient(t))
	img := object("volume", "create", name+"-from-image", "--image", imageID, "--size", "1", "--wait")
	if img["bootable"] != "true" || img["status"] != "available" {
		t.Fatalf("volume from image: %v", img)
	}

	k.run(admin, "volume", "delete", "--wait", name+"-from-snap", name+"-from-image")
	k.run(admin, "volume", "snapshot", "delete", "--wait", name+"-snap")
	k.run(admin, "volume", "delete", "--wait", name+"-renamed")
	if _, stderr, err := k.exec(admin, "volume", "show", v["id"].(string)); err == nil || !strings.Contains(string(stderr), "no volume") {
		t.Fatalf("show a deleted volume: err %v, stderr %s", err, stderr)
	}
}
