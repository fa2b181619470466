package datapath

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// MetadataIP is the link-local address of the metadata service.
var MetadataIP = net.IPv4(169, 254, 169, 254)

func (d *Datapath) dhcpDir(networkID string) string {
	return filepath.Join(d.cfg.StateDir, "dhcp", networkID)
}

// ensureDHCP converges a DHCP namespace, its port, dnsmasq and metadata
// listener.
func (d *Datapath) ensureDHCP(s DHCPServer) error {
	if s.PortID == "" || len(s.MAC) == 0 {
		return errors.New("dhcp server without port or MAC")
	}
	dir := d.dhcpDir(s.NetworkID)
	// The directory is the ownership marker of the namespace: it exists
	// before the namespace does.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	nsName := DHCPNamespace(s.NetworkID)
	h, ns, err := ensureNamespace(nsName)
	if err != nil {
		return err
	}
	defer h.Close()
	defer ns.Close()
	addrs := append([]*net.IPNet(nil), s.IPs...)
	if s.Metadata {
		addrs = append(addrs, &net.IPNet{IP: MetadataIP, Mask: net.CIDRMask(32, 32)})
	}
	br, err := netlink.LinkByName(BridgeName(s.NetworkID))
	if err != nil {
		return err
	}
	if _, err := d.ensureLeg(h, ns, leg{
		root: dhcpRootName(s.PortID), inner: dhcpNSName(s.PortID),
		bridge: br.Attrs().Name, mtu: br.Attrs().MTU, mac: s.MAC, addrs: addrs,
	}); err != nil {
		return err
	}
	if err := d.ensureDnsmasq(s, nsName, dir); err != nil {
		return err
	}
	if s.Metadata {
		return d.metadata.ensure(s.NetworkID, nsName)
	}
	d.metadata.stop(s.NetworkID)
	return nil
}

// dnsmasqConfig renders dnsmasq's configuration: DHCP only (port=0 turns
// DNS off), static ranges only, options per subnet tag.
func (d *Datapath) dnsmasqConfig(s DHCPServer, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# kumo DHCP for network %s; generated, do not edit\n", s.NetworkID)
	b.WriteString("port=0\nno-resolv\nno-hosts\nbind-interfaces\ndhcp-authoritative\nquiet-dhcp\n")
	fmt.Fprintf(&b, "log-facility=%s\n", filepath.Join(dir, "log"))
	fmt.Fprintf(&b, "interface=%s\n", dhcpNSName(s.PortID))
	fmt.Fprintf(&b, "pid-file=%s\n", filepath.Join(dir, "pid"))
	fmt.Fprintf(&b, "dhcp-leasefile=%s\n", filepath.Join(dir, "leases"))
	fmt.Fprintf(&b, "dhcp-hostsfile=%s\n", filepath.Join(dir, "hosts"))
	for i, sn := range s.Subnets {
		if sn.CIDR == nil || sn.CIDR.IP.To4() == nil {
			continue // DHCPv6 is not served
		}
		tag := fmt.Sprintf("subnet%d", i)
		lease := sn.LeaseTime
		if lease <= 0 {
			lease = 24 * time.Hour
		}
		fmt.Fprintf(&b, "dhcp-range=set:%s,%s,static,%s,%ds\n", tag, sn.CIDR.IP.Mask(sn.CIDR.Mask),
			net.IP(sn.CIDR.Mask).String(), int(lease.Seconds()))
		if sn.Gateway != nil {
			fmt.Fprintf(&b, "dhcp-option=tag:%s,option:router,%s\n", tag, sn.Gateway)
		} else {
			fmt.Fprintf(&b, "dhcp-option=tag:%s,option:router\n", tag)
		}
		if len(sn.DNSServers) > 0 {
			fmt.Fprintf(&b, "dhcp-option=tag:%s,option:dns-server,%s\n", tag, joinIPs(sn.DNSServers))
		}
		// Classless routes (option 121) replace the router option in
		// clients, so the default route goes in them too.
		var routes []string
		if own := ownIPIn(s.IPs, sn.CIDR); s.Metadata && own != nil {
			routes = append(routes, "169.254.169.254/32,"+own.String())
		}
		for _, r := range sn.HostRoutes {
			routes = append(routes, r.Destination.String()+","+r.NextHop.String())
		}
		if len(routes) > 0 {
			if sn.Gateway != nil {
				routes = append(routes, "0.0.0.0/0,"+sn.Gateway.String())
			}
			fmt.Fprintf(&b, "dhcp-option=tag:%s,option:classless-static-route,%s\n", tag, strings.Join(routes, ","))
		}
	}
	return b.String()
}

