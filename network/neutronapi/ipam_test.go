package neutronapi

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestDefaultPools(t *testing.T) {
	addr := func(s string) *netip.Addr { a := netip.MustParseAddr(s); return &a }
	for _, tc := range []struct {
		cidr string
		gw   *netip.Addr
		want string
	}{
		{"10.0.0.0/24", addr("10.0.0.1"), "[10.0.0.2-10.0.0.254]"},
		{"10.0.0.0/24", nil, "[10.0.0.1-10.0.0.254]"},
		{"10.0.0.0/24", addr("10.0.0.100"), "[10.0.0.1-10.0.0.99 10.0.0.101-10.0.0.254]"},
		{"10.0.0.0/24", addr("10.0.0.254"), "[10.0.0.1-10.0.0.253]"},
		{"10.0.0.0/30", addr("10.0.0.1"), "[10.0.0.2-10.0.0.2]"},
		{"10.0.0.0/31", nil, "[]"},
		{"2001:db8::/64", addr("2001:db8::1"), "[2001:db8::2-2001:db8::ffff:ffff:ffff:ffff]"},
	} {
		var got []string
		for _, r := range defaultPools(netip.MustParsePrefix(tc.cidr), tc.gw) {
			got = append(got, r.start.String()+"-"+r.end.String())
		}
		if s := fmt.Sprint(got); s != tc.want {
			t.Errorf("%s gw %v: %s, want %s", tc.cidr, tc.gw, s, tc.want)
		}
	}
}

func TestLastAddr(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.0.0.0/24": "10.0.0.255", "10.1.2.3/16": "10.1.255.255", "2001:db8::/120": "2001:db8::ff", "0.0.0.0/0": "255.255.255.255",
	} {
		if got := lastAddr(netip.MustParsePrefix(cidr)).String(); got != want {
			t.Errorf("lastAddr(%s) = %s, want %s", cidr, got, want)
		}
	}
}
