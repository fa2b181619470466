package test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/attributestags"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/routers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsecurity"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/quotas"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"github.com/nats-io/nats.go"
)

func networkClient(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewNetworkV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// wantNeutron fails unless err is an HTTP status with a NeutronError of
// the given type.
func wantNeutron(t *testing.T, err error, status int, typ, what string) {
	t.Helper()
	wantStatus(t, err, status, what)
	var ue gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &ue) || !strings.Contains(string(ue.Body), `"NeutronError"`) || !strings.Contains(string(ue.Body), `"type":"`+typ+`"`) {
		t.Fatalf("%s: %v, want a NeutronError of type %s", what, err, typ)
	}
}

// testNetwork creates a network with one IPv4 subnet, deleted at the end
// of the test.
func testNetwork(t *testing.T, nc *gophercloud.ServiceClient, cidr string) (*networks.Network, *subnets.Subnet) {
	t.Helper()
	ctx := context.Background()
	n := must[*networks.Network](t, "create network")(networks.Create(ctx, nc, networks.CreateOpts{Name: uniq("net")}).Extract())
	t.Cleanup(func() {
		pager := ports.List(nc, ports.ListOpts{NetworkID: n.ID})
		_ = pager.EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
			ps, _ := ports.ExtractPorts(p)
			for _, port := range ps {
				if port.DeviceOwner == "" || strings.HasPrefix(port.DeviceOwner, "compute:") {
					_ = ports.Delete(ctx, nc, port.ID).ExtractErr()
				}
			}
			return true, nil
		})
		_ = networks.Delete(ctx, nc, n.ID).ExtractErr()
	})
	sn := must[*subnets.Subnet](t, "create subnet")(subnets.Create(ctx, nc, subnets.CreateOpts{
		NetworkID: n.ID, CIDR: cidr, IPVersion: gophercloud.IPv4, Name: uniq("subnet"),
	}).Extract())
	return n, sn
}

