package cinderapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want int
		bad  bool
	}{
		{`1`, 1, false}, {`"12"`, 12, false}, {`null`, 0, false}, {``, 0, false},
		{`0`, 0, true}, {`-1`, 0, true}, {`"abc"`, 0, true}, {`1.5`, 0, true}, {`"1.5"`, 0, true},
		{`""`, 0, true}, {`true`, 0, true}, {`4294967296`, 0, true},
	} {
		got, err := parseSize(json.RawMessage(tc.raw))
		var ae *api.Error
		switch {
		case tc.bad && (!errors.As(err, &ae) || ae.Kind != api.KindBadRequest):
			t.Errorf("parseSize(%s) = %d, %v; want a bad request", tc.raw, got, err)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("parseSize(%s) = %d, %v; want %d", tc.raw, got, err, tc.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   Version
		kind   api.Kind
	}{
		{"", MinVersion, 0},
		{"volume 3.27", Version{Major: 3, Minor: 27}, 0},
		{"compute 2.5, volume 3.44", Version{Major: 3, Minor: 44}, 0},
		{"volume latest", MaxVersion, 0},
		{"volume 3.71", Version{}, api.KindNotAcceptable},
		{"volume 2.0", Version{}, api.KindNotAcceptable},
		{"volume 3.x", Version{}, api.KindBadRequest},
		{"compute 2.60", MinVersion, 0},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set(HeaderAPIVersion, tc.header)
		}
		got, err := Negotiate(h)
		var ae *api.Error
		switch {
		case tc.kind != 0 && (!errors.As(err, &ae) || ae.Kind != tc.kind):
			t.Errorf("%q: %v, %v; want kind %v", tc.header, got, err, tc.kind)
		case tc.kind == 0 && (err != nil || got != tc.want):
			t.Errorf("%q: %v, %v; want %v", tc.header, got, err, tc.want)
		}
	}
}

func TestVolumeStatusFor(t *testing.T) {
	att := func(s string) store.Attachment { return store.Attachment{AttachStatus: s} }
	for _, tc := range []struct {
		atts    []store.Attachment
		current string
		want    string
	}{
		{nil, store.StatusReserved, store.StatusAvailable},
		{[]store.Attachment{att("reserved")}, store.StatusAvailable, store.StatusReserved},
		{[]store.Attachment{att("attaching"), att("reserved")}, store.StatusReserved, store.StatusAttaching},
		{[]store.Attachment{att("attached"), att("reserved")}, store.StatusInUse, store.StatusInUse},
		{[]store.Attachment{att("attached")}, store.StatusDetaching, store.StatusDetaching},
	} {
		if got, _ := volumeStatusFor(tc.atts, tc.current); got != tc.want {
			t.Errorf("%v from %s: %s, want %s", tc.atts, tc.current, got, tc.want)
		}
	}
}
