package test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/identity"
)

// BenchmarkTokenIssue measures password authentication end to end: POST
// /v3/auth/tokens over loopback against a running all-in-one, argon2id
// verification included. It reports tokens issued per second and the
// client-side p50/p99.
func BenchmarkTokenIssue(b *testing.B) {
	c := sharedCloud(b)
	b.Logf("password hashing: %s", identity.DefaultArgon2)
	body, _ := json.Marshal(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}, "password": c.AdminPassword}}},
		"scope": map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}},
	}})
	const clients = 2
	lat := make([]time.Duration, b.N)
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= b.N {
					return
				}
				t0 := time.Now()
				resp, err := http.Post(c.AuthURL()+"/auth/tokens?nocatalog", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "issues/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
	b.ReportMetric(float64(identity.DefaultArgon2.Memory), "argon2-KiB")
	b.ReportMetric(float64(identity.DefaultArgon2.Time), "argon2-passes")
}
