package neutronapi

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// view is a resource as Neutron renders it.
type view = map[string]any

// listParams are the query parameters that shape a list rather than
// filter it.
var listParams = map[string]bool{
	"fields": true, "sort_key": true, "sort_dir": true, "limit": true, "marker": true, "page_reverse": true,
	"tags": true, "tags-any": true, "not-tags": true, "not-tags-any": true,
}

// listResponse filters, sorts, pages and trims items the way Neutron does
// for every collection: any attribute is a filter (repeated = any of),
// tags/tags-any/not-tags/not-tags-any filter on tags, sort_key/sort_dir
// sort, limit/marker/page_reverse page with <collection>_links, and
// fields= selects attributes.
func (s *Service) listResponse(c *gin.Context, collection string, items []view) (*api.Response, error) {
	q := c.Request.URL.Query()
	items = slices.DeleteFunc(items, func(v view) bool { return !matches(v, q) })
	if err := sortViews(items, q); err != nil {
		return nil, err
	}
	page, links, err := s.paginate(c, items, q)
	if err != nil {
		return nil, err
	}
	fields := q["fields"]
	out := make([]view, len(page))
	for i, v := range page {
		out[i] = selectFields(v, fields)
	}
	body := map[string]any{collection: out}
	if links != nil {
		body[collection+"_links"] = links
	}
	return api.OK(body), nil
}

// showResponse renders one resource under its member name, with fields=.
func showResponse(c *gin.Context, member string, v view) *api.Response {
	return api.OK(map[string]any{member: selectFields(v, c.QueryArray("fields"))})
}

func selectFields(v view, fields []string) view {
	var keep []string
	for _, f := range fields {
		for _, ff := range strings.Split(f, ",") {
			if ff = strings.TrimSpace(ff); ff != "" {
				keep = append(keep, ff)
			}
		}
	}
	if len(keep) == 0 {
		return v
	}
	out := view{}
	for _, f := range keep {
		if x, ok := v[f]; ok {
			out[f] = x
		}
	}
	return out
}

func matches(v view, q url.Values) bool {
	for key, wants := range q {
		if listParams[key] || len(wants) == 0 {
			continue
		}
		got, ok := v[key]
		if !ok {
			continue // an attribute this resource does not have filters nothing
		}
		if !slices.ContainsFunc(wants, func(w string) bool { return valueMatches(got, w) }) {
			return false
		}
	}
	tags, _ := v["tags"].([]string)
	has := func(list string, all bool) bool {
		want := strings.Split(list, ",")
		n := 0
		for _, w := range want {
			if slices.Contains(tags, w) {
				n++
			}
		}
		if all {
			return n == len(want)
		}
		return n > 0
	}
	if t := q.Get("tags"); t != "" && !has(t, true) {
		return false
	}
	if t := q.Get("tags-any"); t != "" && !has(t, false) {
		return false
	}
	if t := q.Get("not-tags"); t != "" && has(t, true) {
		return false
	}
	if t := q.Get("not-tags-any"); t != "" && has(t, false) {
		return false
	}
	return true
}

// valueMatches compares an attribute with a filter value as Neutron
// converts it: booleans case-insensitively, lists by membership, fixed_ips
// by "ip_address=..." or "subnet_id=...".
func valueMatches(got any, want string) bool {
	switch g := plain(got).(type) {
	case nil:
		return want == "" || want == "None"
	case string:
		return g == want
	case bool:
		b, err := strconv.ParseBool(strings.ToLower(want))
		return err == nil && b == g
	case int:
		return strconv.Itoa(g) == want
	case []string:
		return slices.Contains(g, want)
	case []fixedIP:
		k, val, ok := strings.Cut(want, "=")
		if !ok {
			return false
		}
		for _, f := range g {
			if (k == "ip_address" && f.IPAddress == val) || (k == "subnet_id" && f.SubnetID == val) {
				return true
			}
		}
		return false
	default:
		return fmt.Sprint(g) == want
	}
}

func sortViews(items []view, q url.Values) error {
	keys, dirs := q["sort_key"], q["sort_dir"]
	if len(dirs) > len(keys) {
		return badRequest("The number of sort_keys and sort_dirs must be same")
	}
	for _, d := range dirs {
		if d != "asc" && d != "desc" {
			return badRequest("Invalid input for sort_dir. Reason: '%s' is not a valid sort direction.", d)
		}
	}
	if len(items) > 0 {
		for _, k := range keys {
			if _, ok := items[0][k]; !ok {
				return badRequest("%s is invalid attribute for sort_key", k)
			}
		}
	}
	slices.SortStableFunc(items, func(a, b view) int {
		for i, k := range keys {
			c := compareValues(a[k], b[k])
			if i < len(dirs) && dirs[i] == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(a["id"].(string), b["id"].(string))
	})
	return nil
}

// plain dereferences the optional attributes of views (*string, *int);
// nil pointers become nil.
func plain(v any) any {
	switch p := v.(type) {
	case *string:
		if p == nil {
			return nil
		}
		return *p
	case *int:
		if p == nil {
			return nil
		}
		return *p
	}
	return v
}

func compareValues(a, b any) int {
	a, b = plain(a), plain(b)
	switch x := a.(type) {
	case int:
		y, _ := b.(int)
		return cmp.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case nil:
		if b == nil {
			return 0
		}
		return -1
	}
	if b == nil {
		return 1
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// paginate cuts one page from the sorted items and builds Neutron's next
// and previous links.
func (s *Service) paginate(c *gin.Context, items []view, q url.Values) ([]view, []map[string]string, error) {
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, nil, badRequest("Invalid input for limit. Reason: '%s' is not a valid integer.", l)
		}
		limit = n
	}
	reverse, _ := strconv.ParseBool(strings.ToLower(q.Get("page_reverse")))
	marker := q.Get("marker")
	if reverse {
		items = slices.Clone(items)
		slices.Reverse(items)
	}
	start := 0
	if marker != "" {
		i := slices.IndexFunc(items, func(v view) bool { return v["id"] == marker })
		if i < 0 {
			return nil, nil, notFound("NotFound", "Marker %s could not be found.", marker)
		}
		start = i + 1
	}
	end := len(items)
	if limit > 0 && start+limit < end {
		end = start + limit
	}
	page := slices.Clone(items[start:end])
	more := end < len(items)
	if reverse {
		slices.Reverse(page)
	}
	if limit == 0 {
		return page, nil, nil
	}
	links := []map[string]string{}
	link := func(rel, marker string, rev bool) {
		v := url.Values{}
		for k, vs := range q {
			if k != "marker" && k != "page_reverse" {
				v[k] = vs
			}
		}
		v.Set("marker", marker)
		if rev {
			v.Set("page_reverse", "True")
		}
		links = append(links, map[string]string{"rel": rel, "href": s.cfg.PublicURL + c.Request.URL.Path + "?" + v.Encode()})
	}
	if len(page) > 0 {
		first, last := page[0]["id"].(string), page[len(page)-1]["id"].(string)
		if reverse {
			if more {
				link("previous", first, true)
			}
			link("next", last, false)
		} else {
			if more {
				link("next", last, false)
			}
			if marker != "" {
				link("previous", first, true)
			}
		}
	}
	return page, links, nil
}
