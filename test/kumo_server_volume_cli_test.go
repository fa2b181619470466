package test

import (
	"strings"
	"testing"
	"time"
)

// TestKumoServerVolumeCLI drives `kumo server add volume` and `kumo server
// remove volume` with --wait on a kumo-tiny server of the shared cloud,
// and the refusal to delete the volume while it is attached.
func TestKumoServerVolumeCLI(t *testing.T) {
	c := sharedCloud(t)
	publicTinyImage(t)
	k, admin := newKumoCLI(t, c)
	k.timeout = 5 * time.Minute
	name := uniq("kcli-srv-vol")
	var v map[string]any
	k.json(&v, admin, "volume", "create", name, "--size", "1", "--wait")
	id, _ := v["id"].(string)
	t.Cleanup(func() { k.exec(admin, "volume", "delete", id) })

	server := strings.ToLower(strings.ReplaceAll(uniq("kcli-vol-srv"), "_", "-"))
	var srv map[string]any
	k.json(&srv, admin, "server", "create", server, "--image", "kumo-tiny", "--flavor", "m1.tiny", "--wait")
	t.Cleanup(func() { k.exec(admin, "server", "delete", server, "--wait") })
	// A disk is hot-plugged into a guest that has booted: one still booting
	// may not answer the unplug request later (as with Nova).
	waitBoots(t, compute(t, c.AdminClient(t), ""), srv["id"].(string), server, 1)

	var att map[string]any
	k.json(&att, admin, "server", "add", "volume", server, name, "--wait")
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
	k.run(admin, "server", "remove", "volume", server, name, "--wait")
	k.json(&v, admin, "volume", "show", id)
	if v["status"] != "available" || v["attachments"] != nil && len(v["attachments"].([]any)) != 0 {
		t.Fatalf("detached volume = %v", v)
	}
	k.run(admin, "volume", "delete", id, "--wait")
	if _, stderr, err := k.exec(admin, "volume", "show", id); err == nil || !strings.Contains(string(stderr), "no volume") {
		t.Fatalf("volume show after delete: %v %s", err, stderr)
	}
}
