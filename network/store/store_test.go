package store_test

import (
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/network/store"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// TestRows creates, reads, updates and deletes a row of every model, so
// that the models and the migration agree.
func TestRows(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	meta := func() store.Meta { return store.Meta{ID: uuid.NewString(), ProjectID: "p1"} }
	vni := 7
	n := &store.Network{Meta: meta(), Name: "n", MTU: 1450, NetworkType: store.TypeVXLAN, SegmentationID: &vni, Status: "ACTIVE"}
	gw := "10.0.0.1"
	sn := &store.Subnet{Meta: meta(), NetworkID: n.ID, IPVersion: 4, CIDR: "10.0.0.0/24", GatewayIP: &gw}
	sn.AllocationPools.V = []store.Pool{{Start: "10.0.0.2", End: "10.0.0.254"}}
	p := &store.Port{Meta: meta(), NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", Status: "DOWN", BindingVNICType: "normal"}
	g := &store.SecurityGroup{Meta: meta(), Name: "default", Stateful: true}
	proto := "tcp"
	r := &store.SecurityGroupRule{Meta: meta(), SecurityGroupID: g.ID, Direction: "ingress", Ethertype: "IPv4", Protocol: &proto, RemoteGroupID: &g.ID}
	rt := &store.Router{Meta: meta(), Status: "ACTIVE", EnableSNAT: true}
	fp := &store.Port{Meta: store.Meta{ID: uuid.NewString()}, NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:02", Status: "N/A", BindingVNICType: "normal"}
	f := &store.FloatingIP{Meta: meta(), FloatingNetworkID: n.ID, FloatingPortID: fp.ID, FloatingIPAddress: "10.0.0.9", Status: "DOWN"}
	for _, row := range []store.Row{n, sn, p, g, r, rt, fp, f} {
		if err := s.Create(ctx, row); err != nil {
			t.Fatalf("create %T: %v", row, err)
		}
	}
	got, err := store.Get[store.Subnet](ctx, s, sn.ID, false)
	if err != nil || got.AllocationPools.V[0].End != "10.0.0.254" || *got.GatewayIP != gw {
		t.Fatalf("subnet = %+v, %v", got, err)
	}
	p.Name = "renamed"
	if err := s.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	gp, err := store.Get[store.Port](ctx, s, p.ID, false)
	if err != nil || gp.Name != "renamed" || gp.RevisionNumber != 1 {
		t.Fatalf("port = %+v, %v", gp, err)
	}
	if _, err := store.Get[store.Router](ctx, s, uuid.NewString(), false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing router: %v, want ErrNotFound", err)
	}
	dup := &store.Port{Meta: meta(), NetworkID: n.ID, MACAddress: p.MACAddress, Status: "DOWN", BindingVNICType: "normal"}
	if err := s.Create(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate MAC: %v, want ErrConflict", err)
	}
	// TryCreate leaves the transaction usable after a conflict.
	err = s.Tx(ctx, func(tx *store.Store) error {
		if err := tx.TryCreate(ctx, dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("TryCreate duplicate MAC: %v, want ErrConflict", err)
		}
		dup.MACAddress = "fa:16:3e:00:00:03"
		return tx.TryCreate(ctx, dup)
	})
	if err != nil {
		t.Fatalf("TryCreate after a conflict: %v", err)
	}
	free, err := s.FreeVNI(ctx)
	if err != nil || free != 1 {
		t.Errorf("FreeVNI = %d, %v, want 1", free, err)
	}
	if err := s.Delete(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, g); err != nil {
		t.Fatal(err)
	}
	if n, err := store.Count[store.SecurityGroupRule](ctx, s, "security_group_id = ?", g.ID); err != nil || n != 0 {
		t.Errorf("rules after group delete = %d, %v", n, err)
	}
}

// TestAllocateOnce races allocators for one address: the primary key lets
// exactly one win.
func TestAllocateOnce(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	n := &store.Network{Meta: store.Meta{ID: uuid.NewString(), ProjectID: "p"}, MTU: 1500, NetworkType: store.TypeFlat, Status: "ACTIVE"}
	sn := &store.Subnet{Meta: store.Meta{ID: uuid.NewString(), ProjectID: "p"}, NetworkID: n.ID, IPVersion: 4, CIDR: "10.1.0.0/24"}
	if err := s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, sn); err != nil {
		t.Fatal(err)
	}
	var ports []string
	for i := 0; i < 8; i++ {
		p := &store.Port{Meta: store.Meta{ID: uuid.NewString(), ProjectID: "p"}, NetworkID: n.ID,
			MACAddress: "fa:16:3e:00:01:0" + string(rune('0'+i)), Status: "DOWN", BindingVNICType: "normal"}
		if err := s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		ports = append(ports, p.ID)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ports))
	for i, pid := range ports {
		wg.Go(func() {
			errs[i] = s.Tx(ctx, func(tx *store.Store) error {
				if _, err := tx.LockSubnet(ctx, sn.ID); err != nil {
					return err
				}
				return tx.Allocate(ctx, store.IPAllocation{SubnetID: sn.ID, IPAddress: "10.1.0.5", PortID: pid, NetworkID: n.ID})
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("allocate: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d allocators got 10.1.0.5, want 1", won)
	}
	used, err := s.Allocated(ctx, sn.ID)
	if err != nil || len(used) != 1 || !used["10.1.0.5"] {
		t.Errorf("Allocated = %v, %v", used, err)
	}
}
