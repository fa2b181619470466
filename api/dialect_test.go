package api

import (
	"reflect"
	"testing"
)

// TestCinderOverLimit checks Cinder's over-quota fault: 413 overLimit with
// the retryAfter its QuotaError carries; Nova's stays 403 forbidden.
func TestCinderOverLimit(t *testing.T) {
	e := QuotaExceeded("VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'.")
	got := DialectCinder.Body(e)
	want := map[string]any{"overLimit": map[string]any{"code": 413, "retryAfter": "0",
		"message": "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'."}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cinder body %v, want %v", got, want)
	}
	nova := DialectNova.Body(e)
	if f, ok := nova.(map[string]any)["forbidden"].(map[string]any); !ok || f["code"] != 403 || f["retryAfter"] != nil {
		t.Fatalf("nova body %v", nova)
	}
}