func TestNetworkGophercloud(t *testing.T) {
	c := sharedCloud(t)
	ctx := context.Background()
	nc := networkClient(t, c.AdminClient(t))

	t.Run("public network", func(t *testing.T) {
		pages := must[pagination.Page](t, "list")(networks.List(nc, networks.ListOpts{Name: "public"}).AllPages(ctx))
		nets := must[[]networks.Network](t, "extract")(networks.ExtractNetworks(pages))
		if len(nets) != 1 || len(nets[0].Subnets) != 1 {
			t.Fatalf("public networks = %+v, want one with one subnet", nets)
		}
		sn := must[*subnets.Subnet](t, "get subnet")(subnets.Get(ctx, nc, nets[0].Subnets[0]).Extract())
		if sn.CIDR != "172.24.4.0/24" || sn.GatewayIP != "172.24.4.1" || sn.AllocationPools[0].Start != "172.24.4.10" {
			t.Errorf("public subnet = %+v", sn)
		}
		var ext struct {
			External bool   `json:"router:external"`
			Type     string `json:"provider:network_type"`
			MTU      int    `json:"mtu"`
		}
		if err := networks.Get(ctx, nc, nets[0].ID).ExtractIntoStructPtr(&ext, "network"); err != nil {
			t.Fatal(err)
		}
		if !ext.External || ext.Type != "flat" || ext.MTU != 1500 {
			t.Errorf("public = %+v, want external flat with MTU 1500", ext)
		}
	})

	n, sn := testNetwork(t, nc, "10.20.0.0/24")
	t.Run("network and subnet defaults", func(t *testing.T) {
		var got struct {
			Status  string   `json:"status"`
			Subnets []string `json:"subnets"`
			Type    string   `json:"provider:network_type"`
			VNI     *int     `json:"provider:segmentation_id"`
			MTU     int      `json:"mtu"`
		}
		if err := networks.Get(ctx, nc, n.ID).ExtractIntoStructPtr(&got, "network"); err != nil {
			t.Fatal(err)
		}
		if got.Status != "ACTIVE" || got.Type != "vxlan" || got.VNI == nil || *got.VNI < 1 || got.MTU != 1450 {
			t.Errorf("network = %+v", got)
		}
		if len(got.Subnets) != 1 || got.Subnets[0] != sn.ID {
			t.Errorf("subnets = %v, want [%s]", got.Subnets, sn.ID)
		}
		if sn.GatewayIP != "10.20.0.1" || len(sn.AllocationPools) != 1 || sn.AllocationPools[0].Start != "10.20.0.2" ||
			sn.AllocationPools[0].End != "10.20.0.254" || !sn.EnableDHCP {
			t.Errorf("subnet = %+v", sn)
		}
	})

	t.Run("bad subnets", func(t *testing.T) {
		cases := []struct {
			name   string
			opts   subnets.CreateOpts
			status int
		}{
			{"overlap", subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.20.0.128/25", IPVersion: 4}, 400},
			{"invalid cidr", subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.300.0.0/24", IPVersion: 4}, 400},
			{"gateway outside", subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.21.0.0/24", IPVersion: 4, GatewayIP: ptr("10.22.0.1")}, 400},
			{"pool outside", subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.21.0.0/24", IPVersion: 4,
				AllocationPools: []subnets.AllocationPool{{Start: "10.21.0.10", End: "10.21.1.10"}}}, 400},
			{"no network", subnets.CreateOpts{NetworkID: "0d6a0a8c-5a1c-4e0b-9a1e-2c1b3f1f0000", CIDR: "10.21.0.0/24", IPVersion: 4}, 404},
		}
		for _, tc := range cases {
			_, err := subnets.Create(ctx, nc, tc.opts).Extract()
			wantStatus(t, err, tc.status, tc.name)
		}
		_, err := subnets.Create(ctx, nc, cases[0].opts).Extract()
		var ue gophercloud.ErrUnexpectedResponseCode
		if !errors.As(err, &ue) || !strings.Contains(string(ue.Body), "overlaps with another subnet") {
			t.Errorf("overlap error = %v", err)
		}
	})

	t.Run("ports", func(t *testing.T) {
		p := must[*ports.Port](t, "create port")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID, Name: uniq("port")}).Extract())
		if !strings.HasPrefix(p.MACAddress, "fa:16:3e:") || len(p.FixedIPs) != 1 || p.FixedIPs[0].IPAddress != "10.20.0.2" ||
			p.Status != "DOWN" || len(p.SecurityGroups) != 1 {
			t.Errorf("port = %+v", p)
		}
		p2 := must[*ports.Port](t, "create port with ip")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID,
			FixedIPs: []ports.IP{{SubnetID: sn.ID, IPAddress: "10.20.0.50"}}}).Extract())
		if p2.FixedIPs[0].IPAddress != "10.20.0.50" || p2.MACAddress == p.MACAddress {
			t.Errorf("port 2 = %+v", p2)
		}
		_, err := ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{SubnetID: sn.ID, IPAddress: "10.20.0.50"}}}).Extract()
		wantNeutron(t, err, 409, "IpAddressInUse", "address in use")
		_, err = ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID, FixedIPs: []ports.IP{{SubnetID: sn.ID, IPAddress: "10.99.0.5"}}}).Extract()
		wantStatus(t, err, 400, "address outside the subnet")

		// Filters: by fixed IP, by device owner, repeated = any of.
		pages := must[pagination.Page](t, "list")(ports.List(nc, ports.ListOpts{FixedIPs: []ports.FixedIPOpts{{IPAddress: "10.20.0.50"}}}).AllPages(ctx))
		got := must[[]ports.Port](t, "extract")(ports.ExtractPorts(pages))
		if len(got) != 1 || got[0].ID != p2.ID {
			t.Errorf("ports by fixed IP = %v", got)
		}
		// Binding attributes are for admins.
		var b struct {
			Host    string `json:"binding:host_id"`
			VIFType string `json:"binding:vif_type"`
		}
		up := ports.UpdateOpts{}
		if err := ports.Update(ctx, nc, p.ID, updateWith{up, map[string]any{"binding:host_id": "host-1"}}).ExtractIntoStructPtr(&b, "port"); err != nil {
			t.Fatal(err)
		}
		if b.Host != "host-1" || b.VIFType != "bridge" {
			t.Errorf("binding = %+v", b)
		}
		// A deleted port's address is free again.
		if err := ports.Delete(ctx, nc, p2.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		p3 := must[*ports.Port](t, "reuse address")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID,
			FixedIPs: []ports.IP{{IPAddress: "10.20.0.50"}}}).Extract())
		_ = ports.Delete(ctx, nc, p3.ID).ExtractErr()

		err = networks.Delete(ctx, nc, n.ID).ExtractErr()
		wantNeutron(t, err, 409, "NetworkInUse", "delete a network with ports")
		err = subnets.Delete(ctx, nc, sn.ID).ExtractErr()
		wantNeutron(t, err, 409, "SubnetInUse", "delete a subnet with ports")
		_ = ports.Delete(ctx, nc, p.ID).ExtractErr()
	})

	t.Run("port security and address pairs", func(t *testing.T) {
		p := must[*ports.Port](t, "create")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID,
			AllowedAddressPairs: []ports.AddressPair{{IPAddress: "10.20.0.200"}, {IPAddress: "192.0.2.0/24", MACAddress: "fa:16:3e:aa:bb:cc"}}}).Extract())
		defer ports.Delete(ctx, nc, p.ID)
		if len(p.AllowedAddressPairs) != 2 || p.AllowedAddressPairs[0].MACAddress != p.MACAddress || p.AllowedAddressPairs[1].IPAddress != "192.0.2.0/24" {
			t.Errorf("address pairs = %+v", p.AllowedAddressPairs)
		}
		off := false
		_, err := ports.Update(ctx, nc, p.ID, portsecurity.PortUpdateOptsExt{UpdateOptsBuilder: ports.UpdateOpts{}, PortSecurityEnabled: &off}).Extract()
		wantStatus(t, err, 409, "disable port security with groups and pairs")
		none := []string{}
		nopairs := []ports.AddressPair{}
		got := must[*ports.Port](t, "disable")(ports.Update(ctx, nc, p.ID, portsecurity.PortUpdateOptsExt{
			UpdateOptsBuilder: ports.UpdateOpts{SecurityGroups: &none, AllowedAddressPairs: &nopairs}, PortSecurityEnabled: &off}).Extract())
		if len(got.SecurityGroups) != 0 || len(got.AllowedAddressPairs) != 0 {
			t.Errorf("port after disabling security = %+v", got)
		}
		var ps struct {
			Enabled bool `json:"port_security_enabled"`
		}
		if err := ports.Get(ctx, nc, p.ID).ExtractIntoStructPtr(&ps, "port"); err != nil || ps.Enabled {
			t.Errorf("port_security_enabled = %v, %v", ps.Enabled, err)
		}
	})

	t.Run("security groups", func(t *testing.T) {
		g := must[*groups.SecGroup](t, "create group")(groups.Create(ctx, nc, groups.CreateOpts{Name: uniq("sg")}).Extract())
		defer groups.Delete(ctx, nc, g.ID)
		if len(g.Rules) != 2 {
			t.Errorf("new group rules = %+v, want the two egress rules", g.Rules)
		}
		ruleUsage := func() int {
			d := must[*quotas.QuotaDetailSet](t, "quota detail")(quotas.GetDetail(ctx, nc, g.ProjectID).Extract())
			return d.SecurityGroupRule.Used
		}
		before := ruleUsage()
		r := must[*rules.SecGroupRule](t, "create rule")(rules.Create(ctx, nc, rules.CreateOpts{SecGroupID: g.ID,
			Direction: rules.DirIngress, EtherType: rules.EtherType4, Protocol: rules.ProtocolTCP, PortRangeMin: 22, PortRangeMax: 22,
			RemoteIPPrefix: "0.0.0.0/0"}).Extract())
		if r.Protocol != "tcp" || r.PortRangeMin != 22 {
			t.Errorf("rule = %+v", r)
		}
		if got := ruleUsage(); got != before+1 {
			t.Errorf("security_group_rule usage %d after a rule create, want %d", got, before+1)
		}
		_, err := rules.Create(ctx, nc, rules.CreateOpts{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4,
			Protocol: rules.ProtocolTCP, PortRangeMin: 22, PortRangeMax: 22}).Extract()
		wantNeutron(t, err, 409, "SecurityGroupRuleExists", "duplicate rule")
		bad := []rules.CreateOpts{
			{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4, Protocol: "bogus"},
			{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4, Protocol: rules.ProtocolTCP, PortRangeMin: 100, PortRangeMax: 10},
			{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4, Protocol: rules.ProtocolTCP, PortRangeMin: 1, PortRangeMax: 70000},
			{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType6, RemoteIPPrefix: "10.0.0.0/8"},
			{SecGroupID: g.ID, Direction: rules.DirIngress, EtherType: rules.EtherType4, Protocol: rules.ProtocolICMP, PortRangeMin: 300},
		}
		for i, o := range bad {
			_, err := rules.Create(ctx, nc, o).Extract()
			wantStatus(t, err, 400, "bad rule "+string(rune('a'+i)))
		}
		// The project's default group has Neutron's four default rules.
		pages := must[pagination.Page](t, "list")(groups.List(nc, groups.ListOpts{Name: "default"}).AllPages(ctx))
		gs := must[[]groups.SecGroup](t, "extract")(groups.ExtractGroups(pages))
		if len(gs) == 0 || len(gs[0].Rules) < 4 {
			t.Fatalf("default groups = %+v", gs)
		}
		if err := rules.Delete(ctx, nc, r.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if got := ruleUsage(); got != before {
			t.Errorf("security_group_rule usage %d after the rule's delete, want %d", got, before)
		}
	})

	t.Run("routers and floating IPs", func(t *testing.T) {
		pub := must[pagination.Page](t, "list")(networks.List(nc, networks.ListOpts{Name: "public"}).AllPages(ctx))
		pubID := must[[]networks.Network](t, "extract")(networks.ExtractNetworks(pub))[0].ID
		r := must[*routers.Router](t, "create router")(routers.Create(ctx, nc, routers.CreateOpts{Name: uniq("router"),
			GatewayInfo: &routers.GatewayInfo{NetworkID: pubID}}).Extract())
		defer routers.Delete(ctx, nc, r.ID)
		if r.GatewayInfo.NetworkID != pubID || len(r.GatewayInfo.ExternalFixedIPs) != 1 ||
			!strings.HasPrefix(r.GatewayInfo.ExternalFixedIPs[0].IPAddress, "172.24.4.") {
			t.Errorf("gateway = %+v", r.GatewayInfo)
		}
		vm := must[*ports.Port](t, "vm port")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID}).Extract())
		defer ports.Delete(ctx, nc, vm.ID)
		fip := must[*floatingips.FloatingIP](t, "create fip")(floatingips.Create(ctx, nc, floatingips.CreateOpts{FloatingNetworkID: pubID}).Extract())
		defer floatingips.Delete(ctx, nc, fip.ID)
		if !strings.HasPrefix(fip.FloatingIP, "172.24.4.") || fip.Status != "DOWN" {
			t.Errorf("floating IP = %+v", fip)
		}
		_, err := floatingips.Update(ctx, nc, fip.ID, floatingips.UpdateOpts{PortID: &vm.ID}).Extract()
		wantNeutron(t, err, 404, "ExternalGatewayForFloatingIPNotFound", "associate without a router interface")

		iface := must[routers.InterfaceInfo](t, "add interface")(func() (routers.InterfaceInfo, error) {
			i, err := routers.AddInterface(ctx, nc, r.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract()
			if err != nil {
				return routers.InterfaceInfo{}, err
			}
			return *i, nil
		}())
		gw := must[*ports.Port](t, "interface port")(ports.Get(ctx, nc, iface.PortID).Extract())
		if gw.DeviceOwner != "network:router_interface" || gw.FixedIPs[0].IPAddress != "10.20.0.1" {
			t.Errorf("interface port = %+v", gw)
		}
		_, err = routers.AddInterface(ctx, nc, r.ID, routers.AddInterfaceOpts{SubnetID: sn.ID}).Extract()
		wantStatus(t, err, 400, "second interface on the subnet")

		got := must[*floatingips.FloatingIP](t, "associate")(floatingips.Update(ctx, nc, fip.ID, floatingips.UpdateOpts{PortID: &vm.ID}).Extract())
		if got.PortID != vm.ID || got.RouterID != r.ID || got.FixedIP != vm.FixedIPs[0].IPAddress || got.Status != "ACTIVE" {
			t.Errorf("associated floating IP = %+v", got)
		}
		wantStatus(t, routers.Delete(ctx, nc, r.ID).ExtractErr(), 409, "delete a router with interfaces")
		_, err = routers.RemoveInterface(ctx, nc, r.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract()
		wantNeutron(t, err, 409, "RouterInterfaceInUseByFloatingIP", "remove an interface a floating IP needs")
		got = must[*floatingips.FloatingIP](t, "disassociate")(floatingips.Update(ctx, nc, fip.ID, floatingips.UpdateOpts{PortID: new(string)}).Extract())
		if got.PortID != "" || got.RouterID != "" {
			t.Errorf("disassociated floating IP = %+v", got)
		}
		if _, err := routers.RemoveInterface(ctx, nc, r.ID, routers.RemoveInterfaceOpts{SubnetID: sn.ID}).Extract(); err != nil {
			t.Fatal(err)
		}
		_, err = ports.Get(ctx, nc, iface.PortID).Extract()
		wantNeutron(t, err, 404, "PortNotFound", "interface port after removal")
	})

	t.Run("ipv6", func(t *testing.T) {
		n6, _ := testNetwork(t, nc, "10.40.0.0/24")
		sn6 := must[*subnets.Subnet](t, "create ipv6 subnet")(subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: n6.ID,
			CIDR: "fd00:40::/64", IPVersion: gophercloud.IPv6}).Extract())
		if sn6.GatewayIP != "fd00:40::1" || sn6.AllocationPools[0].Start != "fd00:40::2" || sn6.AllocationPools[0].End != "fd00:40::ffff:ffff:ffff:ffff" {
			t.Errorf("ipv6 subnet = %+v", sn6)
		}
		p := must[*ports.Port](t, "dual-stack port")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n6.ID}).Extract())
		defer ports.Delete(ctx, nc, p.ID)
		if len(p.FixedIPs) != 2 {
			t.Errorf("dual-stack port addresses = %+v, want one of each family", p.FixedIPs)
		}
		_, err := subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: n6.ID, CIDR: "fd00:41::/64", IPVersion: gophercloud.IPv4}).Extract()
		wantStatus(t, err, 400, "IPv6 CIDR with ip_version 4")
	})

	t.Run("tags, filters, sorting and pagination", func(t *testing.T) {
		var ids []string
		prefix := uniq("page")
		for i := 0; i < 5; i++ {
			nn := must[*networks.Network](t, "create")(networks.Create(ctx, nc, networks.CreateOpts{Name: prefix + "-" + string(rune('a'+i))}).Extract())
			ids = append(ids, nn.ID)
			defer networks.Delete(ctx, nc, nn.ID)
		}
		tags := must[[]string](t, "replace tags")(attributestags.ReplaceAll(ctx, nc, "networks", ids[0], attributestags.ReplaceAllOpts{Tags: []string{"blue", "red"}}).Extract())
		if len(tags) != 2 {
			t.Errorf("tags = %v", tags)
		}
		if err := attributestags.Add(ctx, nc, "networks", ids[1], "blue").ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if ok, err := attributestags.Confirm(ctx, nc, "networks", ids[1], "blue").Extract(); err != nil || !ok {
			t.Errorf("confirm tag = %v, %v", ok, err)
		}
		pages := must[pagination.Page](t, "by tag")(networks.List(nc, networks.ListOpts{Tags: "blue"}).AllPages(ctx))
		if got := must[[]networks.Network](t, "extract")(networks.ExtractNetworks(pages)); len(got) != 2 {
			t.Errorf("networks tagged blue = %d, want 2", len(got))
		}
		pages = must[pagination.Page](t, "by tags")(networks.List(nc, networks.ListOpts{Tags: "blue,red"}).AllPages(ctx))
		if got := must[[]networks.Network](t, "extract")(networks.ExtractNetworks(pages)); len(got) != 1 || got[0].ID != ids[0] {
			t.Errorf("networks tagged blue and red = %v", got)
		}
		// Pages of two, sorted by name descending.
		var names []string
		pageCount := 0
		err := networks.List(nc, networks.ListOpts{Limit: 2, SortKey: "name", SortDir: "desc"}).EachPage(ctx,
			func(_ context.Context, p pagination.Page) (bool, error) {
				pageCount++
				nets, err := networks.ExtractNetworks(p)
				for _, n := range nets {
					if strings.HasPrefix(n.Name, prefix) {
						names = append(names, n.Name)
					}
				}
				return true, err
			})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{prefix + "-e", prefix + "-d", prefix + "-c", prefix + "-b", prefix + "-a"}
		if strings.Join(names, ",") != strings.Join(want, ",") || pageCount < 3 {
			t.Errorf("paged names = %v over %d pages, want %v", names, pageCount, want)
		}
		// fields= trims the attributes.
		var body struct {
			Networks []map[string]any `json:"networks"`
		}
		resp, err := nc.Get(ctx, nc.ServiceURL("networks")+"?fields=id&fields=name&id="+ids[2]+"&id="+ids[3], &body, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(body.Networks) != 2 || len(body.Networks[0]) != 2 {
			t.Errorf("fields/id filter = %v", body.Networks)
		}
	})

	t.Run("quotas", func(t *testing.T) {
		m := newMember(t, c.Identity(t, c.AdminClient(t)))
		q := must[*quotas.Quota](t, "get")(quotas.Get(ctx, nc, m.Project.ID).Extract())
		if q.Network != 100 || q.Port != 500 || q.Router != 10 || q.FloatingIP != 50 || q.SecurityGroupRule != 100 {
			t.Errorf("default quota = %+v", q)
		}
		q = must[*quotas.Quota](t, "update")(quotas.Update(ctx, nc, m.Project.ID, quotas.UpdateOpts{Network: ptr(1)}).Extract())
		if q.Network != 1 {
			t.Errorf("updated quota = %+v", q)
		}
		mc := networkClient(t, c.Client(t, m.authOpts(c, m.Project.ID)))
		mine := must[*networks.Network](t, "member network")(networks.Create(ctx, mc, networks.CreateOpts{Name: uniq("q")}).Extract())
		defer networks.Delete(ctx, mc, mine.ID)
		_, err := networks.Create(ctx, mc, networks.CreateOpts{Name: uniq("q")}).Extract()
		wantNeutron(t, err, 409, "OverQuota", "second network over quota")
		d := must[*quotas.QuotaDetailSet](t, "detail")(quotas.GetDetail(ctx, nc, m.Project.ID).Extract())
		if d.Network.Used != 1 || d.Network.Limit != 1 {
			t.Errorf("detail = %+v", d.Network)
		}
		if err := quotas.Delete(ctx, nc, m.Project.ID).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		q = must[*quotas.Quota](t, "get after delete")(quotas.Get(ctx, nc, m.Project.ID).Extract())
		if q.Network != 100 {
			t.Errorf("quota after delete = %+v", q)
		}
	})

	t.Run("project isolation", func(t *testing.T) {
		m := newMember(t, c.Identity(t, c.AdminClient(t)))
		mc := networkClient(t, c.Client(t, m.authOpts(c, m.Project.ID)))
		_, err := networks.Get(ctx, mc, n.ID).Extract()
		wantNeutron(t, err, 404, "NetworkNotFound", "another project's network")
		_, err = subnets.Get(ctx, mc, sn.ID).Extract()
		wantNeutron(t, err, 404, "SubnetNotFound", "another project's subnet")
		_, err = ports.Create(ctx, mc, ports.CreateOpts{NetworkID: n.ID}).Extract()
		wantNeutron(t, err, 404, "NetworkNotFound", "port on another project's network")
		shared := must[*networks.Network](t, "shared")(networks.Create(ctx, nc, networks.CreateOpts{Name: uniq("shared"), Shared: ptr(true)}).Extract())
		defer networks.Delete(ctx, nc, shared.ID)
		if _, err := networks.Get(ctx, mc, shared.ID).Extract(); err != nil {
			t.Errorf("shared network: %v", err)
		}
		res := networks.Get(ctx, mc, shared.ID)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		prov, _ := res.Body.(map[string]any)["network"].(map[string]any)
		if _, ok := prov["provider:segmentation_id"]; ok || prov["id"] != shared.ID {
			t.Errorf("a member sees provider attributes: %v", prov)
		}
		_, err = networks.Create(ctx, mc, networks.CreateOpts{Name: uniq("x"), Shared: ptr(true)}).Extract()
		wantStatus(t, err, 403, "member creates a shared network")
		_, err = subnets.Create(ctx, mc, subnets.CreateOpts{NetworkID: shared.ID, CIDR: "10.60.0.0/24", IPVersion: 4}).Extract()
		wantNeutron(t, err, 404, "NetworkNotFound", "subnet on another project's shared network")
		// A member may plug a port into the shared network, and sees it;
		// the owner of the network sees it too.
		ssn := must[*subnets.Subnet](t, "shared subnet")(subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: shared.ID, CIDR: "10.61.0.0/24", IPVersion: 4}).Extract())
		if _, err := subnets.Get(ctx, mc, ssn.ID).Extract(); err != nil {
			t.Errorf("subnet of a shared network: %v", err)
		}
		mp := must[*ports.Port](t, "port on shared network")(ports.Create(ctx, mc, ports.CreateOpts{NetworkID: shared.ID}).Extract())
		defer ports.Delete(ctx, mc, mp.ID)
		if mp.ProjectID != m.Project.ID {
			t.Errorf("port project = %s, want %s", mp.ProjectID, m.Project.ID)
		}
		// Unknown attributes are refused.
		_, err = nc.Post(ctx, nc.ServiceURL("networks"), map[string]any{"network": map[string]any{"name": "x", "colour": "red"}}, nil, nil)
		wantNeutron(t, err, 400, "BadRequest", "unknown network attribute")
	})
}