// dnsmasqHosts renders the static hosts file, re-read on SIGHUP.
func dnsmasqHosts(s DHCPServer) string {
	var b strings.Builder
	for _, h := range s.Hosts {
		if h.IP.To4() == nil {
			continue
		}
		fmt.Fprintf(&b, "%s,%s", h.MAC, h.IP)
		if name := hostname(h.Hostname); name != "" {
			fmt.Fprintf(&b, ",%s", name)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// hostname keeps a DHCP hostname to what dnsmasq accepts.
func hostname(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		}
	}
	return strings.Trim(b.String(), "-")
}

func joinIPs(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

func ownIPIn(ips []*net.IPNet, cidr *net.IPNet) net.IP {
	for _, ip := range ips {
		if cidr.Contains(ip.IP) {
			return ip.IP
		}
	}
	return nil
}

// writeIfChanged writes a file when its content differs and reports whether
// it did.
func writeIfChanged(path, content string) (bool, error) {
	cur, err := os.ReadFile(path)
	if err == nil && bytes.Equal(cur, []byte(content)) {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

// ensureDnsmasq writes dnsmasq's files and makes sure exactly one dnsmasq
// runs on them: a changed configuration restarts it, changed hosts only
// send SIGHUP, nothing changed touches nothing.
func (d *Datapath) ensureDnsmasq(s DHCPServer, nsName, dir string) error {
	conf := filepath.Join(dir, "dnsmasq.conf")
	confChanged, err := writeIfChanged(conf, d.dnsmasqConfig(s, dir))
	if err != nil {
		return err
	}
	hostsChanged, err := writeIfChanged(filepath.Join(dir, "hosts"), dnsmasqHosts(s))
	if err != nil {
		return err
	}
	pid := dnsmasqPID(dir)
	if pid > 0 && !inNamespaceOf(pid, nsName) {
		// The namespace was recreated under a running dnsmasq.
		d.stopProcess(pid)
		pid = 0
	}
	switch {
	case pid > 0 && confChanged:
		d.stopProcess(pid)
	case pid > 0 && hostsChanged:
		return syscall.Kill(pid, syscall.SIGHUP)
	case pid > 0:
		return nil
	}
	return d.startDnsmasq(nsName, conf, dir)
}

// startDnsmasq runs dnsmasq in the foreground as a child in its own
// session, reaped by a goroutine (init may not reap daemons here), and
// waits for its pid file. If this process exits, dnsmasq keeps serving and
// the next Datapath finds it through the pid file.
func (d *Datapath) startDnsmasq(nsName, conf, dir string) error {
	_ = os.Remove(filepath.Join(dir, "pid"))
	cmd := exec.Command("ip", "netns", "exec", nsName, d.cfg.Dnsmasq, "--keep-in-foreground", "--conf-file="+conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dnsmasq: %w", err)
	}
	done := make(chan struct{})
	d.children.Store(cmd.Process.Pid, done)
	go func() {
		_ = cmd.Wait()
		d.children.Delete(cmd.Process.Pid)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for dnsmasqPID(dir) != cmd.Process.Pid {
		select {
		case <-done:
			return fmt.Errorf("dnsmasq exited: %s", bytes.TrimSpace(stderr.Bytes()))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stopProcess(cmd.Process.Pid)
			return errors.New("dnsmasq did not write its pid file")
		}
	}
	return nil
}

// dnsmasqPID returns the pid of the running dnsmasq of a state directory,
// 0 if none: the pid file must name a live dnsmasq on this directory's
// configuration.
func dnsmasqPID(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(filepath.Join(dir, "dnsmasq.conf"))) {
		return 0
	}
	return pid
}

// stopProcess terminates a process and waits for it to go: through its
// reaper goroutine when it is our child, by polling otherwise.
func (d *Datapath) stopProcess(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if done, ok := d.children.Load(pid); ok {
		select {
		case <-done.(chan struct{}):
			return
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-done.(chan struct{})
			return
		}
	}
	for i := 0; i < 50; i++ {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// removeDHCP stops a network's DHCP server and removes its namespace and
// files.
func (d *Datapath) removeDHCP(networkID string) error {
	dir := d.dhcpDir(networkID)
	d.metadata.stop(networkID)
	if pid := dnsmasqPID(dir); pid > 0 {
		d.stopProcess(pid)
	}
	err := errors.Join(deleteNamespaceLinks(DHCPNamespace(networkID)), deleteNamespace(DHCPNamespace(networkID)))
	if err == nil {
		err = os.RemoveAll(dir)
	}
	return err
}

// alive reports whether a process exists and is not a zombie waiting for a
// parent (often init) to reap it.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// inNamespaceOf reports whether a process runs in the named namespace.
func inNamespaceOf(pid int, nsName string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &a) != nil ||
		syscall.Stat(filepath.Join(netnsDir, nsName), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
