package placement

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/placement/store"
)

// The microversions served: 1.0 to 1.MaxMinor.
const (
	MaxMinor = 39
	// HeaderVersion carries the microversion both ways.
	HeaderVersion = "OpenStack-API-Version"
)

// version is the minor part of the request's placement 1.x microversion.
type version int

// at reports whether the request asked for 1.minor or later.
func (v version) at(minor int) bool { return int(v) >= minor }

func (v version) String() string { return fmt.Sprintf("1.%d", int(v)) }

type handler func(c *gin.Context, v version) (*api.Response, error)

var versionPattern = regexp.MustCompile(`^1\.(0|[1-9][0-9]*)$`)

// parseVersion reads "placement 1.x" (or "placement latest") out of the
// OpenStack-API-Version header; without one it is 1.0, Placement's default.
func parseVersion(h string) (version, error) {
	for _, part := range strings.Split(h, ",") {
		fields := strings.Fields(part)
		if len(fields) != 2 || !strings.EqualFold(fields[0], "placement") {
			continue
		}
		if fields[1] == "latest" {
			return MaxMinor, nil
		}
		m := versionPattern.FindStringSubmatch(fields[1])
		if m == nil {
			return 0, api.BadRequest("invalid version string: %s", fields[1])
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > MaxMinor {
			return 0, api.NotAcceptable("Unacceptable version header: %s", fields[1])
		}
		return version(n), nil
	}
	return 0, nil
}

// versioned wraps a handler with microversion negotiation: it echoes the
// version served (with Vary), answers 404 below the route's first version,
// and renders store errors as Placement does.
func (s *Service) versioned(since int, h handler) api.Handler {
	return func(c *gin.Context) (*api.Response, error) {
		v, err := parseVersion(c.GetHeader(HeaderVersion))
		if err == nil {
			c.Header(HeaderVersion, "placement "+v.String())
			c.Header("Vary", HeaderVersion)
			if !v.at(since) {
				err = api.NotFound("The resource could not be found.")
			}
		}
		var resp *api.Response
		if err == nil {
			resp, err = h(c, v)
		}
		if err != nil {
			return nil, apiError(err) // the server adds the request id
		}
		return resp, nil
	}
}

// apiError maps store errors to API errors.
func apiError(err error) *api.Error {
	var e *api.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return &api.Error{Kind: api.KindNotFound, Message: err.Error()}
	case errors.Is(err, store.ErrInvalid):
		return &api.Error{Kind: api.KindBadRequest, Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return &api.Error{Kind: api.KindConflict, Message: err.Error()}
	case errors.Is(err, store.ErrCapacity):
		return &api.Error{Kind: api.KindConflict, Message: err.Error()}
	}
	return api.Internal(err)
}

// root answers GET /placement/ with the version document.
func (s *Service) root(*gin.Context, version) (*api.Response, error) {
	return &api.Response{Status: http.StatusOK, Body: gin.H{"versions": []gin.H{{
		"id":          "v1.0",
		"max_version": version(MaxMinor).String(),
		"min_version": "1.0",
		"status":      "CURRENT",
		"links":       []gin.H{{"rel": "self", "href": ""}},
	}}}}, nil
}
