package novaapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

func bodyContext(body string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	c.Request.Header.Set("Content-Type", "application/json")
	return c
}

// badRequest reports whether err is a 400 whose message has want.
func badRequest(err error, want string) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Kind == api.KindBadRequest && strings.Contains(ae.Message, want)
}

func TestParseAttach(t *testing.T) {
	const vol = "0B7F9B1E-3C2D-4E5F-8A9B-1C2D3E4F5A6B"
	for _, tc := range []struct {
		name, body string
		v          Version
		want       attachRequest
		err        string
	}{
		{"plain", `{"volumeAttachment": {"volumeId": "` + vol + `"}}`, Version{Major: 2, Minor: 1},
			attachRequest{volumeID: strings.ToLower(vol)}, ""},
		{"device", `{"volumeAttachment": {"volumeId": "` + vol + `", "device": "/dev/vdc"}}`, Version{Major: 2, Minor: 1},
			attachRequest{volumeID: strings.ToLower(vol), device: "/dev/vdc"}, ""},
		{"null device", `{"volumeAttachment": {"volumeId": "` + vol + `", "device": null}}`, Version{Major: 2, Minor: 1},
			attachRequest{volumeID: strings.ToLower(vol)}, ""},
		{"tag and delete", `{"volumeAttachment": {"volumeId": "` + vol + `", "tag": "data", "delete_on_termination": true}}`, Version{Major: 2, Minor: 79},
			attachRequest{volumeID: strings.ToLower(vol), tag: "data", deleteOnTermination: true}, ""},
		{"no volumeId", `{"volumeAttachment": {}}`, Version{Major: 2, Minor: 1}, attachRequest{}, "'volumeId' is a required property"},
		{"not a uuid", `{"volumeAttachment": {"volumeId": "nope"}}`, Version{Major: 2, Minor: 1}, attachRequest{}, "is not a 'uuid'"},
		{"bad device", `{"volumeAttachment": {"volumeId": "` + vol + `", "device": "vdb"}}`, Version{Major: 2, Minor: 1}, attachRequest{}, "does not match"},
		{"tag before 2.49", `{"volumeAttachment": {"volumeId": "` + vol + `", "tag": "x"}}`, Version{Major: 2, Minor: 48}, attachRequest{}, "('tag' was unexpected)"},
		{"bad tag", `{"volumeAttachment": {"volumeId": "` + vol + `", "tag": "a/b"}}`, Version{Major: 2, Minor: 49}, attachRequest{}, "does not match"},
		{"delete before 2.79", `{"volumeAttachment": {"volumeId": "` + vol + `", "delete_on_termination": true}}`, Version{Major: 2, Minor: 78}, attachRequest{}, "was unexpected"},
		{"bad bool", `{"volumeAttachment": {"volumeId": "` + vol + `", "delete_on_termination": "maybe"}}`, Version{Major: 2, Minor: 79}, attachRequest{}, "is not of type 'boolean'"},
		{"no wrapper", `{"volumeId": "` + vol + `"}`, Version{Major: 2, Minor: 1}, attachRequest{}, "'volumeAttachment' is a required property"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAttach(bodyContext(tc.body), tc.v)
			if tc.err != "" {
				if !badRequest(err, tc.err) {
					t.Fatalf("err = %v, want a 400 with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestAttachmentView(t *testing.T) {
	vol, att, tag := "v1", "a1", "data"
	b := store.BDM{UUID: "b1", InstanceUUID: "s1", VolumeID: &vol, AttachmentID: &att, Tag: &tag, DeviceName: "/dev/vdb", DeleteOnTermination: true}
	keys := func(v Version) string {
		m := attachmentView(b, v)
		var out []string
		for _, k := range []string{"id", "volumeId", "serverId", "device", "tag", "delete_on_termination", "attachment_id", "bdm_uuid"} {
			if _, ok := m[k]; ok {
				out = append(out, k)
			}
		}
		return strings.Join(out, ",")
	}
	for v, want := range map[Version]string{
		{Major: 2, Minor: 1}:  "id,volumeId,serverId,device",
		{Major: 2, Minor: 70}: "id,volumeId,serverId,device,tag",
		{Major: 2, Minor: 79}: "id,volumeId,serverId,device,tag,delete_on_termination",
		{Major: 2, Minor: 89}: "volumeId,serverId,device,tag,delete_on_termination,attachment_id,bdm_uuid",
	} {
		if got := keys(v); got != want {
			t.Errorf("%v: keys %s, want %s", v, got, want)
		}
	}
	if got := volumesAttachedView([]store.BDM{b}, Version{Major: 2, Minor: 1}); len(got) != 1 || got[0]["id"] != "v1" || got[0]["delete_on_termination"] != nil {
		t.Errorf("volumes_attached at 2.1: %v", got)
	}
	if got := volumesAttachedView([]store.BDM{b}, Version{Major: 2, Minor: 3}); got[0]["delete_on_termination"] != true {
		t.Errorf("volumes_attached at 2.3: %v", got)
	}
}

func TestUsedDevices(t *testing.T) {
	zero := 0
	vol := "v"
	next := func(in store.Instance, bdms []store.BDM) string {
		name, err := store.NextDeviceName(usedDevices(in, bdms))
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	if got := next(store.Instance{}, nil); got != "/dev/vdb" {
		t.Errorf("plain server: %s", got)
	}
	if got := next(store.Instance{EphemeralGB: 1, Swap: 512}, nil); got != "/dev/vdd" {
		t.Errorf("with ephemeral and swap: %s", got)
	}
	if got := next(store.Instance{}, []store.BDM{{DeviceName: "/dev/vdb", VolumeID: &vol}}); got != "/dev/vdc" {
		t.Errorf("with a volume: %s", got)
	}
	if got := next(store.Instance{}, []store.BDM{{DeviceName: "/dev/vda", BootIndex: &zero, VolumeID: &vol}}); got != "/dev/vdb" {
		t.Errorf("boot from volume: %s", got)
	}
}

func TestParseBDMs(t *testing.T) {
	const img = "5f1e4c8a-1d2b-4c3d-9e8f-0a1b2c3d4e5f"
	const vol = "0b7f9b1e-3c2d-4e5f-8a9b-1c2d3e4f5a6b"
	v := Version{Major: 2, Minor: 79}
	for _, tc := range []struct {
		name, body string
		err        string
		bfv        bool
	}{
		{"image to volume", `[{"uuid": "` + img + `", "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1, "delete_on_termination": true}]`, "", true},
		{"volume boot, string index", `[{"uuid": "` + vol + `", "source_type": "volume", "boot_index": "0"}]`, "", true},
		{"blank data disk", `[{"uuid": "` + img + `", "source_type": "image", "destination_type": "local", "boot_index": 0}, {"source_type": "blank", "destination_type": "volume", "volume_size": 1, "boot_index": -1}]`, "", false},
		{"bad source", `[{"uuid": "` + vol + `", "source_type": "disk", "boot_index": 0}]`, "Invalid source_type field.", false},
		{"missing uuid", `[{"source_type": "volume", "boot_index": 0}]`, "Missing device UUID.", false},
		{"blank with uuid", `[{"uuid": "` + vol + `", "source_type": "blank", "destination_type": "volume", "volume_size": 1}]`, "Invalid device UUID.", false},
		{"image without size", `[{"uuid": "` + img + `", "source_type": "image", "destination_type": "volume", "boot_index": 0}]`, "need to have a non-zero size", false},
		{"zero size", `[{"uuid": "` + img + `", "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 0}]`, "less than the minimum of 1", false},
		{"two boot 0", `[{"uuid": "` + vol + `", "source_type": "volume", "boot_index": 0}, {"uuid": "` + img + `", "source_type": "image", "destination_type": "volume", "volume_size": 1, "boot_index": 0}]`, "Boot sequence", false},
		{"gap", `[{"uuid": "` + vol + `", "source_type": "volume", "boot_index": 1}]`, "Boot sequence", false},
		{"bad dest", `[{"uuid": "` + vol + `", "source_type": "volume", "destination_type": "cloud", "boot_index": 0}]`, "is not one of", false},
		{"local blank", `[{"source_type": "blank", "destination_type": "local", "volume_size": 1}]`, "not supported", false},
		{"unknown field", `[{"uuid": "` + vol + `", "source_type": "volume", "boot_index": 0, "color": "red"}]`, "('color' was unexpected)", false},
		{"not a uuid", `[{"uuid": "abc", "source_type": "volume", "boot_index": 0}]`, "failed to get volume abc.", false},
		{"not a list", `{"uuid": "x"}`, "is not of type 'array'", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseBDMs([]byte(tc.body), v)
			if tc.err != "" {
				if !badRequest(err, tc.err) {
					t.Fatalf("err = %v, want a 400 with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, bfv := bootVolume(got); bfv != tc.bfv {
				t.Errorf("boots from volume: %t, want %t (%+v)", bfv, tc.bfv, got)
			}
		})
	}
	if _, err := parseBDMs([]byte(`[{"uuid": "`+vol+`", "source_type": "volume", "boot_index": 0, "tag": "x"}]`), Version{Major: 2, Minor: 41}); !badRequest(err, "('tag' was unexpected)") {
		t.Errorf("tag at 2.41: %v", err)
	}
}
