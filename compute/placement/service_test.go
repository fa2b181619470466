package placement_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/placement"
	"github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// allowAll is an Authorizer that lets every request through, so the tests
// exercise placement rather than identity; denyAll refuses every one.
type allowAll struct{}

func (allowAll) Authorize(*gin.Context, *api.Service, *api.Route) error { return nil }

type denyAll struct{}

func (denyAll) Authorize(_ *gin.Context, _ *api.Service, r *api.Route) error {
	return api.Forbidden("You are not authorized to perform the requested action: %s.", r.Policy)
}

type fixture struct {
	t   *testing.T
	s   *store.Store
	srv *httptest.Server
}

func newFixture(t *testing.T, auth api.Authorizer) *fixture {
	t.Helper()
	st := store.New(testutil.DB(t))
	srv := api.NewServer(api.Config{Authorizer: auth, Log: slog.New(slog.DiscardHandler)})
	if err := srv.Mount(placement.New(placement.Deps{Store: st}).API()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &fixture{t: t, s: st, srv: hs}
}

// get requests path at microversion mv ("" sends no header) and decodes
// the JSON body.
func (f *fixture) get(path, mv string) (int, http.Header, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if mv != "" {
		req.Header.Set("OpenStack-API-Version", "placement "+mv)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		f.t.Fatalf("GET %s: decode: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// ok is get that wants 200.
func (f *fixture) ok(path, mv string) map[string]any {
	f.t.Helper()
	status, _, body := f.get(path, mv)
	if status != http.StatusOK {
		f.t.Fatalf("GET %s (%s) = %d %v", path, mv, status, body)
	}
	return body
}

// wantError checks a Placement error body rendered by a placement handler.
func (f *fixture) wantError(path, mv string, status int) map[string]any {
	f.t.Helper()
	return f.wantErrorBody(path, mv, status, true)
}

// wantErrorBody checks a Placement error body; errors the shared server
// renders before placement's handler runs (authorisation, unrouted paths)
// carry the request ID only in the header.
func (f *fixture) wantErrorBody(path, mv string, status int, withID bool) map[string]any {
	f.t.Helper()
	got, h, body := f.get(path, mv)
	if got != status {
		f.t.Fatalf("GET %s (%s) = %d %v, want %d", path, mv, got, body, status)
	}
	errs, _ := body["errors"].([]any)
	if len(errs) != 1 {
		f.t.Fatalf("GET %s: body %v is not a Placement error", path, body)
	}
	e := errs[0].(map[string]any)
	if e["status"] != float64(status) || e["title"] != http.StatusText(status) || e["detail"] == "" ||
		(withID && e["request_id"] != h.Get(api.HeaderRequestID)) || e["code"] != "placement.undefined_code" {
		f.t.Fatalf("GET %s: error %v (request id %s)", path, e, h.Get(api.HeaderRequestID))
	}
	return e
}

// js round-trips v through JSON so it compares with decoded bodies.
func js(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(t *testing.T, got, want any) {
	t.Helper()
	if w := js(t, want); !reflect.DeepEqual(js(t, got), w) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		t.Fatalf("got  %s\nwant %s", gb, wb)
	}
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func TestVersionDocument(t *testing.T) {
	f := newFixture(t, nil) // the root is public
	for _, path := range []string{"/placement", "/placement/"} {
		status, h, body := f.get(path, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, status)
		}
		equal(t, body, map[string]any{"versions": []any{map[string]any{
			"id": "v1.0", "max_version": "1.39", "min_version": "1.0", "status": "CURRENT",
			"links": []any{map[string]any{"rel": "self", "href": ""}},
		}}})
		if h.Get("OpenStack-API-Version") != "placement 1.0" || h.Get("Vary") != "OpenStack-API-Version" {
			t.Fatalf("headers = %v", h)
		}
	}
	tests := []struct{ send, want string }{
		{"1.20", "placement 1.20"},
		{"latest", "placement 1.39"},
		{"1.0", "placement 1.0"},
	}
	for _, tt := range tests {
		_, h, _ := f.get("/placement/", tt.send)
		if got := h.Get("OpenStack-API-Version"); got != tt.want {
			t.Errorf("sent %s: got %q, want %q", tt.send, got, tt.want)
		}
	}
	// Another service's version in the same header is ignored.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/placement/", nil)
	req.Header.Set("OpenStack-API-Version", "compute 2.90, placement 1.7")
	resp, err := http.DefaultClient.Do(req)
	f.must(err)
	resp.Body.Close()
	if got := resp.Header.Get("OpenStack-API-Version"); got != "placement 1.7" {
		t.Fatalf("mixed header: got %q", got)
	}
	f.wantError("/placement/", "1.40", http.StatusNotAcceptable)
	f.wantError("/placement/", "2.0", http.StatusBadRequest)
	f.wantError("/placement/", "1.01", http.StatusBadRequest)
}

func TestPolicy(t *testing.T) {
	svc := placement.New(placement.Deps{}).API()
	if svc.Name != "placement" || svc.Prefix != "/placement" || svc.Dialect != api.DialectPlacement {
		t.Fatalf("service = %s %s %v", svc.Name, svc.Prefix, svc.Dialect)
	}
	for _, r := range svc.Routes {
		if r.Path == "" || r.Path == "/" {
			if r.Policy != "" {
				t.Errorf("%s is guarded by %s; the version document is public", r.Path, r.Policy)
			}
			continue
		}
		if !strings.HasPrefix(r.Policy, "placement:") || placement.Policy[r.Policy] != "rule:admin_required" {
			t.Errorf("%s %s: policy %q (default %q), want an admin-only placement: rule", r.Method, r.Path, r.Policy, placement.Policy[r.Policy])
		}
	}
	f := newFixture(t, denyAll{})
	e := f.wantErrorBody("/placement/resource_providers", "1.0", http.StatusForbidden, false)
	if !strings.Contains(e["detail"].(string), "placement:resource_providers:list") {
		t.Fatalf("detail = %v", e["detail"])
	}
}

// world is two hosts with some allocations.
type world struct {
	a, b     store.Provider
	agg      string
	consumer string
}

func (f *fixture) world() world {
	f.t.Helper()
	ctx := f.t.Context()
	var w world
	var err error
	w.a, err = f.s.EnsureProvider(ctx, "host-a", map[string]store.Inventory{
		"VCPU": {Total: 8, AllocationRatio: 2}, "MEMORY_MB": {Total: 8192, Reserved: 512}, "DISK_GB": {Total: 100},
	})
	f.must(err)
	w.b, err = f.s.EnsureProvider(ctx, "host-b", map[string]store.Inventory{
		"VCPU": {Total: 4}, "MEMORY_MB": {Total: 2048},
	})
	f.must(err)
	w.agg = store.NewUUID()
	f.must(f.s.SetAggregates(ctx, w.a.UUID, []string{w.agg}))
	f.must(f.s.SetTraits(ctx, w.a.UUID, []string{"HW_CPU_X86_AVX2"}))
	w.consumer = store.NewUUID()
	f.must(f.s.Claim(ctx, w.consumer, "proj", "user", w.a.UUID, map[string]int64{"VCPU": 2, "MEMORY_MB": 1024}))
	f.must(f.s.Claim(ctx, store.NewUUID(), "proj", "user2", w.b.UUID, map[string]int64{"VCPU": 4}))
	// Re-read for the generations the claims bumped.
	w.a, err = f.s.GetProvider(ctx, w.a.UUID)
	f.must(err)
	w.b, err = f.s.GetProvider(ctx, w.b.UUID)
	f.must(err)
	return w
}

func names(body map[string]any) []string {
	out := []string{}
	for _, p := range body["resource_providers"].([]any) {
		out = append(out, p.(map[string]any)["name"].(string))
	}
	return out
}

func TestResourceProviders(t *testing.T) {
	f := newFixture(t, allowAll{})
	w := f.world()
	base := "/placement/resource_providers/" + w.a.UUID

	got := f.ok("/placement/resource_providers", "1.0")
	equal(t, got["resource_providers"].([]any)[0], map[string]any{
		"uuid": w.a.UUID, "name": "host-a", "generation": w.a.Generation,
		"links": []any{
			map[string]any{"rel": "self", "href": base},
			map[string]any{"rel": "inventories", "href": base + "/inventories"},
			map[string]any{"rel": "usages", "href": base + "/usages"},
		},
	})
	p := f.ok(base, "1.14")
	if p["root_provider_uuid"] != w.a.UUID || p["parent_provider_uuid"] != nil || len(p["links"].([]any)) != 6 {
		t.Fatalf("provider at 1.14 = %v", p)
	}

	tests := []struct {
		query, mv string
		want      []string
	}{
		{"", "1.0", []string{"host-a", "host-b"}},
		{"?name=host-b", "1.0", []string{"host-b"}},
		{"?uuid=" + w.a.UUID, "1.0", []string{"host-a"}},
		{"?member_of=in:" + w.agg + "," + store.NewUUID(), "1.3", []string{"host-a"}},
		{"?member_of=" + store.NewUUID(), "1.3", []string{}},
		{"?resources=VCPU:1", "1.4", []string{"host-a"}}, // host-b is full
		{"?resources=VCPU:14", "1.4", []string{"host-a"}},
		{"?resources=VCPU:15", "1.4", []string{}},
		{"?resources=MEMORY_MB:6656", "1.4", []string{"host-a"}},
		{"?resources=MEMORY_MB:6657", "1.4", []string{}},
		{"?required=HW_CPU_X86_AVX2", "1.18", []string{"host-a"}},
		{"?required=!HW_CPU_X86_AVX2", "1.22", []string{"host-b"}},
		{"?in_tree=" + w.b.UUID, "1.14", []string{"host-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			equal(t, names(f.ok("/placement/resource_providers"+tt.query, tt.mv)), tt.want)
		})
	}
	for _, bad := range []struct{ query, mv string }{
		{"?member_of=" + w.agg, "1.2"},       // not yet
		{"?resources=VCPU:1", "1.3"},         // not yet
		{"?colour=blue", "1.39"},             // unknown
		{"?resources=VCPU", "1.4"},           // malformed
		{"?resources=VCPU:0", "1.4"},         // zero
		{"?resources=vcpu:1", "1.4"},         // bad class
		{"?member_of=nope", "1.3"},           // not a uuid
		{"?uuid=nope", "1.0"},                // not a uuid
		{"?required=lower", "1.18"},          // bad trait
		{"?member_of=a&member_of=b", "1.23"}, // repeated before 1.24
	} {
		t.Run("bad "+bad.query, func(t *testing.T) {
			f.wantError("/placement/resource_providers"+bad.query, bad.mv, http.StatusBadRequest)
		})
	}
	f.wantError("/placement/resource_providers/"+store.NewUUID(), "1.0", http.StatusNotFound)
	f.wantError("/placement/resource_providers/nope", "1.0", http.StatusNotFound)
	// Unrouted paths are answered by the shared server in Placement's
	// shape, without a request_id in the body (the header carries it).
	f.wantErrorBody("/placement/nothing", "1.0", http.StatusNotFound, false)

	equal(t, f.ok(base+"/inventories", "1.0"), map[string]any{
		"resource_provider_generation": w.a.Generation,
		"inventories": map[string]any{
			"VCPU":      map[string]any{"total": 8, "reserved": 0, "min_unit": 1, "max_unit": 2147483647, "step_size": 1, "allocation_ratio": 2},
			"MEMORY_MB": map[string]any{"total": 8192, "reserved": 512, "min_unit": 1, "max_unit": 2147483647, "step_size": 1, "allocation_ratio": 1},
			"DISK_GB":   map[string]any{"total": 100, "reserved": 0, "min_unit": 1, "max_unit": 2147483647, "step_size": 1, "allocation_ratio": 1},
		},
	})
	equal(t, f.ok(base+"/inventories/MEMORY_MB", "1.0"), map[string]any{
		"resource_provider_generation": w.a.Generation,
		"total":                        8192, "reserved": 512, "min_unit": 1, "max_unit": 2147483647, "step_size": 1, "allocation_ratio": 1,
	})
	f.wantError(base+"/inventories/VGPU", "1.0", http.StatusNotFound)
	equal(t, f.ok(base+"/usages", "1.0"), map[string]any{
		"resource_provider_generation": w.a.Generation,
		"usages":                       map[string]any{"VCPU": 2, "MEMORY_MB": 1024, "DISK_GB": 0},
	})
	equal(t, f.ok(base+"/allocations", "1.0"), map[string]any{
		"resource_provider_generation": w.a.Generation,
		"allocations":                  map[string]any{w.consumer: map[string]any{"resources": map[string]any{"VCPU": 2, "MEMORY_MB": 1024}}},
	})
	equal(t, f.ok(base+"/aggregates", "1.1"), map[string]any{"aggregates": []any{w.agg}})
	equal(t, f.ok(base+"/aggregates", "1.19"), map[string]any{"aggregates": []any{w.agg}, "resource_provider_generation": w.a.Generation})
	f.wantError(base+"/aggregates", "1.0", http.StatusNotFound)
	equal(t, f.ok(base+"/traits", "1.6"), map[string]any{"traits": []any{"HW_CPU_X86_AVX2"}, "resource_provider_generation": w.a.Generation})
	f.wantError(base+"/traits", "1.5", http.StatusNotFound)
}

func TestAllocations(t *testing.T) {
	f := newFixture(t, allowAll{})
	w := f.world()
	path := "/placement/allocations/" + w.consumer
	alloc := map[string]any{w.a.UUID: map[string]any{"generation": w.a.Generation, "resources": map[string]any{"VCPU": 2, "MEMORY_MB": 1024}}}
	equal(t, f.ok(path, "1.0"), map[string]any{"allocations": alloc})
	equal(t, f.ok(path, "1.12"), map[string]any{"allocations": alloc, "project_id": "proj", "user_id": "user"})
	equal(t, f.ok(path, "1.28"), map[string]any{"allocations": alloc, "project_id": "proj", "user_id": "user", "consumer_generation": 1})
	equal(t, f.ok("/placement/allocations/"+store.NewUUID(), "1.28"), map[string]any{"allocations": map[string]any{}})
}

func TestAllocationCandidates(t *testing.T) {
	f := newFixture(t, allowAll{})
	w := f.world()
	path := "/placement/allocation_candidates?resources=VCPU:2,MEMORY_MB:512"
	f.wantError(path, "1.9", http.StatusNotFound)
	equal(t, f.ok(path, "1.10"), map[string]any{
		"allocation_requests": []any{map[string]any{"allocations": []any{map[string]any{
			"resource_provider": map[string]any{"uuid": w.a.UUID},
			"resources":         map[string]any{"VCPU": 2, "MEMORY_MB": 512},
		}}}},
		"provider_summaries": map[string]any{w.a.UUID: map[string]any{"resources": map[string]any{
			"VCPU":      map[string]any{"capacity": 16, "used": 2},
			"MEMORY_MB": map[string]any{"capacity": 7680, "used": 1024},
		}}},
	})
	equal(t, f.ok(path, "1.34"), map[string]any{
		"allocation_requests": []any{map[string]any{
			"allocations": map[string]any{w.a.UUID: map[string]any{"resources": map[string]any{"VCPU": 2, "MEMORY_MB": 512}}},
			"mappings":    map[string]any{"": []any{w.a.UUID}},
		}},
		"provider_summaries": map[string]any{w.a.UUID: map[string]any{
			"resources": map[string]any{
				"VCPU":      map[string]any{"capacity": 16, "used": 2},
				"MEMORY_MB": map[string]any{"capacity": 7680, "used": 1024},
				"DISK_GB":   map[string]any{"capacity": 100, "used": 0},
			},
			"traits":               []any{"HW_CPU_X86_AVX2"},
			"parent_provider_uuid": nil,
			"root_provider_uuid":   w.a.UUID,
		}},
	})
	// Nothing has room for this.
	equal(t, f.ok("/placement/allocation_candidates?resources=VCPU:15", "1.12"),
		map[string]any{"allocation_requests": []any{}, "provider_summaries": map[string]any{}})
	got := f.ok("/placement/allocation_candidates?resources=MEMORY_MB:1&limit=1", "1.16")
	if n := len(got["allocation_requests"].([]any)); n != 1 {
		t.Fatalf("limit=1 gave %d candidates", n)
	}
	f.wantError("/placement/allocation_candidates", "1.12", http.StatusBadRequest)
	f.wantError("/placement/allocation_candidates?resources=VCPU:1&limit=1", "1.15", http.StatusBadRequest)
	f.wantError("/placement/allocation_candidates?resources=VCPU:1&limit=0", "1.16", http.StatusBadRequest)
}

func TestUsages(t *testing.T) {
	f := newFixture(t, allowAll{})
	f.world()
	f.wantError("/placement/usages?project_id=proj", "1.8", http.StatusNotFound)
	equal(t, f.ok("/placement/usages?project_id=proj", "1.9"), map[string]any{"usages": map[string]any{"VCPU": 6, "MEMORY_MB": 1024}})
	equal(t, f.ok("/placement/usages?project_id=proj&user_id=user2", "1.9"), map[string]any{"usages": map[string]any{"VCPU": 4}})
	equal(t, f.ok("/placement/usages?project_id=other", "1.9"), map[string]any{"usages": map[string]any{}})
	equal(t, f.ok("/placement/usages?project_id=proj", "1.38"), map[string]any{"usages": map[string]any{
		"unknown": map[string]any{"consumer_count": 2, "VCPU": 6, "MEMORY_MB": 1024},
	}})
	f.wantError("/placement/usages", "1.9", http.StatusBadRequest)
	f.wantError("/placement/usages?project_id=proj&consumer_type=INSTANCE", "1.37", http.StatusBadRequest)
}
