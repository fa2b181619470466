package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// startServer serves s on a real loopback listener and returns its base URL.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func testService(name, prefix string, d Dialect) Service {
	return Service{Name: name, Prefix: prefix, Dialect: d, Routes: []Route{
		{Method: http.MethodGet, Path: "/things/:id", Handler: func(c *gin.Context) (*Response, error) {
			if c.Param("id") == "missing" {
				return nil, NotFound("Thing %s could not be found.", c.Param("id")).WithType("ThingNotFound")
			}
			return OK(gin.H{"thing": gin.H{"id": c.Param("id")}}), nil
		}},
		{Method: http.MethodPost, Path: "/things", Handler: func(c *gin.Context) (*Response, error) {
			var body map[string]any
			if err := BindJSON(c, &body); err != nil {
				return nil, err
			}
			return Created(body).WithHeader("Location", "/things/1"), nil
		}},
		{Method: http.MethodGet, Path: "/headers", Handler: func(c *gin.Context) (*Response, error) {
			return OK(gin.H{"roles": c.GetHeader("X-Roles"), "user": c.GetHeader("X-User-Id")}), nil
		}},
		{Method: http.MethodGet, Path: "/boom", Handler: func(c *gin.Context) (*Response, error) {
			panic("boom")
		}},
		{Method: http.MethodGet, Path: "/fail", Handler: func(c *gin.Context) (*Response, error) {
			return nil, errors.New("database exploded with secret detail")
		}},
		{Method: http.MethodGet, Path: "/guarded", Policy: "thing:get", Handler: func(c *gin.Context) (*Response, error) {
			return OK(gin.H{}), nil
		}},
	}}
}

func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, url, raw)
		}
	}
	return resp, out
}

