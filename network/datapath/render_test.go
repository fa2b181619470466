package datapath

import (
	"net"
	"strings"
	"testing"
	"time"
)

func intp(i int) *int { return &i }

func TestRuleMatches(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		want []string
	}{
		{"any egress", Rule{Direction: Egress, EtherType: "IPv4"}, []string{"meta nfproto ipv4"}},
		{"ssh from a CIDR", Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteCIDR: mustCIDR("192.0.2.0/24")},
			[]string{"meta nfproto ipv4 ip saddr 192.0.2.0/24 tcp dport 22"}},
		{"udp range to", Rule{Direction: Egress, EtherType: "IPv4", Protocol: "17", PortMin: 1000, PortMax: 2000},
			[]string{"meta nfproto ipv4 udp dport 1000-2000"}},
		{"echo request", Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "icmp", ICMPType: intp(8), ICMPCode: intp(0)},
			[]string{"meta nfproto ipv4 meta l4proto icmp icmp type 8 icmp code 0"}},
		{"echo reply (type 0)", Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "icmp", ICMPType: intp(0)},
			[]string{"meta nfproto ipv4 meta l4proto icmp icmp type 0"}},
		{"remote group", Rule{Direction: Ingress, EtherType: "IPv4", RemoteGroup: true,
			RemoteIPs: []net.IP{net.ParseIP("10.0.0.6"), net.ParseIP("10.0.0.5"), net.ParseIP("fd00::5")}},
			[]string{"meta nfproto ipv4 ip saddr { 10.0.0.5, 10.0.0.6 }"}},
		{"empty remote group matches nothing", Rule{Direction: Ingress, EtherType: "IPv4", RemoteGroup: true}, nil},
		{"IPv6 CIDR on an IPv4 rule matches nothing", Rule{Direction: Ingress, EtherType: "IPv4", RemoteCIDR: mustCIDR("fd00::/64")}, nil},
		{"icmpv6", Rule{Direction: Ingress, EtherType: "IPv6", Protocol: "ipv6-icmp"}, []string{"meta nfproto ipv6 meta l4proto icmpv6"}},
		{"protocol number", Rule{Direction: Ingress, EtherType: "IPv4", Protocol: "47"}, []string{"meta nfproto ipv4 meta l4proto 47"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ruleMatches(tt.rule)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDnsmasqConfig(t *testing.T) {
	d, err := New(Config{Owner: "unit", StateDir: "/state"})
	if err != nil {
		t.Fatal(err)
	}
	s := DHCPServer{NetworkID: "net-1", PortID: "0123456789abcdef", MAC: mustMAC("fa:16:3e:00:00:02"),
		IPs: []*net.IPNet{mustCIDR("10.0.0.2/24")}, Metadata: true,
		Subnets: []Subnet{{CIDR: mustCIDR("10.0.0.0/24"), Gateway: net.ParseIP("10.0.0.1"), LeaseTime: time.Hour,
			DNSServers: []net.IP{net.ParseIP("192.0.2.53")},
			HostRoutes: []Route{{Destination: mustCIDR("172.16.0.0/16"), NextHop: net.ParseIP("10.0.0.254")}}},
			{CIDR: mustCIDR("fd00::/64")}},
		Hosts: []DHCPHost{{MAC: mustMAC("fa:16:3e:00:00:05"), IP: net.ParseIP("10.0.0.5"), Hostname: "Web_1.example"},
			{MAC: mustMAC("fa:16:3e:00:00:06"), IP: net.ParseIP("fd00::6")}}}
	conf := d.dnsmasqConfig(s, "/state/dhcp/net-1")
	for _, want := range []string{
		"port=0\n", "interface=ns-0123456789a\n",
		"dhcp-range=set:subnet0,10.0.0.0,static,255.255.255.0,3600s\n",
		"dhcp-option=tag:subnet0,option:router,10.0.0.1\n",
		"dhcp-option=tag:subnet0,option:dns-server,192.0.2.53\n",
		"dhcp-option=tag:subnet0,option:classless-static-route,169.254.169.254/32,10.0.0.2,172.16.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1\n",
		"dhcp-hostsfile=/state/dhcp/net-1/hosts\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "fd00") {
		t.Errorf("config serves IPv6:\n%s", conf)
	}
	if hosts := dnsmasqHosts(s); hosts != "fa:16:3e:00:00:05,10.0.0.5,web1example\n" {
		t.Errorf("hosts file %q", hosts)
	}
}

func TestNames(t *testing.T) {
	id := "0aeba07f-7821-430a-82b6-85d403477b93"
	for _, name := range []string{BridgeName(id), VXLANName(1<<24 - 1), TapName(id), dhcpRootName(id), dhcpNSName(id),
		qrRootName(id), qrNSName(id), qgRootName(id), qgNSName(id)} {
		if len(name) > 15 {
			t.Errorf("%s is longer than IFNAMSIZ-1", name)
		}
	}
	if BridgeName(id) != "brq0aeba07f782" {
		t.Errorf("bridge name %s", BridgeName(id))
	}
	if _, err := New(Config{Owner: "Bad-Owner"}); err == nil {
		t.Error("an owner with capitals and dashes was accepted")
	}
}
