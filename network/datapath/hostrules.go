package datapath

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
)

// Host rules live in two tables per owner, both named kumo_<owner>:
//
//   - bridge kumo_<owner>: stateless per-port anti-spoofing in prerouting
//     (a port may only send from its MAC and IPs plus allowed address pairs,
//     ARP included, and never as a DHCP server); it marks the packet with
//     the source port's index (mark bits 0-15), and in forward, before
//     br_netfilter hands the packet to the inet hooks, with the destination
//     port's index (bits 16-31).
//   - inet kumo_<owner>: the stateful security groups on the forward hook
//     (bridged traffic passes it through br_netfilter; this kernel has no
//     conntrack in the bridge family), per-network conntrack zones so that
//     overlapping CIDRs never share state, and the uplink NAT of host-only
//     flat networks.
//
// Packets between ports pass the source port's egress chain (allowed rules
// return) and the destination port's ingress chain (allowed rules accept,
// default drop).

func (d *Datapath) tableName() string { return "kumo_" + d.cfg.Owner }

// portIndex numbers the secured ports for marks, in State order.
type portMark struct {
	p   Port
	idx int
	dev string
}

func securedPorts(st State, nets map[string]Network) []portMark {
	var out []portMark
	for _, p := range st.Ports {
		if !p.PortSecurity {
			continue
		}
		if _, ok := nets[p.NetworkID]; !ok {
			continue
		}
		out = append(out, portMark{p: p, idx: len(out) + 1, dev: p.device()})
	}
	return out
}

// applyHostRules renders and loads the host tables, or deletes them when
// there is nothing to filter.
func (d *Datapath) applyHostRules(st State, nets map[string]Network) error {
	ports := securedPorts(st, nets)
	name := d.tableName()
	if len(nets) == 0 {
		return errors.Join(d.deleteTable("bridge", "", "bridge", name), d.deleteTable("inet", "", "inet", name))
	}
	if err := d.applyRuleset("bridge", "", bridgeRuleset(name, ports)); err != nil {
		return err
	}
	if err := d.applyRuleset("inet", "", inetRuleset(name, ports, st.Networks, nets)); err != nil {
		return err
	}
	d.flushChangedPorts(ports)
	return nil
}

// flushChangedPorts forgets the connection tracking state of ports whose
// rules changed, so a removed rule also stops flows it had let in.
func (d *Datapath) flushChangedPorts(ports []portMark) {
	seen := map[string]bool{}
	for _, pm := range ports {
		seen[pm.p.ID] = true
		r := fmt.Sprint(pm.p.Rules, pm.p.IPs, pm.p.AddressPairs)
		old, had := d.portRules[pm.p.ID]
		d.portRules[pm.p.ID] = r
		if !had || old == r {
			continue
		}
		for _, ip := range pm.p.IPs {
			deleteConntrack(ip)
		}
	}
	for id := range d.portRules {
		if !seen[id] {
			delete(d.portRules, id)
		}
	}
}

func deleteConntrack(ip net.IP) {
	family := netlink.FAMILY_V4
	if ip.To4() == nil {
		family = netlink.FAMILY_V6
	}
	for _, t := range []netlink.ConntrackFilterType{netlink.ConntrackOrigSrcIP, netlink.ConntrackOrigDstIP} {
		f := &netlink.ConntrackFilter{}
		if err := f.AddIP(t, ip); err == nil {
			_, _ = netlink.ConntrackDeleteFilters(netlink.ConntrackTable, netlink.InetFamily(family), f)
		}
	}
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "{ " + strings.Join(q, ", ") + " }"
}

