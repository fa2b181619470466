package cinderapi

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// HeaderAPIVersion carries microversions ("volume 3.27").
const (
	HeaderAPIVersion = "OpenStack-API-Version"
	serviceType      = "volume"
)

// Version is a block storage API microversion, 3.x.
type Version struct{ Major, Minor int }

// The range of microversions served.
var (
	MinVersion = Version{3, 0}
	MaxVersion = Version{3, 70}
)

// At reports whether v is 3.minor or later.
func (v Version) At(minor int) bool { return v.Major > 3 || v.Major == 3 && v.Minor >= minor }

// String is "3.x".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

func (v Version) less(o Version) bool {
	return v.Major < o.Major || v.Major == o.Major && v.Minor < o.Minor
}

var versionPattern = regexp.MustCompile(`^([1-9][0-9]*)\.([1-9][0-9]*|0)$`)

// Negotiate returns the microversion to serve: 3.0 without a header, the
// maximum for "latest", 400 for a malformed version and 406 for one
// outside the range, as Cinder does.
func Negotiate(h http.Header) (Version, error) {
	s := ""
	for _, line := range h.Values(HeaderAPIVersion) {
		for _, part := range strings.Split(line, ",") {
			if f := strings.Fields(part); len(f) == 2 && strings.EqualFold(f[0], serviceType) {
				s = f[1]
			}
		}
	}
	if s == "" {
		return MinVersion, nil
	}
	if strings.EqualFold(s, "latest") {
		return MaxVersion, nil
	}
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return Version{}, api.BadRequest("API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	v := Version{major, minor}
	if v.less(MinVersion) || MaxVersion.less(v) {
		return Version{}, api.NotAcceptable("Version %s is not supported by the API. Minimum is %s and maximum is %s.", v, MinVersion, MaxVersion)
	}
	return v, nil
}

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