// updateWith adds raw attributes to a port update.
type updateWith struct {
	ports.UpdateOpts
	extra map[string]any
}

func (u updateWith) ToPortUpdateMap() (map[string]any, error) {
	b, err := u.UpdateOpts.ToPortUpdateMap()
	if err != nil {
		return nil, err
	}
	for k, v := range u.extra {
		b["port"].(map[string]any)[k] = v
	}
	return b, nil
}

// TestNetworkEvents checks that changes are published on
// kumo.events.network.<resource>.<action> for the network agent.
func TestNetworkEvents(t *testing.T) {
	c := sharedCloud(t)
	ctx := context.Background()
	nc := networkClient(t, c.AdminClient(t))
	conn, err := nats.Connect("nats://" + c.k.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	events := make(chan *nats.Msg, 64)
	sub, err := conn.ChanSubscribe("kumo.events.network.>", events)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	n, sn := testNetwork(t, nc, "10.31.0.0/24")
	p := must[*ports.Port](t, "create port")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID}).Extract())
	if err := ports.Delete(ctx, nc, p.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"kumo.events.network.network.create": n.ID, "kumo.events.network.subnet.create": sn.ID,
		"kumo.events.network.port.create": p.ID, "kumo.events.network.port.delete": p.ID,
	}
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-events:
			if id, ok := want[m.Subject]; ok && strings.Contains(string(m.Data), `"resource_id":"`+id+`"`) {
				delete(want, m.Subject)
			}
		case <-timeout:
			t.Fatalf("events not seen: %v", want)
		}
	}
}
