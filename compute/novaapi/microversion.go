package novaapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// The microversion headers: Nova's own, and the generic one naming the
// service ("compute 2.60").
const (
	HeaderNovaVersion = "X-OpenStack-Nova-API-Version"
	HeaderAPIVersion  = api.HeaderAPIVersion
	serviceType       = "compute"
)

// Version is a compute API microversion, 2.x.
type Version = api.Microversion

// The range of microversions served. MaxVersion is the highest version
// whose changes to every resource kumo serves are implemented; see
// versions.go for the list.
var (
	MinVersion = Version{Major: 2, Minor: 1}
	MaxVersion = Version{Major: 2, Minor: 96}
)

// microversions is how compute clients ask for a version.
var microversions = api.Microversions{Service: serviceType, Legacy: HeaderNovaVersion, Min: MinVersion, Max: MaxVersion}

// ParseVersion reads "2.x" or "latest".
func ParseVersion(s string) (Version, error) { return microversions.Parse(s) }

// Negotiate returns the microversion to serve a request at: the minimum
// without a header, the maximum for "latest", 400 for a malformed version
// and 406 for one outside MinVersion..MaxVersion. The "compute" entry of
// OpenStack-API-Version wins over X-OpenStack-Nova-API-Version, as in Nova.
func Negotiate(h http.Header) (Version, error) { return microversions.Negotiate(h) }

// handler is a compute route's handler: it gets the negotiated microversion
// and branches on it with v.At(minor).
type handler func(c *gin.Context, v Version) (*api.Response, error)

// versioned wraps a handler with microversion negotiation: it echoes the
// version served in both headers (with Vary), answers 404 outside the
// route's versions [since, until] (until 0: no end), as Nova does, and maps
// store errors to API errors. Legacy v2 routes (legacy set) serve 2.1
// semantics and ignore the headers, as Nova's /v2 does.
func versioned(since, until int, legacy bool, h handler) api.Handler {
	return func(c *gin.Context) (*api.Response, error) {
		v := MinVersion
		if !legacy {
			var err error
			if v, err = Negotiate(c.Request.Header); err != nil {
				return nil, err
			}
			c.Header(HeaderNovaVersion, v.String())
			c.Header(HeaderAPIVersion, serviceType+" "+v.String())
			c.Header("Vary", HeaderAPIVersion+", "+HeaderNovaVersion)
		}
		if !v.At(since) || (until > 0 && v.At(until+1)) {
			return nil, api.NotFound("The resource could not be found.")
		}
		resp, err := h(c, v)
		if err != nil {
			return nil, apiError(err)
		}
		return resp, nil
	}
}

// apiError maps store errors that handlers pass through to API errors.
func apiError(err error) error {
	var e *api.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return api.NotFound("The resource could not be found.")
	case errors.Is(err, store.ErrInvalid):
		return api.BadRequest("Invalid input received: %s", strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error()))
	case errors.Is(err, store.ErrConflict):
		return api.Conflict("%s", err.Error())
	}
	return api.Internal(err)
}
