package test

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestKumoVolumeCLI drives the kumo CLI's volume verbs against the shared
// cloud: create (empty, from an image, from a snapshot) with --wait, list,
// show by name, extend, snapshots, the refusal to delete a volume with a
// snapshot, and the deletes.
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
		k.exec(admin, "volume", "delete", name+"-from-snap")
		k.exec(admin, "volume", "delete", name+"-from-image")
		k.exec(admin, "volume", "delete", "--cascade", name)
	})

	v := object("volume", "create", name, "--size", "1", "--property", "tier=gold", "--wait")
	if v["status"] != "available" || v["size"] != float64(1) || v["type"] != "__DEFAULT__" {
		t.Fatalf("kumo volume create: %v", v)
	}
	if props, _ := v["properties"].(map[string]any); props["tier"] != "gold" {
		t.Fatalf("properties %v", v["properties"])
	}
	if rows := list("volume", "list"); !hasRow(rows, map[string]any{"id": v["id"], "name": name, "status": "available"}) {
		t.Fatalf("kumo volume list has no %s: %v", name, rows)
	}
	k.run(admin, "volume", "extend", name, "--size", "2", "--wait")
	if shown := object("volume", "show", name); shown["size"] != float64(2) || shown["status"] != "available" {
		t.Fatalf("after extend: %v", shown)
	}

	sn := object("volume", "snapshot", "create", name+"-snap", "--volume", name, "--wait")
	if sn["status"] != "available" || sn["volume_id"] != v["id"] || sn["size"] != float64(2) {
		t.Fatalf("kumo volume snapshot create: %v", sn)
	}
	if rows := list("volume", "snapshot", "list"); !hasRow(rows, map[string]any{"id": sn["id"], "name": name + "-snap"}) {
		t.Fatalf("snapshot list: %v", rows)
	}
	from := object("volume", "create", name+"-from-snap", "--snapshot", name+"-snap", "--wait")
	if from["size"] != float64(2) || from["snapshot_id"] != sn["id"] {
		t.Fatalf("volume from snapshot: %v", from)
	}
	if _, stderr, err := k.exec(admin, "volume", "delete", name); err == nil || !strings.Contains(string(stderr), "snapshots") {
		t.Fatalf("delete with a snapshot: err %v, stderr %s", err, stderr)
	}

	imageID := tinyServerImage(t, c, c.AdminClient(t))
	img := object("volume", "create", name+"-from-image", "--image", imageID, "--size", "1", "--wait")
	if img["bootable"] != "true" || img["image_id"] != imageID {
		t.Fatalf("volume from image: %v", img)
	}

	k.run(admin, "volume", "delete", name+"-from-snap", name+"-from-image")
	k.run(admin, "volume", "snapshot", "delete", name+"-snap")
	waitFor(t, time.Minute, "snapshot gone", func() error {
		_, _, err := k.exec(admin, "volume", "snapshot", "show", sn["id"].(string))
		if err == nil {
			return errors.New("still shows")
		}
		return nil
	})
	k.run(admin, "volume", "delete", name)
	if _, stderr, err := k.exec(admin, "volume", "show", "no-such-"+name); err == nil || !strings.Contains(string(stderr), "no volume") {
		t.Fatalf("show an unknown volume: err %v, stderr %s", err, stderr)
	}
}
