package cinderapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// HeaderAPIVersion carries microversions ("volume 3.27").
const (
	HeaderAPIVersion = api.HeaderAPIVersion
	serviceType      = "volume"
)

// Version is a block storage API microversion, 3.x.
type Version = api.Microversion

// The range of microversions served.
var (
	MinVersion = Version{Major: 3, Minor: 0}
	MaxVersion = Version{Major: 3, Minor: 70}
)

// microversions is how volume clients ask for a version.
var microversions = api.Microversions{Service: serviceType, Min: MinVersion, Max: MaxVersion}

// Negotiate returns the microversion to serve: 3.0 without a header, the
// maximum for "latest", 400 for a malformed version and 406 for one
// outside the range, as Cinder does.
func Negotiate(h http.Header) (Version, error) { return microversions.Negotiate(h) }

// handler is a volume route's handler, given the negotiated microversion.
type handler func(c *gin.Context, v Version) (*api.Response, error)

// versioned negotiates the microversion, echoes it (with Vary), and
// answers 404 below the route's first version, as Cinder does for a
// method that does not exist at the requested version.
func versioned(since int, h handler) api.Handler {
	return func(c *gin.Context) (*api.Response, error) {
		v, err := Negotiate(c.Request.Header)
		if err != nil {
			return nil, err
		}
		c.Header(HeaderAPIVersion, serviceType+" "+v.String())
		c.Header("Vary", HeaderAPIVersion)
		if !v.At(since) {
			return nil, api.NotFound("The resource could not be found.")
		}
		return h(c, v)
	}
}