func TestServerRoutesAndDialects(t *testing.T) {
	s := NewServer(Config{Log: slog.New(slog.DiscardHandler), Health: NewHealth()})
	s.Mount(testService("compute", "/compute/v2.1", DialectNova))
	s.Mount(testService("network", "/network", DialectNeutron))
	s.Mount(testService("identity", "/identity", DialectKeystone))
	base := startServer(t, s)

	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		hdr      map[string]string
		status   int
		wantJSON string // a substring of the re-marshalled body
	}{
		{name: "ok", method: "GET", path: "/compute/v2.1/things/7", status: 200, wantJSON: `"id":"7"`},
		{name: "nova not found", method: "GET", path: "/compute/v2.1/things/missing", status: 404, wantJSON: `{"itemNotFound":{"code":404,"message":"Thing missing could not be found."}}`},
		{name: "neutron not found", method: "GET", path: "/network/things/missing", status: 404, wantJSON: `{"NeutronError":{"detail":"","message":"Thing missing could not be found.","type":"ThingNotFound"}}`},
		{name: "keystone not found", method: "GET", path: "/identity/things/missing", status: 404, wantJSON: `{"error":{"code":404,"message":"Thing missing could not be found.","title":"Not Found"}}`},
		{name: "unknown route in service dialect", method: "GET", path: "/network/nope", status: 404, wantJSON: `"NeutronError"`},
		{name: "wrong method", method: "DELETE", path: "/compute/v2.1/things", status: 405, wantJSON: `"badMethod"`},
		{name: "created with header", method: "POST", path: "/compute/v2.1/things", body: `{"a":1}`, status: 201, wantJSON: `{"a":1}`},
		{name: "malformed json", method: "POST", path: "/identity/things", body: `{"a":`, status: 400, wantJSON: `"title":"Bad Request"`},
		{name: "empty body", method: "POST", path: "/identity/things", body: ``, status: 400, wantJSON: `empty`},
		{name: "oversized body", method: "POST", path: "/identity/things", body: `{"a":"` + strings.Repeat("x", DefaultMaxBody) + `"}`, status: 413, wantJSON: `"code":413`},
		{name: "forged headers are stripped", method: "GET", path: "/identity/headers", hdr: map[string]string{"X-Roles": "admin", "X-User-Id": "root"}, status: 200, wantJSON: `{"roles":"","user":""}`},
		{name: "panic is a 500 in dialect", method: "GET", path: "/compute/v2.1/boom", status: 500, wantJSON: `"computeFault"`},
		{name: "internal error hides its cause", method: "GET", path: "/network/fail", status: 500, wantJSON: `"An unexpected error prevented the server from fulfilling your request."`},
		{name: "guarded route without authorizer is refused", method: "GET", path: "/identity/guarded", status: 401, wantJSON: `"code":401`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.method == "POST" {
				body = strings.NewReader(tt.body)
			}
			resp, out := do(t, tt.method, base+tt.path, body, tt.hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (body %v)", resp.StatusCode, tt.status, out)
			}
			got, _ := json.Marshal(out)
			if !bytes.Contains(got, []byte(tt.wantJSON)) {
				t.Fatalf("body %s does not contain %s", got, tt.wantJSON)
			}
			if !globalRequestID.MatchString(resp.Header.Get(HeaderRequestID)) {
				t.Fatalf("request id header = %q", resp.Header.Get(HeaderRequestID))
			}
			if strings.Contains(string(got), "secret detail") {
				t.Fatalf("internal cause leaked: %s", got)
			}
		})
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	s := NewServer(Config{Log: slog.New(slog.DiscardHandler), Health: NewHealth()})
	base := startServer(t, s)
	seen := map[string]bool{}
	for range 20 {
		resp, _ := do(t, "GET", base+"/healthz", nil, nil)
		id := resp.Header.Get(HeaderRequestID)
		if seen[id] {
			t.Fatalf("request id %s repeated", id)
		}
		seen[id] = true
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name   string
		checks []Check
		status int
		want   map[string]string
	}{
		{name: "all ok", status: 200, checks: []Check{
			{Name: "a", Probe: func(context.Context) (map[string]any, error) { return map[string]any{"k": "v"}, nil }},
		}, want: map[string]string{"a": "ok"}},
		{name: "one failed", status: 503, checks: []Check{
			{Name: "a", Probe: func(context.Context) (map[string]any, error) { return nil, nil }},
			{Name: "b", Probe: func(context.Context) (map[string]any, error) { return nil, errors.New("connection refused") }},
		}, want: map[string]string{"a": "ok", "b": "failed"}},
		{name: "a hanging check times out instead of hanging", status: 503, checks: []Check{
			{Name: "slow", Probe: func(context.Context) (map[string]any, error) { time.Sleep(10 * time.Second); return nil, nil }},
		}, want: map[string]string{"slow": "failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(Config{Log: slog.New(slog.DiscardHandler), Health: NewHealth(tt.checks...)})
			base := startServer(t, s)
			start := time.Now()
			resp, out := do(t, "GET", base+"/readyz", nil, nil)
			if time.Since(start) > CheckTimeout+time.Second {
				t.Fatalf("readyz took %s", time.Since(start))
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %v", resp.StatusCode, tt.status, out)
			}
			checks := out["checks"].(map[string]any)
			for name, want := range tt.want {
				got := checks[name].(map[string]any)["status"]
				if got != want {
					t.Fatalf("check %s = %v, want %s (%v)", name, got, want, out)
				}
			}
		})
	}
}

func TestMetricsHavePerRouteHistograms(t *testing.T) {
	s := NewServer(Config{Log: slog.New(slog.DiscardHandler), Health: NewHealth()})
	s.Mount(testService("compute", "/compute/v2.1", DialectNova))
	base := startServer(t, s)
	do(t, "GET", base+"/compute/v2.1/things/1", nil, nil)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	want := `kumo_http_request_duration_seconds_count{code="200",method="GET",route="/compute/v2.1/things/:id",service="compute"} 1`
	if !strings.Contains(string(raw), want) {
		t.Fatalf("metrics lack %s:\n%s", want, raw)
	}
}
