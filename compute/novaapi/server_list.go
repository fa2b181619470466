package novaapi

import (
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// timeLayouts are the ISO 8601 forms Nova's date-time parameters accept;
// a time without a zone is UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// timeParam reads an ISO 8601 query parameter.
func timeParam(q url.Values, key string) (*time.Time, error) {
	vals, ok := q[key]
	if !ok {
		return nil, nil
	}
	s := vals[len(vals)-1]
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, api.BadRequest("Invalid input for query parameters %s. Value: %s. '%s' is not a 'date-time'", key, s, s)
}

// checkChangesOrder refuses a changes-before earlier than changes-since.
func checkChangesOrder(since, before *time.Time) error {
	if since != nil && before != nil && before.Before(*since) {
		return api.BadRequest("The value of changes-since must be less than or equal to changes-before.")
	}
	return nil
}

// tagList reads a comma-separated tag filter.
func tagList(q url.Values, key string) ([]string, error) {
	s := q.Get(key)
	if s == "" {
		return nil, nil
	}
	tags := strings.Split(s, ",")
	for _, t := range tags {
		if t == "" || len([]rune(t)) > 60 || strings.Contains(t, "/") {
			return nil, api.BadRequest("Invalid input for query parameters %s. Value: %s. Tags must be 1 to 60 characters without '/' or ','", key, s)
		}
	}
	return tags, nil
}

// adminSortKeys are the sort keys only admins may use; Nova ignores them
// for others.
var adminSortKeys = []string{"host", "node"}

// ignoredSortKeys are Nova's valid sort keys for fields kumo does not
// have; they are accepted and have no effect.
var ignoredSortKeys = []string{"access_ip_v4", "access_ip_v6", "auto_disk_config", "kernel_id", "progress",
	"ramdisk_id", "root_device_name"}

// sortParams reads sort_key and sort_dir, which pair up in order.
func sortParams(c *gin.Context, q url.Values) ([]store.SortKey, error) {
	keys, dirs := q["sort_key"], q["sort_dir"]
	for _, d := range dirs {
		if d != "asc" && d != "desc" {
			return nil, api.BadRequest("Invalid input for query parameters sort_dir. Value: %s. '%s' is not one of ['asc', 'desc']", d, d)
		}
	}
	valid := make([]string, 0, len(store.SortKeys)+len(ignoredSortKeys))
	for k := range store.SortKeys {
		valid = append(valid, k)
	}
	valid = append(valid, ignoredSortKeys...)
	sort.Strings(valid)
	var out []store.SortKey
	for i, k := range keys {
		if !slices.Contains(valid, k) {
			return nil, api.BadRequest("Invalid input for query parameters sort_key. Value: %s. '%s' is not one of %s", k, k, compact(valid))
		}
		desc := true
		if i < len(dirs) {
			desc = dirs[i] == "desc"
		}
		if slices.Contains(ignoredSortKeys, k) || slices.Contains(adminSortKeys, k) && !isAdmin(c) {
			continue
		}
		out = append(out, store.SortKey{Key: k, Desc: desc})
	}
	if len(keys) == 0 && len(dirs) > 0 {
		out = append(out, store.SortKey{Key: "created_at", Desc: dirs[0] == "desc"})
	}
	return out, nil
}

// listFilters reads the server list's filters beyond name, status, host
// and the project scope.
func listFilters(c *gin.Context, v Version, q url.Values, f *store.InstanceFilter) error {
	var err error
	if img := q.Get("image"); img != "" {
		f.ImageRef = img[strings.LastIndex(img, "/")+1:]
	}
	if fl := q.Get("flavor"); fl != "" {
		f.FlavorID = fl[strings.LastIndex(fl, "/")+1:]
	}
	f.ReservationID = q.Get("reservation_id")
	if f.ChangesSince, err = timeParam(q, "changes-since"); err != nil {
		return err
	}
	if v.At(66) {
		if f.ChangesBefore, err = timeParam(q, "changes-before"); err != nil {
			return err
		}
		if err := checkChangesOrder(f.ChangesSince, f.ChangesBefore); err != nil {
			return err
		}
	}
	for _, k := range []string{"ip", "ip6"} {
		if re := q.Get(k); re != "" {
			if _, err := regexp.Compile(re); err != nil {
				return api.BadRequest("Invalid filter %s: %s", k, re)
			}
			// Servers have no addresses until networking exists, so an
			// address filter matches nothing.
			f.MatchNone = true
		}
	}
	if v.At(26) {
		for key, dst := range map[string]*[]string{"tags": &f.Tags, "tags-any": &f.TagsAny, "not-tags": &f.NotTags, "not-tags-any": &f.NotTagsAny} {
			if *dst, err = tagList(q, key); err != nil {
				return err
			}
		}
	}
	if l, given := q["locked"]; given && v.At(73) {
		on, ok := parseBool(l[len(l)-1])
		if !ok {
			return api.BadRequest("Invalid input for query parameters locked. Value: %s. Not a boolean", l[len(l)-1])
		}
		f.Locked = &on
	}
	if d, given := q["deleted"]; given && isAdmin(c) {
		on, ok := parseBool(d[len(d)-1])
		if !ok {
			return api.BadRequest("Invalid input for query parameters deleted. Value: %s. Not a boolean", d[len(d)-1])
		}
		f.Deleted = on
	}
	if f.Sort, err = sortParams(c, q); err != nil {
		return err
	}
	return nil
}
