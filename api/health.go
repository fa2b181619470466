package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// CheckTimeout bounds each readiness check so /readyz never hangs.
const CheckTimeout = 2 * time.Second

// Check is one readiness probe: it returns details to show (may be nil) and
// an error when the dependency is not usable.
type Check struct {
	Name  string
	Probe func(ctx context.Context) (map[string]any, error)
}

// CheckResult is how one check is reported by /readyz.
type CheckResult struct {
	Status string         `json:"status"`
	Error  string         `json:"error,omitempty"`
	Detail map[string]any `json:"detail,omitempty"`
}

// Readiness is the /readyz body.
type Readiness struct {
	Status string                 `json:"status"`
	Checks map[string]CheckResult `json:"checks"`
}

// Health answers liveness and readiness from a set of checks.
type Health struct {
	mu     sync.RWMutex
	checks []Check
}

// NewHealth returns a Health with the given checks.
func NewHealth(checks ...Check) *Health { return &Health{checks: checks} }

// Add registers another readiness check.
func (h *Health) Add(c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, c)
}

// Ready runs every check concurrently, each bounded by CheckTimeout.
func (h *Health) Ready(ctx context.Context) Readiness {
	h.mu.RLock()
	checks := append([]Check(nil), h.checks...)
	h.mu.RUnlock()
	out := Readiness{Status: "ok", Checks: make(map[string]CheckResult, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := runCheck(ctx, chk)
			mu.Lock()
			defer mu.Unlock()
			out.Checks[chk.Name] = res
			if res.Status != "ok" {
				out.Status = "failed"
			}
		}()
	}
	wg.Wait()
	return out
}

// runCheck runs a probe with a deadline and reports a timeout even if the
// probe ignores its context.
func runCheck(ctx context.Context, chk Check) CheckResult {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	type result struct {
		detail map[string]any
		err    error
	}
	done := make(chan result, 1)
	go func() {
		d, err := chk.Probe(ctx)
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return CheckResult{Status: "failed", Error: r.err.Error(), Detail: r.detail}
		}
		return CheckResult{Status: "ok", Detail: r.detail}
	case <-ctx.Done():
		return CheckResult{Status: "failed", Error: "check timed out after " + CheckTimeout.String()}
	}
}

func (h *Health) live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (h *Health) ready(c *gin.Context) {
	r := h.Ready(c.Request.Context())
	status := http.StatusOK
	if r.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, r)
}
