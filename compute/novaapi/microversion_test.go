package novaapi

import (
	"errors"
	"net/http"
	"testing"

	"github.com/kumo-cloud/kumo/api"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    Version
		kind    api.Kind // 0 (internal) means no error expected
	}{
		{"no header is the minimum", nil, MinVersion, 0},
		{"nova header", map[string]string{HeaderNovaVersion: "2.55"}, Version{Major: 2, Minor: 55}, 0},
		{"generic header", map[string]string{HeaderAPIVersion: "compute 2.61"}, Version{Major: 2, Minor: 61}, 0},
		{"generic header wins", map[string]string{HeaderAPIVersion: "compute 2.10", HeaderNovaVersion: "2.20"}, Version{Major: 2, Minor: 10}, 0},
		{"generic header of another service", map[string]string{HeaderAPIVersion: "placement 1.10", HeaderNovaVersion: "2.20"}, Version{Major: 2, Minor: 20}, 0},
		{"several services", map[string]string{HeaderAPIVersion: "placement 1.10, compute 2.3"}, Version{Major: 2, Minor: 3}, 0},
		{"latest", map[string]string{HeaderNovaVersion: "latest"}, MaxVersion, 0},
		{"generic latest", map[string]string{HeaderAPIVersion: "compute latest"}, MaxVersion, 0},
		{"maximum", map[string]string{HeaderNovaVersion: MaxVersion.String()}, MaxVersion, 0},
		{"above maximum", map[string]string{HeaderNovaVersion: "2.1000"}, Version{}, api.KindNotAcceptable},
		{"below minimum", map[string]string{HeaderNovaVersion: "2.0"}, Version{}, api.KindNotAcceptable},
		{"major 3", map[string]string{HeaderNovaVersion: "3.1"}, Version{}, api.KindNotAcceptable},
		{"garbage", map[string]string{HeaderNovaVersion: "two"}, Version{}, api.KindBadRequest},
		{"leading zero", map[string]string{HeaderNovaVersion: "2.01"}, Version{}, api.KindBadRequest},
		{"no minor", map[string]string{HeaderAPIVersion: "compute 2"}, Version{}, api.KindBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			got, err := Negotiate(h)
			if tc.kind != 0 {
				var e *api.Error
				if !errors.As(err, &e) || e.Kind != tc.kind {
					t.Fatalf("Negotiate(%v) = %v, %v; want error kind %v", tc.headers, got, err, tc.kind)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Negotiate(%v) = %v, %v; want %v", tc.headers, got, err, tc.want)
			}
		})
	}
}

func TestVersionAt(t *testing.T) {
	v := Version{Major: 2, Minor: 55}
	if !v.At(55) || !v.At(2) || v.At(56) {
		t.Fatalf("%v.At is wrong", v)
	}
	if (Version{Major: 3, Minor: 0}).Compare(Version{Major: 2, Minor: 96}) <= 0 {
		t.Fatal("3.0 should be after 2.96")
	}
	if MinVersion.String() != "2.1" || MaxVersion.Compare(MinVersion) <= 0 {
		t.Fatalf("range %v..%v", MinVersion, MaxVersion)
	}
}

func TestValidKeyName(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Version
		ok   bool
	}{
		{"my-key_1 x", Version{Major: 2, Minor: 1}, true},
		{"me@host.example", Version{Major: 2, Minor: 91}, false},
		{"me@host.example", Version{Major: 2, Minor: 92}, true},
		{"", Version{Major: 2, Minor: 92}, false},
		{"bad/name", Version{Major: 2, Minor: 92}, false},
	} {
		if err := validKeyName(tc.name, tc.v); (err == nil) != tc.ok {
			t.Errorf("validKeyName(%q, %v) = %v, want ok=%v", tc.name, tc.v, err, tc.ok)
		}
	}
}

func TestValidateExtraSpec(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		{"hw:cpu_policy", "dedicated", true},
		{"hw:cpu_policy", "fast", false},
		{"hw:mem_page_size", "2MB", true},
		{"hw:mem_page_size", "huge", false},
		{"hw:numa_nodes", "0", false},
		{"resources:VCPU", "2", true},
		{"resources:VCPU", "two", false},
		{"resources1:CUSTOM_GPU", "1", true},
		{"trait:HW_CPU_X86_AVX", "required", true},
		{"trait:HW_CPU_X86_AVX", "please", false},
		{"kumo:anything", "whatever", true},
	} {
		if err := validateExtraSpec(tc.key, tc.value); (err == nil) != tc.ok {
			t.Errorf("validateExtraSpec(%q, %q) = %v, want ok=%v", tc.key, tc.value, err, tc.ok)
		}
	}
}
