package neutronapi

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// attrs is the object of a request body ({"network": {...}}), read
// attribute by attribute so that absent and null differ.
type attrs map[string]any

// readBody decodes {"<key>": {...}} and refuses attributes not in allowed.
func readBody(c *gin.Context, key string, allowed ...string) (attrs, error) {
	var body map[string]json.RawMessage
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, badRequest("Resource body required")
	}
	var a attrs
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil || a == nil {
		return nil, badRequest("Invalid input for %s. Reason: the body must be an object.", key)
	}
	ok2 := map[string]bool{}
	for _, k := range allowed {
		ok2[k] = true
	}
	var unknown []string
	for k := range a {
		if !ok2[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, badRequest("Unrecognized attribute(s) '%s'", strings.Join(unknown, ", "))
	}
	return a, nil
}

func (a attrs) has(k string) bool { _, ok := a[k]; return ok }

// str reads a string attribute; null reads as "" with null true.
func (a attrs) str(k string) (v string, present bool, err error) {
	x, ok := a[k]
	if !ok || x == nil {
		return "", ok, nil
	}
	s, isStr := x.(string)
	if !isStr {
		return "", true, invalidInput(k, x, "'%v' is not a valid string", x)
	}
	if len(s) > 255 && k != "description" {
		return "", true, invalidInput(k, x, "'%s' exceeds maximum length of 255", s)
	}
	return s, true, nil
}

// setStr assigns a present string attribute to dst.
func (a attrs) setStr(k string, dst *string) error {
	v, ok, err := a.str(k)
	if err == nil && ok {
		*dst = v
	}
	return err
}

// boolean reads a boolean attribute (Neutron also takes "true"/"false").
func (a attrs) boolean(k string) (v, present bool, err error) {
	x, ok := a[k]
	if !ok {
		return false, false, nil
	}
	switch t := x.(type) {
	case bool:
		return t, true, nil
	case string:
		switch strings.ToLower(t) {
		case "true", "1":
			return true, true, nil
		case "false", "0":
			return false, true, nil
		}
	}
	return false, true, invalidInput(k, x, "'%v' is not a valid boolean value", x)
}

// setBool assigns a present boolean attribute to dst.
func (a attrs) setBool(k string, dst *bool) error {
	v, ok, err := a.boolean(k)
	if err == nil && ok {
		*dst = v
	}
	return err
}

// integer reads an integer attribute; null reads as absent.
func (a attrs) integer(k string) (v *int, err error) {
	x, ok := a[k]
	if !ok || x == nil {
		return nil, nil
	}
	switch t := x.(type) {
	case json.Number:
		n, err := t.Int64()
		if err == nil {
			i := int(n)
			return &i, nil
		}
	case string:
		var i int
		if _, err := fmt.Sscanf(t, "%d", &i); err == nil && fmt.Sprint(i) == t {
			return &i, nil
		}
	}
	return nil, invalidInput(k, x, "'%v' is not an integer", x)
}

// strings reads a list of strings.
func (a attrs) strList(k string) (v []string, present bool, err error) {
	x, ok := a[k]
	if !ok {
		return nil, false, nil
	}
	if x == nil {
		return []string{}, true, nil
	}
	l, isList := x.([]any)
	if !isList {
		return nil, true, invalidInput(k, x, "'%v' is not a list", x)
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, isStr := e.(string)
		if !isStr {
			return nil, true, invalidInput(k, x, "'%v' is not a valid string", e)
		}
		out = append(out, s)
	}
	return out, true, nil
}

// objects reads a list of objects.
func (a attrs) objects(k string) (v []attrs, present bool, err error) {
	x, ok := a[k]
	if !ok {
		return nil, false, nil
	}
	if x == nil {
		return []attrs{}, true, nil
	}
	l, isList := x.([]any)
	if !isList {
		return nil, true, invalidInput(k, x, "'%v' is not a list", x)
	}
	out := make([]attrs, 0, len(l))
	for _, e := range l {
		m, isMap := e.(map[string]any)
		if !isMap {
			return nil, true, invalidInput(k, x, "'%v' is not a dictionary", e)
		}
		out = append(out, attrs(m))
	}
	return out, true, nil
}

// object reads an object attribute; null reads as present and nil.
func (a attrs) object(k string) (v attrs, present bool, err error) {
	x, ok := a[k]
	if !ok || x == nil {
		return nil, ok, nil
	}
	m, isMap := x.(map[string]any)
	if !isMap {
		return nil, true, invalidInput(k, x, "'%v' is not a dictionary", x)
	}
	return attrs(m), true, nil
}
