package test

import (
	"strings"
	"testing"
)

// TestKumoNetworkCLI drives the kumo CLI's network verbs against the shared
// cloud: a network with two subnets, a security group with rules, a port
// with a fixed address and the group, a router with the public gateway and
// an interface, a floating IP set on the port and unset, name resolution
// (names wherever ids go, unknown and ambiguous names refused, the
// caller's own object preferred to another project's of the same name),
// and the deletes in reverse.
func TestKumoNetworkCLI(t *testing.T) {
	c := sharedCloud(t)
	k, admin := newKumoCLI(t, c)
	fails := func(want string, args ...string) {
		t.Helper()
		_, stderr, err := k.exec(admin, args...)
		if err == nil || !strings.Contains(string(stderr), want) {
			t.Fatalf("kumo %s: err %v, stderr %q, want an error with %q", strings.Join(args, " "), err, stderr, want)
		}
	}
	// Each output is decoded afresh: decoding into a used map merges.
	object := func(args ...string) (m map[string]any) {
		t.Helper()
		k.json(&m, admin, args...)
		return m
	}
	list := func(args ...string) (rows []map[string]any) {
		t.Helper()
		k.json(&rows, admin, args...)
		return rows
	}

	// The external network, by name.
	obj := object("network", "show", "public")
	publicID, _ := obj["id"].(string)
	if obj["router:external"] != true || obj["provider:network_type"] != "flat" || publicID == "" {
		t.Fatalf("network show public = %v", obj)
	}
	rows := list("network", "list", "--external")
	if !hasRow(rows, map[string]any{"id": publicID, "name": "public", "router:external": true}) {
		t.Fatalf("network list --external = %v", rows)
	}

	// A network; then names: unknown and ambiguous ones are refused.
	netName := uniq("kcli-net")
	obj = object("network", "create", netName)
	netID, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "network", "delete", netID) })
	project, _ := obj["project_id"].(string)
	if obj["name"] != netName || obj["status"] != "ACTIVE" || obj["router:external"] != false || obj["admin_state_up"] != true {
		t.Fatalf("network create = %v", obj)
	}
	rows = list("network", "list", "--name", netName)
	if len(rows) != 1 || rows[0]["id"] != netID {
		t.Fatalf("network list --name = %v", rows)
	}
	dupName := uniq("kcli-dup")
	var dupIDs []string
	for range 2 {
		obj = object("network", "create", dupName)
		id, _ := obj["id"].(string)
		dupIDs = append(dupIDs, id)
		t.Cleanup(func() { k.exec(admin, "network", "delete", id) })
	}
	fails(`2 networks are named "`+dupName+`": use an id`, "network", "show", dupName)
	fails(`2 networks are named "`+dupName+`"`, "subnet", "create", uniq("kcli-s"), "--network", dupName, "--subnet-range", "10.97.0.0/24")
	fails(`no network with a name or id of "`+netName+`-nope"`, "network", "show", netName+"-nope")
	fails(`no router with a name or id of "nope-router"`, "router", "add", "subnet", "nope-router", "nope-subnet")
	k.run(admin, append([]string{"network", "delete"}, dupIDs...)...)

	// A name another project also uses resolves to the caller's own object.
	otherProject := uniq("kcli-proj")
	k.run(admin, "project", "create", otherProject)
	t.Cleanup(func() { k.exec(admin, "project", "delete", otherProject) })
	obj = object("network", "create", dupName, "--project", otherProject)
	otherNet, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "network", "delete", otherNet) })
	if obj["project_id"] == project || obj["project_id"] == "" {
		t.Fatalf("network create --project %s = %v", otherProject, obj)
	}
	obj = object("network", "create", dupName)
	ownNet, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "network", "delete", ownNet) })
	if obj = object("network", "show", dupName); obj["id"] != ownNet {
		t.Fatalf("network show %s = %v, want the admin's own %s", dupName, obj, ownNet)
	}
	k.run(admin, "network", "delete", dupName)
	if obj = object("network", "show", dupName); obj["id"] != otherNet {
		t.Fatalf("network show %s = %v, want the other project's %s", dupName, obj, otherNet)
	}
	k.run(admin, "network", "delete", dupName)
	k.run(admin, "project", "delete", otherProject)
	rows = list("network", "list", "--name", dupName)
	if len(rows) != 0 {
		t.Fatalf("networks %s listed after delete: %v", dupName, rows)
	}

	// Subnets: one with DHCP, DNS servers and a pool; one without DHCP or gateway.
	subName, sub2Name := uniq("kcli-subnet"), uniq("kcli-subnet2")
	obj = object("subnet", "create", subName, "--network", netName, "--subnet-range", "10.98.0.0/24",
		"--gateway", "10.98.0.1", "--dns-nameserver", "192.0.2.53", "--dns-nameserver", "192.0.2.54",
		"--allocation-pool", "start=10.98.0.10,end=10.98.0.50")
	subID, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "subnet", "delete", subID) })
	pools, _ := obj["allocation_pools"].([]any)
	dns, _ := obj["dns_nameservers"].([]any)
	if obj["network_id"] != netID || obj["cidr"] != "10.98.0.0/24" || obj["gateway_ip"] != "10.98.0.1" || obj["enable_dhcp"] != true ||
		len(pools) != 1 || len(dns) != 2 || dns[0] != "192.0.2.53" || dns[1] != "192.0.2.54" {
		t.Fatalf("subnet create = %v", obj)
	}
	if p, _ := pools[0].(map[string]any); p["start"] != "10.98.0.10" || p["end"] != "10.98.0.50" {
		t.Fatalf("subnet allocation_pools = %v", pools)
	}
	obj = object("subnet", "create", sub2Name, "--network", netID, "--subnet-range", "10.98.1.0/24",
		"--gateway", "none", "--no-dhcp")
	sub2ID, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "subnet", "delete", sub2ID) })
	if obj["enable_dhcp"] != false || obj["gateway_ip"] != "" {
		t.Fatalf("subnet create --no-dhcp --gateway none = %v", obj)
	}
	fails("HTTP 400", "subnet", "create", uniq("kcli-overlap"), "--network", netName, "--subnet-range", "10.98.0.128/25")
	fails("--allocation-pool", "subnet", "create", uniq("kcli-badpool"), "--network", netName, "--subnet-range", "10.98.2.0/24",
		"--allocation-pool", "10.98.2.5-10.98.2.9")
	rows = list("subnet", "list", "--network", netName)
	if len(rows) != 2 || !hasRow(rows, map[string]any{"id": subID, "cidr": "10.98.0.0/24"}) || !hasRow(rows, map[string]any{"id": sub2ID, "cidr": "10.98.1.0/24"}) {
		t.Fatalf("subnet list --network = %v", rows)
	}
	obj = object("subnet", "show", subName)
	if obj["id"] != subID {
		t.Fatalf("subnet show = %v", obj)
	}

	// A security group and its rules.
	sgName := uniq("kcli-sg")
	obj = object("security", "group", "create", sgName, "--description", "kumo CLI test")
	sgID, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "security", "group", "delete", sgID) })
	if obj["name"] != sgName || obj["description"] != "kumo CLI test" {
		t.Fatalf("security group create = %v", obj)
	}
	obj = object("security", "group", "rule", "create", sgName, "--protocol", "tcp", "--dst-port", "22",
		"--remote-ip", "203.0.113.0/24", "--ingress")
	sshRule, _ := obj["id"].(string)
	if obj["protocol"] != "tcp" || obj["port_range_min"] != float64(22) || obj["port_range_max"] != float64(22) ||
		obj["direction"] != "ingress" || obj["remote_ip_prefix"] != "203.0.113.0/24" || obj["security_group_id"] != sgID {
		t.Fatalf("security group rule create tcp 22 = %v", obj)
	}
	obj = object("security", "group", "rule", "create", sgID, "--protocol", "udp", "--dst-port", "5000:5010",
		"--remote-ip", "10.0.0.0/8", "--egress")
	udpRule, _ := obj["id"].(string)
	if obj["protocol"] != "udp" || obj["port_range_min"] != float64(5000) || obj["port_range_max"] != float64(5010) || obj["direction"] != "egress" {
		t.Fatalf("security group rule create udp 5000:5010 = %v", obj)
	}
	obj = object("security", "group", "rule", "create", sgName, "--protocol", "icmp", "--remote-ip", "192.0.2.0/24")
	icmpRule, _ := obj["id"].(string)
	if obj["protocol"] != "icmp" || obj["port_range_min"] != nil || obj["direction"] != "ingress" {
		t.Fatalf("security group rule create icmp = %v", obj)
	}
	fails("HTTP 409", "security", "group", "rule", "create", sgName, "--protocol", "tcp", "--dst-port", "22", "--remote-ip", "203.0.113.0/24")
	fails("--dst-port", "security", "group", "rule", "create", sgName, "--protocol", "tcp", "--dst-port", "ssh")
	rows = list("security", "group", "rule", "list", sgName)
	if !hasRow(rows, map[string]any{"id": sshRule, "protocol": "tcp", "port_range": "22", "direction": "ingress"}) ||
		!hasRow(rows, map[string]any{"id": udpRule, "protocol": "udp", "port_range": "5000:5010", "direction": "egress"}) ||
		!hasRow(rows, map[string]any{"id": icmpRule, "protocol": "icmp", "port_range": ""}) {
		t.Fatalf("security group rule list = %v", rows)
	}
	for _, r := range rows {
		if r["security_group_id"] != sgID {
			t.Fatalf("security group rule list %s shows another group's rule: %v", sgName, r)
		}
	}
	k.run(admin, "security", "group", "rule", "delete", udpRule)
	rows = list("security", "group", "rule", "list", sgID)
	if hasRow(rows, map[string]any{"id": udpRule}) {
		t.Fatalf("rule %s listed after delete: %v", udpRule, rows)
	}
	fails(`no security group rule with an id of "`+udpRule+`"`, "security", "group", "rule", "show", udpRule)
	rows = list("security", "group", "list")
	if !hasRow(rows, map[string]any{"id": sgID, "name": sgName}) {
		t.Fatalf("security group list = %v", rows)
	}
	// Every project has a group named default: the admin's own wins.
	obj = object("security", "group", "show", "default")
	if obj["name"] != "default" || obj["project_id"] != project {
		t.Fatalf("security group show default = %v, want project %s's", obj, project)
	}
	obj = object("security", "group", "show", sgName)
	if rules, _ := obj["rules"].([]any); obj["id"] != sgID || len(rules) < 2 {
		t.Fatalf("security group show = %v", obj)
	}

	// A port with a requested address and the group.
	portName := uniq("kcli-port")
	obj = object("port", "create", portName, "--network", netName, "--fixed-ip", "subnet="+subName+",ip-address=10.98.0.20",
		"--security-group", sgName)
	portID, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "port", "delete", portID) })
	ips, _ := obj["fixed_ips"].([]any)
	groups, _ := obj["security_groups"].([]any)
	mac, _ := obj["mac_address"].(string)
	if obj["network_id"] != netID || len(ips) != 1 || len(groups) != 1 || groups[0] != sgID || !strings.HasPrefix(mac, "fa:16:3e:") {
		t.Fatalf("port create = %v", obj)
	}
	if ip, _ := ips[0].(map[string]any); ip["ip_address"] != "10.98.0.20" || ip["subnet_id"] != subID {
		t.Fatalf("port fixed_ips = %v", ips)
	}
	fails("HTTP 409", "port", "create", uniq("kcli-port-dup"), "--network", netID, "--fixed-ip", "ip-address=10.98.0.20")
	rows = list("port", "list", "--network", netName)
	if !hasRow(rows, map[string]any{"id": portID, "name": portName, "mac_address": mac}) {
		t.Fatalf("port list --network = %v", rows)
	}
	if out := string(k.run(admin, "port", "show", portName)); !strings.Contains(out, "ip_address='10.98.0.20', subnet_id='"+subID+"'") {
		t.Fatalf("port show (table) = %s", out)
	}

	// A router with the public gateway and an interface on the subnet.
	routerName := uniq("kcli-router")
	obj = object("router", "create", routerName)
	routerID, _ := obj["id"].(string)
	t.Cleanup(func() { k.exec(admin, "router", "delete", routerID) })
	if obj["name"] != routerName || obj["external_gateway_info"] != nil {
		t.Fatalf("router create = %v", obj)
	}
	k.run(admin, "router", "set", routerName, "--external-gateway", "public")
	obj = object("router", "show", routerID)
	gw, _ := obj["external_gateway_info"].(map[string]any)
	if gw["network_id"] != publicID || gw["enable_snat"] != true {
		t.Fatalf("router show after set --external-gateway = %v", obj)
	}
	if fixed, _ := gw["external_fixed_ips"].([]any); len(fixed) == 0 {
		t.Fatalf("router gateway has no external address: %v", gw)
	}
	if out := string(k.run(admin, "router", "show", routerName)); !strings.Contains(out, `{"network_id":"`+publicID+`","enable_snat":true,`) {
		t.Fatalf("router show (table) = %s", out)
	}
	k.run(admin, "router", "add", "subnet", routerName, subName)
	t.Cleanup(func() { k.exec(admin, "router", "remove", "subnet", routerID, subID) })
	rows = list("port", "list", "--router", routerName)
	if !routerHasAddress(rows, "10.98.0.1") {
		t.Fatalf("port list --router after add subnet = %v", rows)
	}
	rows = list("router", "list", "--name", routerName)
	if len(rows) != 1 || rows[0]["external_network_id"] != publicID {
		t.Fatalf("router list --name = %v", rows)
	}

	// A floating IP from public, set on the port (by address) and unset.
	obj = object("floating", "ip", "create", "public")
	fipID, _ := obj["id"].(string)
	fip, _ := obj["floating_ip_address"].(string)
	t.Cleanup(func() { k.exec(admin, "floating", "ip", "delete", fipID) })
	if obj["floating_network_id"] != publicID || fip == "" || obj["port_id"] != nil {
		t.Fatalf("floating ip create = %v", obj)
	}
	k.run(admin, "floating", "ip", "set", fip, "--port", portName)
	obj = object("floating", "ip", "show", fipID)
	if obj["port_id"] != portID || obj["fixed_ip_address"] != "10.98.0.20" || obj["router_id"] != routerID {
		t.Fatalf("floating ip show after set = %v", obj)
	}
	rows = list("floating", "ip", "list", "--port", portID)
	if len(rows) != 1 || rows[0]["floating_ip_address"] != fip {
		t.Fatalf("floating ip list --port = %v", rows)
	}
	k.run(admin, "floating", "ip", "unset", fipID, "--port")
	obj = object("floating", "ip", "show", fip)
	if obj["id"] != fipID || obj["port_id"] != nil || obj["fixed_ip_address"] != nil {
		t.Fatalf("floating ip show after unset = %v", obj)
	}
	fails("HTTP 409", "network", "delete", netName)

	// Deletes, in reverse.
	k.run(admin, "floating", "ip", "delete", fip)
	fails(`no floating IP with an address or id of "`+fip+`"`, "floating", "ip", "show", fip)
	k.run(admin, "port", "delete", portName)
	k.run(admin, "router", "remove", "subnet", routerName, subName)
	rows = list("port", "list", "--router", routerID)
	if routerHasAddress(rows, "10.98.0.1") {
		t.Fatalf("port list --router after remove subnet = %v", rows)
	}
	k.run(admin, "router", "unset", routerName, "--external-gateway")
	obj = object("router", "show", routerName)
	if obj["external_gateway_info"] != nil {
		t.Fatalf("router show after unset --external-gateway = %v", obj)
	}
	k.run(admin, "router", "delete", routerName)
	k.run(admin, "security", "group", "delete", sgName)
	k.run(admin, "subnet", "delete", subName, sub2ID)
	k.run(admin, "network", "delete", netName)
	fails(`no network with a name or id of "`+netName+`"`, "network", "show", netName)
	for _, noun := range [][]string{{"router", "show", routerID}, {"port", "show", portID}, {"subnet", "show", subID},
		{"security", "group", "show", sgID}} {
		fails("no ", noun...)
	}
}

// routerHasAddress reports whether one of the listed ports has the address.
func routerHasAddress(rows []map[string]any, addr string) bool {
	for _, r := range rows {
		ips, _ := r["fixed_ips"].([]any)
		for _, ip := range ips {
			if m, _ := ip.(map[string]any); m["ip_address"] == addr {
				return true
			}
		}
	}
	return false
}
