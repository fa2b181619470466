package datapath

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func (d *Datapath) routerDir(id string) string { return filepath.Join(d.cfg.StateDir, "router", id) }

// ensureRouter converges a router namespace: legs, forwarding, routes and
// NAT rules.
func (d *Datapath) ensureRouter(r Router, nets map[string]Network) error {
	if r.ID == "" {
		return errors.New("router without ID")
	}
	if err := os.MkdirAll(d.routerDir(r.ID), 0o755); err != nil {
		return err
	}
	nsName := RouterNamespace(r.ID)
	h, ns, err := ensureNamespace(nsName)
	if err != nil {
		return err
	}
	defer h.Close()
	defer ns.Close()
	if err := writeSysctl(nsName, "net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	keep := map[string]bool{"lo": true}
	for _, ri := range r.Interfaces {
		n, ok := nets[ri.NetworkID]
		if !ok {
			return fmt.Errorf("interface %s: network %s is not converged", ri.PortID, ri.NetworkID)
		}
		keep[qrNSName(ri.PortID)] = true
		if _, err := d.ensureLeg(h, ns, leg{root: qrRootName(ri.PortID), inner: qrNSName(ri.PortID),
			bridge: BridgeName(n.ID), mtu: n.mtu(), mac: ri.MAC, addrs: ri.IPs}); err != nil {
			return err
		}
	}
	var routes []Route
	var gwLink netlink.Link
	if g := r.Gateway; g != nil {
		n, ok := nets[g.NetworkID]
		if !ok {
			return fmt.Errorf("gateway: network %s is not converged", g.NetworkID)
		}
		addrs := append([]*net.IPNet(nil), g.IPs...)
		for _, f := range r.FloatingIPs {
			addrs = append(addrs, &net.IPNet{IP: f.FloatingIP, Mask: net.CIDRMask(32, 32)})
		}
		keep[qgNSName(g.PortID)] = true
		if gwLink, err = d.ensureLeg(h, ns, leg{root: qgRootName(g.PortID), inner: qgNSName(g.PortID),
			bridge: BridgeName(n.ID), mtu: n.mtu(), mac: g.MAC, addrs: addrs}); err != nil {
			return err
		}
		if g.NextHop != nil {
			routes = append(routes, Route{Destination: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}, NextHop: g.NextHop})
		}
	}
	routes = append(routes, r.Routes...)
	// Legs of interfaces the router no longer has.
	links, err := h.LinkList()
	if err != nil {
		return err
	}
	for _, l := range links {
		if !keep[l.Attrs().Name] {
			if err := h.LinkDel(l); err != nil {
				return fmt.Errorf("remove %s: %w", l.Attrs().Name, err)
			}
		}
	}
	if err := ensureRoutes(h, routes); err != nil {
		return err
	}
	return d.applyRuleset("router/"+r.ID, nsName, routerRuleset(r, gwLink))
}

// ensureRoutes makes the namespace's IPv4 gatewayed routes exactly want
// (connected routes are the kernel's).
func ensureRoutes(h *netlink.Handle, want []Route) error {
	have, err := h.RouteList(nil, unix.AF_INET)
	if err != nil {
		return err
	}
	key := func(dst *net.IPNet, gw net.IP) string {
		d := "0.0.0.0/0"
		if dst != nil {
			d = dst.String()
		}
		return d + " via " + gw.String()
	}
	wantSet := map[string]Route{}
	for _, r := range want {
		wantSet[key(r.Destination, r.NextHop)] = r
	}
	for _, r := range have {
		if r.Gw == nil {
			continue
		}
		k := key(r.Dst, r.Gw)
		if _, ok := wantSet[k]; ok {
			delete(wantSet, k)
			continue
		}
		r := r
		if err := h.RouteDel(&r); err != nil {
			return fmt.Errorf("remove route %s: %w", k, err)
		}
	}
	for k, r := range wantSet {
		if err := h.RouteReplace(&netlink.Route{Dst: r.Destination, Gw: r.NextHop}); err != nil {
			return fmt.Errorf("route %s: %w", k, err)
		}
	}
	return nil
}

// routerRuleset renders the router's NAT: DNAT and SNAT for floating IPs,
// SNAT of internal subnets to the gateway address.
func routerRuleset(r Router, gw netlink.Link) string {
	var pre, post []string
	if r.Gateway != nil && gw != nil {
		qg := gw.Attrs().Name
		fips := append([]FloatingIP(nil), r.FloatingIPs...)
		sort.Slice(fips, func(i, j int) bool { return fips[i].FloatingIP.String() < fips[j].FloatingIP.String() })
		for _, f := range fips {
			pre = append(pre, fmt.Sprintf("ip daddr %s dnat to %s", f.FloatingIP, f.FixedIP))
			post = append(post, fmt.Sprintf("oifname %q ip saddr %s snat to %s", qg, f.FixedIP, f.FloatingIP))
		}
		var gwIP net.IP
		for _, ip := range r.Gateway.IPs {
			if ip.IP.To4() != nil {
				gwIP = ip.IP
				break
			}
		}
		if r.Gateway.SNAT && gwIP != nil {
			var internal []string
			for _, ri := range r.Interfaces {
				for _, ip := range ri.IPs {
					if ip.IP.To4() != nil {
						internal = append(internal, (&net.IPNet{IP: ip.IP.Mask(ip.Mask), Mask: ip.Mask}).String())
					}
				}
			}
			if len(internal) > 0 {
				post = append(post, fmt.Sprintf("oifname %q ip saddr { %s } snat to %s", qg, strings.Join(internal, ", "), gwIP))
			}
		}
	}
	var b strings.Builder
	b.WriteString("table ip kumo {\n")
	b.WriteString("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	for _, l := range pre {
		b.WriteString("\t\t" + l + "\n")
	}
	b.WriteString("\t}\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n")
	for _, l := range pre {
		b.WriteString("\t\t" + l + "\n")
	}
	b.WriteString("\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	for _, l := range post {
		b.WriteString("\t\t" + l + "\n")
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// removeRouter removes a router's namespace (and with it its legs).
func (d *Datapath) removeRouter(id string) error {
	delete(d.applied, "router/"+id)
	ns := RouterNamespace(id)
	err := errors.Join(deleteNamespaceLinks(ns), deleteNamespace(ns))
	if err == nil {
		err = os.RemoveAll(d.routerDir(id))
	}
	return err
}

// deleteNamespaceLinks deletes every link but lo inside a namespace, so
// that veth pairs are gone synchronously rather than when the kernel gets
// round to destroying the namespace.
func deleteNamespaceLinks(name string) error {
	if !namespaceExists(name) {
		return nil
	}
	h, ns, err := ensureNamespace(name)
	if err != nil {
		return err
	}
	defer h.Close()
	defer ns.Close()
	links, err := h.LinkList()
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			if err := h.LinkDel(l); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
