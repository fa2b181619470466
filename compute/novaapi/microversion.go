package novaapi

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// The microversion headers: Nova's own, and the generic one naming the
// service ("compute 2.60").
const (
	HeaderNovaVersion = "X-OpenStack-Nova-API-Version"
	HeaderAPIVersion  = "OpenStack-API-Version"
	serviceType       = "compute"
)

// Version is a compute API microversion, 2.x.
type Version struct{ Major, Minor int }

// The range of microversions served. MaxVersion is the highest version
// whose changes to every resource kumo serves are implemented; see
// versions.go for the list.
var (
	MinVersion = Version{2, 1}
	MaxVersion = Version{2, 96}
)

// At reports whether v is 2.minor or later.
func (v Version) At(minor int) bool { return v.Compare(Version{2, minor}) >= 0 }

// Compare orders versions: -1, 0 or 1.
func (v Version) Compare(o Version) int {
	switch {
	case v.Major != o.Major:
		return cmpInt(v.Major, o.Major)
	default:
		return cmpInt(v.Minor, o.Minor)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

var versionPattern = regexp.MustCompile(`^([1-9][0-9]*)\.([1-9][0-9]*|0)$`)

// ParseVersion reads "2.x" or "latest".
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "latest") {
		return MaxVersion, nil
	}
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return Version{}, api.BadRequest("API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", s)
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err := errors.Join(err1, err2); err != nil {
		return Version{}, api.BadRequest("API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", s)
	}
	return Version{major, minor}, nil
}

// requested finds the microversion a request asks for, as Nova does: the
// "compute" entry of OpenStack-API-Version wins over
// X-OpenStack-Nova-API-Version; with neither, "" (the minimum).
func requested(h http.Header) string {
	for _, line := range h.Values(HeaderAPIVersion) {
		for _, part := range strings.Split(line, ",") {
			fields := strings.Fields(part)
			if len(fields) == 2 && strings.EqualFold(fields[0], serviceType) {
				return fields[1]
			}
		}
	}
	return h.Get(HeaderNovaVersion)
}

// Negotiate returns the microversion to serve a request at: the minimum
// without a header, the maximum for "latest", 400 for a malformed version
// and 406 for one outside MinVersion..MaxVersion.
func Negotiate(h http.Header) (Version, error) {
	s := requested(h)
	if strings.TrimSpace(s) == "" {
		return MinVersion, nil
	}
	v, err := ParseVersion(s)
	if err != nil {
		return Version{}, err
	}
	if v.Compare(MinVersion) < 0 || v.Compare(MaxVersion) > 0 {
		return Version{}, api.NotAcceptable("Version %s is not supported by the API. Minimum is %s and maximum is %s.", v, MinVersion, MaxVersion)
	}
	return v, nil
}

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
