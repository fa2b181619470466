package neutronapi

import (
	"testing"

	"github.com/kumo-cloud/kumo/network/store"
)

func TestValidateRule(t *testing.T) {
	s := func(v string) *string { return &v }
	i := func(v int) *int { return &v }
	rule := func(eth string, proto *string, min, max *int, prefix *string) *store.SecurityGroupRule {
		return &store.SecurityGroupRule{Direction: "ingress", Ethertype: eth, Protocol: proto, PortRangeMin: min, PortRangeMax: max, RemoteIPPrefix: prefix}
	}
	for _, tc := range []struct {
		name      string
		r         *store.SecurityGroupRule
		ok        bool
		wantProto *string
	}{
		{"any", rule("IPv4", nil, nil, nil, nil), true, nil},
		{"tcp 22", rule("IPv4", s("TCP"), i(22), i(22), nil), true, s("tcp")},
		{"protocol number", rule("IPv4", s("6"), i(80), i(81), nil), true, s("6")},
		{"protocol any", rule("IPv4", s("any"), nil, nil, nil), true, nil},
		{"unknown protocol", rule("IPv4", s("bogus"), nil, nil, nil), false, nil},
		{"protocol 256", rule("IPv4", s("256"), nil, nil, nil), false, nil},
		{"min above max", rule("IPv4", s("udp"), i(10), i(9), nil), false, nil},
		{"port 0", rule("IPv4", s("tcp"), i(0), i(10), nil), false, nil},
		{"port 65536", rule("IPv4", s("tcp"), i(1), i(65536), nil), false, nil},
		{"only min", rule("IPv4", s("tcp"), i(1), nil, nil), false, nil},
		{"ports without protocol", rule("IPv4", nil, i(1), i(2), nil), false, nil},
		{"ports on gre", rule("IPv4", s("gre"), i(1), i(2), nil), false, nil},
		{"icmp echo", rule("IPv4", s("icmp"), i(8), i(0), nil), true, s("icmp")},
		{"icmp type 256", rule("IPv4", s("icmp"), i(256), nil, nil), false, nil},
		{"icmp code without type", rule("IPv4", s("icmp"), nil, i(0), nil), false, nil},
		{"icmpv6 on IPv4", rule("IPv4", s("ipv6-icmp"), nil, nil, nil), false, nil},
		{"prefix of the other family", rule("IPv6", nil, nil, nil, s("10.0.0.0/8")), false, nil},
		{"prefix", rule("IPv4", nil, nil, nil, s("10.1.2.3/8")), true, nil},
		{"bad prefix", rule("IPv4", nil, nil, nil, s("10.0.0.0/33")), false, nil},
		{"bad ethertype", rule("IPv5", nil, nil, nil, nil), false, nil},
	} {
		err := validateRule(tc.r)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if tc.ok && !same(tc.r.Protocol, tc.wantProto) {
			t.Errorf("%s: protocol %v, want %v", tc.name, tc.r.Protocol, tc.wantProto)
		}
	}
	r := rule("IPv4", nil, nil, nil, s("10.1.2.3/8"))
	if err := validateRule(r); err != nil || *r.RemoteIPPrefix != "10.0.0.0/8" {
		t.Errorf("prefix normalised to %v, %v", r.RemoteIPPrefix, err)
	}
	r = rule("IPv4", nil, nil, nil, s("0.0.0.0/0"))
	if err := validateRule(r); err != nil || r.RemoteIPPrefix != nil {
		t.Errorf("0.0.0.0/0 kept as %v, %v", r.RemoteIPPrefix, err)
	}
}
