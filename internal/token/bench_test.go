package token

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkIssue measures sealing a typical project-scoped token.
func BenchmarkIssue(b *testing.B) {
	c, _, _ := newTestCodec(b)
	claims := typical()
	b.ReportAllocs()
	var n int
	for b.Loop() {
		tok, err := c.Issue(claims)
		if err != nil {
			b.Fatal(err)
		}
		n = len(tok)
	}
	b.ReportMetric(float64(n), "token-bytes")
}

// BenchmarkValidate measures Validate of a typical token with an empty
// revocation list and with 10,000 revocations in force, reporting the p99
// latency of single calls and the single-core rate.
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{0, 10000} {
		b.Run("revocations="+strconv.Itoa(n), func(b *testing.B) {
			c, _, _ := newTestCodec(b)
			l := NewRevocationList()
			fillRevocations(b, l, n)
			v := NewValidator(c, l)
			tok, err := c.Issue(typical())
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, 1<<20)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				_, err := v.Validate(tok)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportLatency(b, lat)
		})
	}
}

// BenchmarkValidateParallel measures Validate from every core at once with
// 10,000 revocations, to show the revocation list's lock does not serialise
// readers.
func BenchmarkValidateParallel(b *testing.B) {
	c, _, _ := newTestCodec(b)
	l := NewRevocationList()
	fillRevocations(b, l, 10000)
	v := NewValidator(c, l)
	tok, err := c.Issue(typical())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Validate(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "validations/s")
}

// BenchmarkIsRevoked measures the revocation check alone.
func BenchmarkIsRevoked(b *testing.B) {
	for _, n := range []int{0, 10000} {
		b.Run("revocations="+strconv.Itoa(n), func(b *testing.B) {
			l := NewRevocationList()
			fillRevocations(b, l, n)
			claims := typical()
			for b.Loop() {
				if l.IsRevoked(claims) {
					b.Fatal("revoked")
				}
			}
		})
	}
}

// reportLatency reports the p50 and p99 of lat in microseconds and the
// rate one core sustains.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	slices.Sort(lat)
	pct := func(p int) float64 {
		return float64(lat[min(len(lat)*p/100, len(lat)-1)]) / float64(time.Microsecond)
	}
	b.ReportMetric(pct(50), "p50-us")
	b.ReportMetric(pct(99), "p99-us")
	b.ReportMetric(float64(len(lat))/total.Seconds(), "validations/s")
}
