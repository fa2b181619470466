package db

import (
	"slices"
	"testing"
)

// TestTextArrayScan checks the fast path against pgtype's own parsing.
func TestTextArrayScan(t *testing.T) {
	for _, in := range [][]string{{}, {"a"}, {"a", "b c"}, {"x,y", `q"uote`, `back\\slash`, "NULLish", ""}, {"{brace}", " lead"}} {
		raw, err := TextArray(in).Value()
		if err != nil {
			t.Fatal(err)
		}
		var got TextArray
		if err := got.Scan(raw); err != nil {
			t.Fatalf("scan %q: %v", raw, err)
		}
		if !slices.Equal(got, in) || got == nil {
			t.Errorf("%q: %q, want %q", raw, got, in)
		}
	}
	var got TextArray
	if err := got.Scan("{a,NULL}"); err == nil {
		t.Errorf("NULL element scanned as %q", got)
	}
	if _, ok := parseTextArray("[1:2]={a,b}"); ok {
		t.Errorf("a dimension decoration took the fast path")
	}
}
