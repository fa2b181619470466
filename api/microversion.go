package api

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// HeaderAPIVersion carries microversions both ways, as "<service> <major.minor>".
const HeaderAPIVersion = "OpenStack-API-Version"

// Microversion is an OpenStack API microversion, major.minor.
type Microversion struct{ Major, Minor int }

// Compare orders microversions: -1, 0 or 1.
func (v Microversion) Compare(o Microversion) int {
	if c := cmp.Compare(v.Major, o.Major); c != 0 {
		return c
	}
	return cmp.Compare(v.Minor, o.Minor)
}

// At reports whether v is minor or later within its major version (a
// negotiated version is always of the service's major version).
func (v Microversion) At(minor int) bool { return v.Minor >= minor }

// String is "major.minor".
func (v Microversion) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

var microversionPattern = regexp.MustCompile(`^([1-9][0-9]*)\.([1-9][0-9]*|0)$`)

// Microversions is the range of microversions a service serves and how
// its clients ask for one.
type Microversions struct {
	// Service names the service in OpenStack-API-Version ("compute").
	Service string
	// Legacy, if set, is a service-specific header read when the generic
	// one names no version (Nova's X-OpenStack-Nova-API-Version).
	Legacy   string
	Min, Max Microversion
}

// Parse reads "major.minor", or "latest" (the maximum); a malformed
// version is a 400 with the message OpenStack services give.
func (m Microversions) Parse(s string) (Microversion, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "latest") {
		return m.Max, nil
	}
	p := microversionPattern.FindStringSubmatch(s)
	if p == nil {
		return Microversion{}, BadRequest("API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", s)
	}
	major, err1 := strconv.Atoi(p[1])
	minor, err2 := strconv.Atoi(p[2])
	if err1 != nil || err2 != nil {
		return Microversion{}, BadRequest("API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", s)
	}
	return Microversion{major, minor}, nil
}

// Requested is the version a request asks for: the service's entry of
// OpenStack-API-Version, else the legacy header, else "".
func (m Microversions) Requested(h http.Header) string {
	for _, line := range h.Values(HeaderAPIVersion) {
		for _, part := range strings.Split(line, ",") {
			if f := strings.Fields(part); len(f) == 2 && strings.EqualFold(f[0], m.Service) {
				return f[1]
			}
		}
	}
	if m.Legacy != "" {
		return h.Get(m.Legacy)
	}
	return ""
}

// Negotiate returns the version to serve a request at: the minimum
// without a header, the maximum for "latest", 400 for a malformed version
// and 406 for one outside Min..Max.
func (m Microversions) Negotiate(h http.Header) (Microversion, error) {
	s := m.Requested(h)
	if strings.TrimSpace(s) == "" {
		return m.Min, nil
	}
	v, err := m.Parse(s)
	if err != nil {
		return Microversion{}, err
	}
	if v.Compare(m.Min) < 0 || v.Compare(m.Max) > 0 {
		return Microversion{}, NotAcceptable("Version %s is not supported by the API. Minimum is %s and maximum is %s.", v, m.Min, m.Max)
	}
	return v, nil
}
