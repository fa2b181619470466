package cinderapi

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// parseSort reads Cinder's sort=key:dir,... or sort_key/sort_dir.
func parseSort(c *gin.Context, allowed map[string]string) ([]store.Sort, error) {
	var keys, dirs []string
	if v := c.Query("sort"); v != "" {
		if c.Query("sort_key") != "" || c.Query("sort_dir") != "" {
			return nil, invalidInput("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.")
		}
		for _, part := range strings.Split(v, ",") {
			k, d, _ := strings.Cut(strings.TrimSpace(part), ":")
			keys, dirs = append(keys, k), append(dirs, d)
		}
	} else if v := c.Query("sort_key"); v != "" {
		keys = strings.Split(v, ",")
		dirs = strings.Split(c.Query("sort_dir"), ",")
	}
	var out []store.Sort
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if _, ok := allowed[k]; !ok {
			return nil, invalidInput("Invalid sort key %s.", k)
		}
		d := ""
		if i < len(dirs) {
			d = strings.ToLower(strings.TrimSpace(dirs[i]))
		}
		switch d {
		case "", "desc":
			out = append(out, store.Sort{Key: k, Desc: true})
		case "asc":
			out = append(out, store.Sort{Key: k})
		default:
			return nil, invalidInput("Invalid sort direction %s.", d)
		}
	}
	return out, nil
}

// page cuts a sorted list at marker (exclusive) and limit; next is true
// when more items follow the page.
func page[T any](items []T, id func(T) string, c *gin.Context) ([]T, bool, error) {
	if m := c.Query("marker"); m != "" {
		i := 0
		for ; i < len(items) && id(items[i]) != m; i++ {
		}
		if i == len(items) {
			return nil, false, api.NotFound("Marker %s could not be found.", m)
		}
		items = items[i+1:]
	}
	if o := c.Query("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 {
			return nil, false, invalidInput("Invalid offset %s.", o)
		}
		if n > len(items) {
			n = len(items)
		}
		items = items[n:]
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, false, invalidInput("limit must be a non-negative integer, not %s.", l)
		}
		if n < len(items) {
			return items[:n], true, nil
		}
	}
	return items, false, nil
}

// nextLink is the link to the page after the one ending at lastID, with
// the request's other query parameters kept.
func (s *Service) nextLink(c *gin.Context, kind, lastID string) []map[string]string {
	q := url.Values{}
	for k, vs := range c.Request.URL.Query() {
		if k != "marker" {
			q[k] = vs
		}
	}
	q.Set("marker", lastID)
	href := s.cfg.PublicURL + Prefix + "/v3/" + c.Param("project_id") + "/" + kind + "?" + q.Encode()
	return []map[string]string{{"rel": "next", "href": href}}
}

// parseMetadataFilter reads metadata={"k": "v"} (JSON or the Python
// literal gophercloud and cinderclient send).
func parseMetadataFilter(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	if err := json.Unmarshal([]byte(s), &out); err == nil {
		return out, nil
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(s, "'", `"`)), &out); err != nil {
		return nil, invalidInput("Invalid metadata filter %s.", s)
	}
	return out, nil
}

// boolParam reads a Cinder boolean query value.
func boolParam(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "t", "true", "on", "y", "yes":
		return true, true
	case "0", "f", "false", "off", "n", "no":
		return false, true
	}
	return false, false
}
