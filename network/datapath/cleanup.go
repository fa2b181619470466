package datapath

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// removeStale removes everything of this owner the State does not list:
// router and DHCP namespaces (with their dnsmasq, metadata listener and
// legs), root-namespace links, and orphaned dnsmasq processes.
func (d *Datapath) removeStale(st State, nets map[string]Network, keepNS map[string]bool) error {
	var errs []error
	for _, id := range d.metadata.running() {
		if !keepNS[DHCPNamespace(id)] {
			d.metadata.stop(id)
		}
	}
	// Namespaces: owned when this owner's state directory has their marker.
	for _, kind := range []string{"dhcp", "router"} {
		entries, _ := os.ReadDir(filepath.Join(d.cfg.StateDir, kind))
		for _, e := range entries {
			id := e.Name()
			if kind == "dhcp" && !keepNS[DHCPNamespace(id)] {
				errs = append(errs, d.removeDHCP(id))
			}
			if kind == "router" && !keepNS[RouterNamespace(id)] {
				errs = append(errs, d.removeRouter(id))
			}
		}
	}
	errs = append(errs, d.killOrphanDnsmasq(keepNS))

	keep := map[string]bool{}
	for _, n := range nets {
		keep[BridgeName(n.ID)] = true
		if n.Type == VXLAN {
			keep[VXLANName(n.VNI)] = true
		}
	}
	for _, s := range st.DHCP {
		keep[dhcpRootName(s.PortID)] = true
	}
	for _, r := range st.Routers {
		for _, ri := range r.Interfaces {
			keep[qrRootName(ri.PortID)] = true
		}
		if r.Gateway != nil {
			keep[qgRootName(r.Gateway.PortID)] = true
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	// Legs and VXLAN devices before bridges.
	for pass := 0; pass < 2; pass++ {
		for _, l := range links {
			a := l.Attrs()
			if keep[a.Name] || !kumoRootLink(a.Name) || a.Alias != d.alias {
				continue
			}
			if (pass == 0) == (l.Type() == "bridge") {
				continue
			}
			if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("remove %s: %w", a.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || strings.Contains(err.Error(), "no such")
}

// killOrphanDnsmasq stops dnsmasq processes running on this owner's
// configuration for networks no longer served, even when their pid file
// is gone.
func (d *Datapath) killOrphanDnsmasq(keepNS map[string]bool) error {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	prefix := []byte("--conf-file=" + filepath.Join(d.cfg.StateDir, "dhcp") + "/")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range bytes.Split(cmdline, []byte{0}) {
			if !bytes.HasPrefix(arg, prefix) {
				continue
			}
			id := filepath.Base(filepath.Dir(string(arg[len("--conf-file="):])))
			if !keepNS[DHCPNamespace(id)] && filepath.Base(string(arg)) == "dnsmasq.conf" {
				d.stopProcess(pid)
			}
		}
	}
	return nil
}
