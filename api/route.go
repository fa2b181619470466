package api

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api/policy"
)

// Handler serves one route: it reads the request from c and returns the
// response to send, or a typed error that the server renders in the service's
// dialect. Handlers never write error bodies themselves.
type Handler func(c *gin.Context) (*Response, error)

// Route is one endpoint declared as data.
type Route struct {
	// Method is the HTTP method (http.MethodGet, ...).
	Method string
	// Path is the gin path relative to the service prefix, e.g. "/v3/projects/:id".
	Path string
	// Handler serves the route.
	Handler Handler
	// Policy names the policy rule guarding the route; "" means the route is
	// public (version documents, health).
	Policy string
	// Target, when set, adds object attributes to the policy target (for
	// rules such as "project_id:%(target.project.id)s"); it may fail, for
	// example with NotFound.
	Target func(c *gin.Context, t policy.Target) error
	// HideDenied answers a policy denial with 404 instead of 403, so that
	// another project's resource is invisible rather than forbidden.
	HideDenied bool
	// MaxBody caps the request body in bytes: 0 means DefaultMaxBody, -1
	// means unlimited (for streamed uploads such as image data).
	MaxBody int64
}

// Service is what a kumo service hands to the server to be mounted.
type Service struct {
	// Name labels the service in logs and metrics ("identity", "compute", ...).
	Name string
	// Prefix is the path prefix the service lives under in all-in-one ("/identity").
	Prefix string
	// Dialect decides how errors are rendered for this service.
	Dialect Dialect
	// Routes are the service's endpoints.
	Routes []Route
}

// Response is what a handler returns: a status, an optional JSON body (or a
// stream) and extra headers.
type Response struct {
	Status int
	// Body is marshalled as JSON unless it is nil.
	Body any
	// Stream, when set, is copied to the client instead of Body, with
	// ContentType as its type.
	Stream      io.Reader
	ContentType string
	Header      http.Header
	// Hijacked means the handler took the connection over (a websocket
	// upgrade) and wrote everything itself: the server sends nothing more.
	Hijacked bool
}

// OK is a 200 response with a JSON body.
func OK(body any) *Response { return &Response{Status: http.StatusOK, Body: body} }

// Created is a 201 response with a JSON body.
func Created(body any) *Response { return &Response{Status: http.StatusCreated, Body: body} }

// Accepted is a 202 response with an optional JSON body.
func Accepted(body any) *Response { return &Response{Status: http.StatusAccepted, Body: body} }

// NoContent is a 204 response.
func NoContent() *Response { return &Response{Status: http.StatusNoContent} }

// Hijacked is the response of a handler that took the connection over, for
// example to serve a websocket; errors before the takeover are still
// returned as errors and rendered in the service's dialect.
func Hijacked() *Response { return &Response{Hijacked: true} }

// WithHeader sets a response header and returns the response for chaining.
func (r *Response) WithHeader(key, value string) *Response {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set(key, value)
	return r
}

func (r *Response) write(c *gin.Context) {
	if r.Hijacked {
		return
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			c.Writer.Header().Add(k, v)
		}
	}
	switch {
	case r.Stream != nil:
		ct := r.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.DataFromReader(r.Status, -1, ct, r.Stream, nil)
	case r.Body != nil && r.Status != http.StatusNoContent:
		c.JSON(r.Status, r.Body)
	default:
		c.Status(r.Status)
		c.Writer.WriteHeaderNow()
	}
}
