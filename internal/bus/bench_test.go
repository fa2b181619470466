package bus_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// BenchmarkRequestReply measures a typed Request/Handle round trip from one
// loopback TCP connection to a service on another, through the in-process
// server, and reports the p50 and p99 latency in microseconds.
func BenchmarkRequestReply(b *testing.B) {
	_, url := testutil.NATS(b)
	subject := startGreeter(b, url)
	client := testutil.Connect(b, url)
	ctx := context.Background()
	req := greetRequest{Name: "bench"}

	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		rep, err := bus.Request[greetRequest, greetReply](ctx, client, subject, req)
		lat = append(lat, time.Since(start))
		if err != nil || rep.Greeting != "hello bench" {
			b.Fatalf("Request = %+v, %v", rep, err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(percentileMicros(lat, 50), "p50-us")
	b.ReportMetric(percentileMicros(lat, 99), "p99-us")
}

// percentileMicros returns the p-th percentile of sorted, in microseconds.
func percentileMicros(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)*p/100, len(sorted)-1)
	return float64(sorted[i]) / float64(time.Microsecond)
}
