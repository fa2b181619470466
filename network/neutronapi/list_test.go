package neutronapi

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestListResponse(t *testing.T) {
	s := New(Config{PublicURL: "http://kumo"}, Deps{})
	items := func() []view {
		seg := 5
		return []view{
			{"id": "a", "name": "x", "admin_state_up": true, "tags": []string{"red"}, "mtu": 1450, "gw": (*string)(nil), "seg": &seg,
				"fixed_ips": []fixedIP{{SubnetID: "s1", IPAddress: "10.0.0.2"}}},
			{"id": "b", "name": "y", "admin_state_up": false, "tags": []string{"red", "blue"}, "mtu": 1500, "gw": ptrTo("10.0.0.1"), "seg": (*int)(nil),
				"fixed_ips": []fixedIP{}},
			{"id": "c", "name": "x", "admin_state_up": true, "tags": []string{}, "mtu": 9000, "gw": ptrTo("10.0.1.1"), "seg": (*int)(nil),
				"fixed_ips": []fixedIP{{SubnetID: "s2", IPAddress: "10.0.1.5"}}},
		}
	}
	run := func(query string) (map[string]any, error) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("GET", "/network/v2.0/things?"+query, nil)
		resp, err := s.listResponse(c, "things", items())
		if err != nil {
			return nil, err
		}
		return resp.Body.(map[string]any), nil
	}
	ids := func(body map[string]any) string {
		out := ""
		for _, v := range body["things"].([]view) {
			out += v["id"].(string)
		}
		return out
	}
	for _, tc := range []struct{ query, want string }{
		{"", "abc"},
		{"name=x", "ac"},
		{"name=x&name=y", "abc"},
		{"admin_state_up=False", "b"},
		{"mtu=1500", "b"},
		{"gw=10.0.1.1", "c"},
		{"seg=5", "a"},
		{"tags=red", "ab"},
		{"tags=red,blue", "b"},
		{"tags-any=blue,red", "ab"},
		{"not-tags=red", "c"},
		{"not-tags-any=blue", "ac"},
		{"fixed_ips=ip_address%3D10.0.1.5", "c"},
		{"fixed_ips=subnet_id%3Ds1", "a"},
		{"unknown_attribute=1", "abc"},
		{"sort_key=mtu&sort_dir=desc", "cba"},
		{"sort_key=name&sort_dir=asc&sort_key=mtu&sort_dir=desc", "cab"},
		{"sort_key=gw", "abc"},
		{"limit=2", "ab"},
		{"limit=2&marker=b", "c"},
		{"limit=1&marker=c&page_reverse=True", "b"},
	} {
		body, err := run(tc.query)
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if got := ids(body); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.query, got, tc.want)
		}
	}
	body, _ := run("limit=1&marker=a")
	links := body["things_links"].([]map[string]string)
	if len(links) != 2 || links[0]["rel"] != "next" || links[1]["rel"] != "previous" {
		t.Fatalf("links = %v", links)
	}
	next, _ := url.Parse(links[0]["href"])
	if next.Query().Get("marker") != "b" || next.Query().Get("limit") != "1" || next.Path != "/network/v2.0/things" {
		t.Errorf("next = %s", links[0]["href"])
	}
	if body, _ := run("limit=5"); body["things_links"] == nil || len(body["things_links"].([]map[string]string)) != 0 {
		t.Errorf("last page links = %v, want none", body["things_links"])
	}
	body, _ = run("fields=id&fields=name")
	if v := body["things"].([]view)[0]; len(v) != 2 || v["name"] != "x" {
		t.Errorf("fields = %v", v)
	}
	for _, q := range []string{"sort_key=nope", "sort_dir=up&sort_key=name", "limit=x", "marker=zzz"} {
		if _, err := run(q); err == nil {
			t.Errorf("%q: no error", q)
		}
	}
}

func ptrTo(s string) *string { return &s }
