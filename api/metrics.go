package api

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the HTTP instruments of a Server.
type metrics struct {
	latency *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "kumo",
		Subsystem: "http",
		Name:      "request_duration_seconds",
		Help:      "Latency of HTTP requests by service, method, route template and status code.",
		Buckets:   []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"service", "method", "route", "code"})}
	reg.MustRegister(m.latency)
	return m
}

func (m *metrics) observe(service, method, route, code string, d time.Duration) {
	m.latency.WithLabelValues(service, method, route, code).Observe(d.Seconds())
}
