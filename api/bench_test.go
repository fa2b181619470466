package api

import (
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// BenchmarkHTTPTrivialRoute measures what the shared HTTP layer (gin, request
// IDs, forged-header stripping, access log, metrics) costs per request on a
// public route, through a real client over loopback. It reports requests per
// second and the p50/p99 latency seen by the client.
func BenchmarkHTTPTrivialRoute(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(map[int]string{1: "clients=1", 8: "clients=8"}[clients], func(b *testing.B) {
			s := NewServer(Config{Log: slog.New(slog.DiscardHandler), Health: NewHealth()})
			s.Mount(Service{Name: "bench", Prefix: "/bench", Routes: []Route{{
				Method: http.MethodGet, Path: "/v1/ping",
				Handler: func(*gin.Context) (*Response, error) { return OK(gin.H{"pong": true}), nil },
			}}})
			base := startServer(b, s)
			transport := &http.Transport{MaxIdleConnsPerHost: clients}
			client := &http.Client{Transport: transport}
			defer transport.CloseIdleConnections()

			lat := make([]time.Duration, b.N)
			var next int64
			var mu sync.Mutex
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
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						resp, err := client.Get(base + "/bench/v1/ping")
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						lat[i] = time.Since(t0)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-us")
		})
	}
}
