package api

import (
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Keys under which the middleware stores values on the gin context.
const (
	ctxRequestID = "kumo.request_id"
	ctxService   = "kumo.service"
)

// HeaderRequestID is the header carrying the OpenStack request ID.
const HeaderRequestID = "X-Openstack-Request-Id"

// forgedHeaders are identity headers that only kumo itself may set; a client
// sending them must not influence anything, so they are removed first.
var forgedHeaders = []string{
	"X-Identity-Status", "X-Service-Identity-Status",
	"X-Domain-Id", "X-Domain-Name", "X-Project-Id", "X-Project-Name",
	"X-Project-Domain-Id", "X-Project-Domain-Name", "X-User-Id", "X-User-Name",
	"X-User-Domain-Id", "X-User-Domain-Name", "X-Roles", "X-Service-Roles",
	"X-Service-Catalog", "X-Is-Admin-Project", "X-System-Scope",
	"X-Tenant-Id", "X-Tenant-Name", "X-Tenant", "X-User", "X-Role",
	"X-Service-User-Id", "X-Service-Project-Id", "X-Trust-Id",
	"X-Authorization", "X-Auth-Roles",
}

func stripForgedHeaders(c *gin.Context) {
	for _, h := range forgedHeaders {
		c.Request.Header.Del(h)
	}
	c.Next()
}

var globalRequestID = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// requestID gives every request an OpenStack-style ID and returns it in the
// X-Openstack-Request-Id header. A well-formed ID sent by the client is kept
// as the global request ID for logs only.
func requestID(c *gin.Context) {
	id := "req-" + uuid.NewString()
	c.Set(ctxRequestID, id)
	c.Writer.Header().Set(HeaderRequestID, id)
	c.Next()
}

// RequestID returns the request ID assigned to the request.
func RequestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// observe writes the structured access log line and the latency metric.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	elapsed := time.Since(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	service := c.GetString(ctxService)
	if service == "" {
		service = "kumo"
	}
	status := c.Writer.Status()
	s.metrics.observe(service, c.Request.Method, route, strconv.Itoa(status), elapsed)
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		return
	}
	attrs := []any{
		"service", service,
		"method", c.Request.Method,
		"path", c.Request.URL.Path,
		"route", route,
		"status", status,
		"duration_ms", float64(elapsed.Microseconds()) / 1000,
		"bytes", c.Writer.Size(),
		"remote", c.ClientIP(),
		"request_id", c.GetString(ctxRequestID),
	}
	if g := c.GetHeader(HeaderRequestID); globalRequestID.MatchString(g) {
		attrs = append(attrs, "global_request_id", g)
	}
	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	s.log.Log(c, level, "http request", attrs...)
}
