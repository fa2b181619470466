package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultMaxBody caps JSON request bodies unless a route says otherwise.
const DefaultMaxBody = 1 << 20

// Authorizer authenticates a request and checks a route's policy rule. The
// identity service provides the real one; without it, guarded routes are
// refused.
type Authorizer interface {
	Authorize(c *gin.Context, svc *Service, route *Route) error
}

// Config is what a Server needs.
type Config struct {
	Log *slog.Logger
	// Registry receives the HTTP metrics; Gatherer serves /metrics. Both
	// default to a private registry.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// Health answers /healthz and /readyz.
	Health *Health
	// Authorizer guards routes that name a policy rule.
	Authorizer Authorizer
}

// Server is the one HTTP listener of a kumo process.
type Server struct {
	engine   *gin.Engine
	log      *slog.Logger
	auth     Authorizer
	metrics  *metrics
	services []*Service
}

func init() { gin.SetMode(gin.ReleaseMode) }

// NewServer builds the gin engine with the shared middleware and the health
// and metrics endpoints.
func NewServer(cfg Config) *Server {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if cfg.Registry == nil {
		reg := prometheus.NewRegistry()
		cfg.Registry, cfg.Gatherer = reg, reg
	}
	s := &Server{engine: gin.New(), log: log, auth: cfg.Authorizer, metrics: newMetrics(cfg.Registry)}
	s.engine.HandleMethodNotAllowed = true
	s.engine.ContextWithFallback = true
	s.engine.Use(s.recovery, stripForgedHeaders, requestID, s.observe)
	if cfg.Health != nil {
		s.engine.GET("/healthz", cfg.Health.live)
		s.engine.GET("/readyz", cfg.Health.ready)
	}
	if cfg.Gatherer != nil {
		s.engine.GET("/metrics", gin.WrapH(promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})))
	}
	s.engine.NoRoute(func(c *gin.Context) {
		s.renderError(c, s.dialectFor(c.Request.URL.Path), NotFound("The resource could not be found."))
	})
	s.engine.NoMethod(func(c *gin.Context) {
		s.renderError(c, s.dialectFor(c.Request.URL.Path), newError(KindMethodNotAllowed, "The method is not allowed for the requested URL."))
	})
	return s
}

// Mount adds a service's routes under its prefix. Conflicting routes are an
// error naming them, not a panic.
func (s *Server) Mount(svc Service) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("mount %s: %v", svc.Name, p)
		}
	}()
	sp := &svc
	s.services = append(s.services, sp)
	g := s.engine.Group(svc.Prefix)
	for i := range svc.Routes {
		r := &svc.Routes[i]
		g.Handle(r.Method, r.Path, s.handle(sp, r))
	}
	return nil
}

// Handler exposes the server as an http.Handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.engine }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

// handle wraps a route's handler with body limits, authorisation and error
// rendering.
func (s *Server) handle(svc *Service, r *Route) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(ctxService, svc.Name)
		if limit := r.MaxBody; c.Request.Body != nil && limit >= 0 {
			if limit == 0 {
				limit = DefaultMaxBody
			}
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		if r.Policy != "" {
			if s.auth == nil {
				s.renderError(c, svc.Dialect, Unauthorized("The request you have made requires authentication."))
				return
			}
			if err := s.auth.Authorize(c, svc, r); err != nil {
				s.renderError(c, svc.Dialect, err)
				return
			}
		}
		resp, err := r.Handler(c)
		if err != nil {
			s.renderError(c, svc.Dialect, err)
			return
		}
		if resp == nil {
			resp = NoContent()
		}
		resp.write(c)
	}
}

// renderError writes err in the dialect and logs internal causes.
func (s *Server) renderError(c *gin.Context, d Dialect, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = TooLarge("Request body is larger than the limit of %d bytes.", mbe.Limit)
	}
	e := asError(err)
	if e.RequestID == "" {
		copied := *e // errors may be shared values: never write into them
		copied.RequestID = c.GetString(ctxRequestID)
		e = &copied
	}
	status := d.Status(e.Kind)
	if status >= 500 {
		s.log.ErrorContext(c, "request failed", "request_id", c.GetString(ctxRequestID), "error", e.Error())
	}
	c.AbortWithStatusJSON(status, d.Body(e))
}

// dialectFor finds the dialect of the service owning a path, for 404s and 405s.
func (s *Server) dialectFor(path string) Dialect {
	for _, svc := range s.services {
		if path == svc.Prefix || strings.HasPrefix(path, svc.Prefix+"/") {
			return svc.Dialect
		}
	}
	return DialectPlain
}

// recovery turns a handler panic into a 500 in the right dialect.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(c, "handler panicked", "request_id", c.GetString(ctxRequestID), "panic", p)
			s.renderError(c, s.dialectFor(c.Request.URL.Path), Internal(errors.New("panic")))
		}
	}()
	c.Next()
}
