package image

import (
	"net/url"
	"slices"
	"testing"

	"github.com/kumo-cloud/kumo/storage/image/store"
)

func TestParseSort(t *testing.T) {
	for _, tc := range []struct {
		query   string
		want    []store.SortKey
		wantErr bool
	}{
		{"", nil, false},
		{"sort=name:asc,size", []store.SortKey{{Key: "name"}, {Key: "size", Desc: true}}, false},
		{"sort_key=name&sort_key=id&sort_dir=asc", []store.SortKey{{Key: "name"}, {Key: "id"}}, false},
		{"sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc", []store.SortKey{{Key: "name"}, {Key: "id", Desc: true}}, false},
		{"sort_dir=asc", []store.SortKey{{Key: "created_at"}}, false},
		{"sort=name&sort_key=id", nil, true},
		{"sort=bogus", nil, true},
		{"sort=name:up", nil, true},
		{"sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc", nil, true},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := parseSort(q)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("parseSort(%q) = %v, %v; want %v, error %v", tc.query, got, err, tc.want, tc.wantErr)
		}
	}
}
