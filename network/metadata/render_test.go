package metadata

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kumo-cloud/kumo/internal/rpc"
)

func testInstance() Instance {
	return Instance{InstanceMetadata: rpc.InstanceMetadata{
		UUID: "6f0b1b0e-7a55-4c4e-9d3c-2f1f6c2f1a10", Name: "Web 1", Hostname: "web-1", ProjectID: "p1",
		AvailabilityZone: "nova", LaunchIndex: 2, ReservationID: "r-abc", ImageRef: "0a1b2c3d-0000-4000-8000-000000000001",
		FlavorName: "m1.tiny", PublicKeys: map[string]string{"mykey": "ssh-ed25519 AAAA me"}, Meta: map[string]string{"a": "b"},
		UserData: []byte("#!/bin/sh\n"),
	}, LocalIPv4: "10.0.0.5", PublicIPv4: "172.24.4.20"}
}

func TestRenderOpenStack(t *testing.T) {
	inst := testInstance()
	if r := Render(inst, "/openstack"); r.Status != 200 || !strings.HasPrefix(string(r.Body), "2012-08-10\n") || !strings.HasSuffix(string(r.Body), "\nlatest") {
		t.Errorf("/openstack = %d %q", r.Status, r.Body)
	}
	if r := Render(inst, "/openstack/latest/"); string(r.Body) != "meta_data.json\nuser_data\npassword\nvendor_data.json\nvendor_data2.json" {
		t.Errorf("/openstack/latest/ = %q", r.Body)
	}
	r := Render(inst, "/openstack/latest/meta_data.json")
	var md map[string]any
	if r.Status != 200 || r.ContentType != "application/json" || json.Unmarshal(r.Body, &md) != nil {
		t.Fatalf("meta_data.json = %d %s %q", r.Status, r.ContentType, r.Body)
	}
	keys := md["keys"].([]any)
	if md["uuid"] != inst.UUID || md["hostname"] != "web-1" || md["name"] != "Web 1" || md["launch_index"] != 2.0 ||
		md["availability_zone"] != "nova" || md["project_id"] != "p1" || md["random_seed"] == nil || md["meta"].(map[string]any)["a"] != "b" ||
		len(keys) != 1 || keys[0].(map[string]any)["data"] != "ssh-ed25519 AAAA me" {
		t.Errorf("meta_data.json = %s", r.Body)
	}
	// Older versions lack what later ones introduced.
	r = Render(inst, "/openstack/2012-08-10/meta_data.json")
	if strings.Contains(string(r.Body), "random_seed") || strings.Contains(string(r.Body), "project_id") || strings.Contains(string(r.Body), "devices") {
		t.Errorf("2012-08-10 meta_data.json = %s", r.Body)
	}
	if r := Render(inst, "/openstack/latest/user_data"); r.Status != 200 || string(r.Body) != "#!/bin/sh\n" {
		t.Errorf("user_data = %d %q", r.Status, r.Body)
	}
	inst.UserData = nil
	for _, p := range []string{"/openstack/latest/user_data", "/openstack/1999-01-01/meta_data.json", "/openstack/latest/meta_data.json/x"} {
		if r := Render(inst, p); r.Status != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", p, r.Status)
		}
	}
}

func TestRenderEC2(t *testing.T) {
	inst := testInstance()
	for path, want := range map[string]string{
		"/latest/meta-data/instance-id":                 "i-6f0b1b0e",
		"/latest/meta-data/hostname":                    "web-1",
		"/latest/meta-data/local-ipv4":                  "10.0.0.5",
		"/latest/meta-data/public-ipv4":                 "172.24.4.20",
		"/latest/meta-data/ami-launch-index":            "2",
		"/latest/meta-data/reservation-id":              "r-abc",
		"/2009-04-04/meta-data/placement/":              "availability-zone",
		"/latest/meta-data/placement/availability-zone": "nova",
		"/latest/meta-data/public-keys/":                "0=mykey",
		"/latest/meta-data/public-keys/0/":              "openssh-key",
		"/latest/meta-data/public-keys/0/openssh-key":   "ssh-ed25519 AAAA me",
		"/latest/user-data":                             "#!/bin/sh\n",
		"/latest/":                                      "meta-data/\nuser-data",
	} {
		if r := Render(inst, path); r.Status != 200 || string(r.Body) != want {
			t.Errorf("%s = %d %q, want %q", path, r.Status, r.Body, want)
		}
	}
	r := Render(inst, "/latest/meta-data/")
	for _, item := range []string{"instance-id", "local-ipv4", "placement/", "public-keys/", "hostname"} {
		if !strings.Contains("\n"+string(r.Body)+"\n", "\n"+item+"\n") {
			t.Errorf("meta-data/ listing %q lacks %s", r.Body, item)
		}
	}
	if r := Render(inst, "/"); !strings.HasPrefix(string(r.Body), "1.0\n") || !strings.HasSuffix(string(r.Body), "latest") {
		t.Errorf("/ = %q", r.Body)
	}
	for _, p := range []string{"/latest/meta-data/nothing", "/latest/meta-data/public-keys/_listing", "/3000-01-01/meta-data/", "/latest/meta-data/hostname/x"} {
		if r := Render(inst, p); r.Status != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", p, r.Status)
		}
	}
}
