package test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// TestNetworkIPAMParallel creates 50 ports at once on a subnet with 45
// free addresses: every address goes to exactly one port, and the ports
// that find the pool exhausted get 409 IpAddressGenerationFailure.
func TestNetworkIPAMParallel(t *testing.T) {
	c := sharedCloud(t)
	ctx := context.Background()
	nc := networkClient(t, c.AdminClient(t))
	n := must[*networks.Network](t, "create network")(networks.Create(ctx, nc, networks.CreateOpts{Name: uniq("ipam")}).Extract())
	t.Cleanup(func() { _ = networks.Delete(ctx, nc, n.ID).ExtractErr() })
	// A /26 has 62 usable addresses; the pool holds 45 of them. Without
	// DHCP no DHCP port of the network agent takes one.
	sn := must[*subnets.Subnet](t, "create subnet")(subnets.Create(ctx, nc, subnets.CreateOpts{NetworkID: n.ID,
		CIDR: "10.77.0.0/26", IPVersion: gophercloud.IPv4, EnableDHCP: gophercloud.Disabled,
		AllocationPools: []subnets.AllocationPool{{Start: "10.77.0.10", End: "10.77.0.54"}}}).Extract())

	const workers = 50
	var wg sync.WaitGroup
	got := make([]*ports.Port, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			got[i], errs[i] = ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID}).Extract()
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for i, p := range got {
			if errs[i] == nil {
				_ = ports.Delete(ctx, nc, p.ID).ExtractErr()
			}
		}
	})
	seen := map[string]string{}
	pool := netip.MustParsePrefix("10.77.0.0/26")
	created, exhausted := 0, 0
	for i, err := range errs {
		if err != nil {
			var ue gophercloud.ErrUnexpectedResponseCode
			if errors.As(err, &ue) && ue.Actual == 409 {
				wantNeutron(t, err, 409, "IpAddressGenerationFailure", "port create on an exhausted pool")
				exhausted++
				continue
			}
			t.Fatalf("port %d: %v", i, err)
		}
		created++
		p := got[i]
		if len(p.FixedIPs) != 1 || p.FixedIPs[0].SubnetID != sn.ID {
			t.Fatalf("port %d fixed IPs = %+v", i, p.FixedIPs)
		}
		ip := p.FixedIPs[0].IPAddress
		if other, dup := seen[ip]; dup {
			t.Fatalf("ports %s and %s both got %s", other, p.ID, ip)
		}
		a := netip.MustParseAddr(ip)
		if !pool.Contains(a) || a.Compare(netip.MustParseAddr("10.77.0.10")) < 0 || a.Compare(netip.MustParseAddr("10.77.0.54")) > 0 {
			t.Fatalf("port %s got %s, outside the pool", p.ID, ip)
		}
		seen[ip] = p.ID
	}
	if created != 45 || exhausted != workers-45 {
		t.Fatalf("created %d, exhausted %d; want 45 and %d", created, exhausted, workers-45)
	}
	// Releasing one address makes exactly that one allocatable again.
	// gophercloud's Extract returns an empty port with its error: the
	// victim is a port that was created.
	var victim *ports.Port
	for i, p := range got {
		if errs[i] == nil {
			victim = p
			break
		}
	}
	if err := ports.Delete(ctx, nc, victim.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	again := must[*ports.Port](t, "create after release")(ports.Create(ctx, nc, ports.CreateOpts{NetworkID: n.ID}).Extract())
	t.Cleanup(func() { _ = ports.Delete(ctx, nc, again.ID).ExtractErr() })
	if again.FixedIPs[0].IPAddress != victim.FixedIPs[0].IPAddress {
		t.Errorf("after releasing %s the next port got %s", victim.FixedIPs[0].IPAddress, again.FixedIPs[0].IPAddress)
	}
}
