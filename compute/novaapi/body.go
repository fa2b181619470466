package novaapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// object decodes the request body as {wrapper: {...}} and returns the inner
// object's members, refusing members outside allowed as Nova's JSON schemas
// (additionalProperties: false) do.
func object(c *gin.Context, wrapper string, allowed ...string) (map[string]json.RawMessage, error) {
	inner, _, err := objectWith(c, wrapper, nil, allowed...)
	return inner, err
}

// objectWith is object that also admits the outer members siblings (such
// as os:scheduler_hints beside server) and returns the outer object.
func objectWith(c *gin.Context, wrapper string, siblings []string, allowed ...string) (map[string]json.RawMessage, map[string]json.RawMessage, error) {
	var outer map[string]json.RawMessage
	if err := api.BindJSON(c, &outer); err != nil {
		return nil, nil, err
	}
	raw, ok := outer[wrapper]
	if !ok {
		return nil, nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. '%s' is a required property", wrapper, compact(outer), wrapper)
	}
	for k := range outer {
		if k != wrapper && !contains(siblings, k) {
			return nil, nil, api.BadRequest("Invalid input for field/attribute. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil || inner == nil {
		return nil, nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", wrapper, raw, raw)
	}
	for k := range inner {
		if !contains(allowed, k) {
			return nil, nil, api.BadRequest("Invalid input for field/attribute %s. Additional properties are not allowed ('%s' was unexpected)", wrapper, k)
		}
	}
	return inner, outer, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func compact(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

func isNull(raw json.RawMessage) bool {
	return raw == nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// intField reads an integer given as a JSON number or a string of digits
// (Nova's flavor parameters accept both), at least min.
func intField(m map[string]json.RawMessage, key string, min int64, def int64) (int64, error) {
	raw, ok := m[key]
	if !ok {
		return def, nil
	}
	var n json.Number
	var s string
	switch {
	case json.Unmarshal(raw, &n) == nil:
		s = n.String()
	case json.Unmarshal(raw, &s) == nil:
		s = strings.TrimSpace(s)
	default:
		return 0, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'integer', 'string'", key, raw, raw)
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'integer'", key, raw, raw)
	}
	if v < min {
		return 0, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %d is less than the minimum of %d", key, raw, v, min)
	}
	return v, nil
}

// stringField reads a string of minLen..maxLen characters.
func stringField(m map[string]json.RawMessage, key string, minLen, maxLen int) (string, bool, error) {
	raw, ok := m[key]
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'string'", key, raw, raw)
	}
	if n := len([]rune(s)); n < minLen || n > maxLen {
		return "", true, api.BadRequest("Invalid input for field/attribute %s. Value: %s. Length must be between %d and %d", key, raw, minLen, maxLen)
	}
	return s, true, nil
}

// boolField reads a boolean; Nova also accepts the strings oslo's
// bool_from_string does.
func boolField(m map[string]json.RawMessage, key string, def bool) (bool, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return def, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, ok := parseBool(s); ok {
			return b, nil
		}
	}
	return false, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'boolean'", key, raw, raw)
}

// parseBool is oslo's strict bool_from_string.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, true
	case "0", "f", "false", "off", "n", "no":
		return false, true
	}
	return false, false
}

// floatField reads a number (or numeric string) in (0, max].
func floatField(m map[string]json.RawMessage, key string, def float64) (float64, error) {
	raw, ok := m[key]
	if !ok {
		return def, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'number', 'string'", key, raw, raw)
		}
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'number'", key, raw, raw)
		}
	}
	if f <= 0 || f > math.MaxFloat32 || math.IsNaN(f) {
		return 0, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %v is not in the range (0, 3.40282e+38]", key, raw, f)
	}
	return f, nil
}

// maxLimit caps the page size, as Nova's [api] max_limit.
const maxLimit = 1000

// pageParams reads limit and marker: limit must be a non-negative integer
// and is capped at maxLimit (0 or absent means maxLimit).
func pageParams(q url.Values) (limit int, marker string, err error) {
	limit = maxLimit
	if s, ok := q["limit"]; ok {
		n, perr := strconv.Atoi(s[len(s)-1])
		if perr != nil {
			return 0, "", api.BadRequest("limit param must be an integer")
		}
		if n < 0 {
			return 0, "", api.BadRequest("limit param must be positive")
		}
		if n > 0 && n < maxLimit {
			limit = n
		}
	}
	return limit, q.Get("marker"), nil
}

// nextLink is the "next" link of a full page: the same query with the
// marker moved to the last item.
func nextLink(base string, q url.Values, last string) []gin.H {
	next := url.Values{}
	for k, v := range q {
		next[k] = v
	}
	next.Set("marker", last)
	return []gin.H{{"rel": "next", "href": base + "?" + next.Encode()}}
}

var extraSpecKey = regexp.MustCompile(`^[a-zA-Z0-9-_:. /]{1,255}$`)

// specValue reads an extra spec value: a string of at most 255 characters;
// numbers and booleans are accepted and kept as their JSON text.
func specValue(key string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if len([]rune(s)) > 255 {
			return "", api.BadRequest("Invalid input for field/attribute %s. Value: %s. is too long", key, raw)
		}
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return fmt.Sprint(b), nil
	}
	return "", api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'string', 'number', 'boolean'", key, raw, raw)
}