func bridgeRuleset(table string, ports []portMark) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table bridge %s {\n", table)
	b.WriteString("\tchain prerouting {\n\t\ttype filter hook prerouting priority -200; policy accept;\n")
	for _, pm := range ports {
		fmt.Fprintf(&b, "\t\tiifname %q jump spoof_%d\n", pm.dev, pm.idx)
	}
	b.WriteString("\t}\n\tchain forward {\n\t\ttype filter hook forward priority -100; policy accept;\n")
	for _, pm := range ports {
		fmt.Fprintf(&b, "\t\toifname %q meta mark set meta mark or 0x%x\n", pm.dev, pm.idx<<16)
	}
	b.WriteString("\t}\n")
	for _, pm := range ports {
		p := pm.p
		macs := []string{p.MAC.String()}
		var v4, v6 []string
		for _, ip := range p.IPs {
			if ip.To4() != nil {
				v4 = append(v4, ip.String())
			} else {
				v6 = append(v6, ip.String())
			}
		}
		for _, ap := range p.AddressPairs {
			if ap.MAC != nil {
				macs = append(macs, ap.MAC.String())
			}
			if ap.IP.IP.To4() != nil {
				v4 = append(v4, ap.IP.String())
			} else {
				v6 = append(v6, ap.IP.String())
			}
		}
		v6 = append(v6, "fe80::/10")
		fmt.Fprintf(&b, "\tchain spoof_%d {\n", pm.idx)
		fmt.Fprintf(&b, "\t\tether saddr != { %s } drop\n", strings.Join(uniq(macs), ", "))
		fmt.Fprintf(&b, "\t\tether type arp arp saddr ether != { %s } drop\n", strings.Join(uniq(macs), ", "))
		if len(v4) > 0 {
			// ARP probes come from 0.0.0.0.
			fmt.Fprintf(&b, "\t\tether type arp arp saddr ip != { 0.0.0.0, %s } drop\n", strings.Join(uniq(v4), ", "))
		} else {
			b.WriteString("\t\tether type arp arp saddr ip != 0.0.0.0 drop\n")
		}
		b.WriteString("\t\tether type ip udp sport 67 drop\n")
		b.WriteString("\t\tether type ip6 udp sport 547 drop\n")
		b.WriteString("\t\tether type ip6 icmpv6 type nd-router-advert drop\n")
		b.WriteString("\t\tether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 meta mark set " + fmt.Sprintf("0x%x", pm.idx) + " accept\n")
		if len(v4) > 0 {
			fmt.Fprintf(&b, "\t\tether type ip ip saddr != { %s } drop\n", strings.Join(uniq(v4), ", "))
		} else {
			b.WriteString("\t\tether type ip drop\n")
		}
		fmt.Fprintf(&b, "\t\tether type ip6 ip6 saddr != { ::, %s } drop\n", strings.Join(uniq(v6), ", "))
		b.WriteString("\t\tether type != { ip, ip6, arp } drop\n")
		fmt.Fprintf(&b, "\t\tmeta mark set 0x%x\n", pm.idx)
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func inetRuleset(table string, ports []portMark, order []Network, nets map[string]Network) string {
	var bridges []string
	for _, n := range order {
		if _, ok := nets[n.ID]; ok {
			bridges = append(bridges, BridgeName(n.ID))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", table)
	b.WriteString("\tchain zone {\n\t\ttype filter hook prerouting priority raw; policy accept;\n")
	for _, n := range order {
		if _, ok := nets[n.ID]; !ok || n.HostAddress != nil {
			// The host talks on networks it has an address on; their
			// routed traffic must stay in the host's zone.
			continue
		}
		fmt.Fprintf(&b, "\t\tiifname %q ct zone set %d\n", BridgeName(n.ID), ctZone(n.ID))
	}
	b.WriteString("\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	if len(bridges) > 0 {
		fmt.Fprintf(&b, "\t\tiifname != %s accept\n", quoteList(bridges))
	}
	b.WriteString("\t\tmeta mark == 0 accept\n")
	b.WriteString("\t\tct state established,related accept\n")
	b.WriteString("\t\tct state invalid drop\n")
	for _, pm := range ports {
		fmt.Fprintf(&b, "\t\tmeta mark and 0xffff == 0x%x jump egress_%d\n", pm.idx, pm.idx)
	}
	for _, pm := range ports {
		fmt.Fprintf(&b, "\t\tmeta mark and 0xffff0000 == 0x%x jump ingress_%d\n", pm.idx<<16, pm.idx)
	}
	b.WriteString("\t}\n")
	for _, pm := range ports {
		fmt.Fprintf(&b, "\tchain egress_%d {\n", pm.idx)
		b.WriteString("\t\tudp sport 68 udp dport 67 return\n")
		b.WriteString("\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } return\n")
		for _, r := range pm.p.Rules {
			if r.Direction == Egress {
				for _, m := range ruleMatches(r) {
					b.WriteString("\t\t" + m + " return\n")
				}
			}
		}
		b.WriteString("\t\tdrop\n\t}\n")
		fmt.Fprintf(&b, "\tchain ingress_%d {\n", pm.idx)
		b.WriteString("\t\tudp sport 67 udp dport 68 accept\n")
		b.WriteString("\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept\n")
		for _, r := range pm.p.Rules {
			if r.Direction == Ingress {
				for _, m := range ruleMatches(r) {
					b.WriteString("\t\t" + m + " accept\n")
				}
			}
		}
		b.WriteString("\t\tdrop\n\t}\n")
	}
	var nat []string
	for _, n := range order {
		if _, ok := nets[n.ID]; ok && n.NATUplink && n.HostAddress != nil && n.HostAddress.IP.To4() != nil {
			cidr := &net.IPNet{IP: n.HostAddress.IP.Mask(n.HostAddress.Mask), Mask: n.HostAddress.Mask}
			// Only routed traffic (in from this bridge, out elsewhere):
			// bridged traffic passes postrouting too, via br_netfilter.
			nat = append(nat, fmt.Sprintf("iifname %q oifname != %q ip saddr %s masquerade", BridgeName(n.ID), BridgeName(n.ID), cidr))
		}
	}
	b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	for _, l := range nat {
		b.WriteString("\t\t" + l + "\n")
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// ruleMatches renders one security group rule as nft matches (one line per
// address family it applies to; none when it can match nothing).
func ruleMatches(r Rule) []string {
	fam := "ip"
	nfproto := "ipv4"
	if r.EtherType == "IPv6" {
		fam, nfproto = "ip6", "ipv6"
	}
	addrDir := "saddr"
	if r.Direction == Egress {
		addrDir = "daddr"
	}
	var parts []string
	parts = append(parts, "meta nfproto "+nfproto)
	switch {
	case r.RemoteCIDR != nil:
		if (r.RemoteCIDR.IP.To4() != nil) != (fam == "ip") {
			return nil
		}
		parts = append(parts, fmt.Sprintf("%s %s %s", fam, addrDir, r.RemoteCIDR))
	case r.RemoteGroup || len(r.RemoteIPs) > 0:
		var ips []string
		for _, ip := range r.RemoteIPs {
			if (ip.To4() != nil) == (fam == "ip") {
				ips = append(ips, ip.String())
			}
		}
		if len(ips) == 0 {
			return nil
		}
		sort.Strings(ips)
		parts = append(parts, fmt.Sprintf("%s %s { %s }", fam, addrDir, strings.Join(uniq(ips), ", ")))
	}
	switch proto := strings.ToLower(r.Protocol); proto {
	case "", "any", "0":
	case "tcp", "udp", "sctp", "6", "17", "132":
		name := map[string]string{"6": "tcp", "17": "udp", "132": "sctp"}[proto]
		if name == "" {
			name = proto
		}
		if r.PortMin > 0 || r.PortMax > 0 {
			lo, hi := r.PortMin, r.PortMax
			if lo == 0 {
				lo = 1
			}
			if hi == 0 || hi < lo {
				hi = lo
			}
			if lo == hi {
				parts = append(parts, fmt.Sprintf("%s dport %d", name, lo))
			} else {
				parts = append(parts, fmt.Sprintf("%s dport %d-%d", name, lo, hi))
			}
		} else {
			parts = append(parts, "meta l4proto "+name)
		}
	case "icmp", "1", "icmpv6", "ipv6-icmp", "58":
		name := "icmp"
		if fam == "ip6" {
			name = "icmpv6"
		}
		parts = append(parts, "meta l4proto "+name)
		if r.ICMPType != nil {
			parts = append(parts, fmt.Sprintf("%s type %d", name, *r.ICMPType))
			if r.ICMPCode != nil {
				parts = append(parts, fmt.Sprintf("%s code %d", name, *r.ICMPCode))
			}
		}
	default:
		parts = append(parts, "meta l4proto "+proto)
	}
	return []string{strings.Join(parts, " ")}
}
