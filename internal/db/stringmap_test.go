package db

import (
	"reflect"
	"testing"
)

func TestStringMapRoundTrip(t *testing.T) {
	for _, in := range []StringMap{nil, {}, {"a": "1", "b c": "\"x\""}} {
		v, err := in.Value()
		if err != nil {
			t.Fatal(err)
		}
		for _, src := range []any{v, []byte(v.(string))} {
			var out StringMap
			if err := out.Scan(src); err != nil {
				t.Fatal(err)
			}
			want := in
			if want == nil {
				want = StringMap{}
			}
			if !reflect.DeepEqual(out, want) {
				t.Errorf("round trip of %v = %v", in, out)
			}
		}
	}
	var m StringMap
	if err := m.Scan(nil); err != nil || m == nil || len(m) != 0 {
		t.Errorf("NULL scans to %v, %v; want an empty map", m, err)
	}
	if err := m.Scan(42); err == nil {
		t.Errorf("scanning an int must fail")
	}
	if err := m.Scan("[1]"); err == nil {
		t.Errorf("scanning a JSON array must fail")
	}
}
