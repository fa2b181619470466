package neutronapi

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/network/store"
)

// ensurePublic creates the external network and its subnet unless a flat
// network on the physical network exists (idempotent across restarts; two
// servers starting together are kept apart by the flat network's unique
// physical network).
func (s *Service) ensurePublic(ctx context.Context, pub PublicNetwork) error {
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.Lock(ctx, "public"); err != nil {
			return err
		}
		nets, err := store.List[store.Network](ctx, tx, "network_type = ? AND physical_network = ?", store.TypeFlat, pub.PhysicalNetwork)
		if err != nil || len(nets) > 0 {
			return err
		}
		phys := pub.PhysicalNetwork
		n := &store.Network{Meta: store.Meta{ID: uuid.NewString()}, Name: pub.Name, AdminStateUp: true,
			External: true, MTU: s.cfg.ExternalMTU, NetworkType: store.TypeFlat, PhysicalNetwork: &phys,
			PortSecurityEnabled: true, Status: "ACTIVE"}
		if err := tx.Create(ctx, n); err != nil {
			return err
		}
		gw := pub.Gateway
		sn := &store.Subnet{Meta: store.Meta{ID: uuid.NewString()}, NetworkID: n.ID, Name: pub.Name + "-subnet",
			IPVersion: 4, CIDR: pub.CIDR, GatewayIP: &gw, EnableDHCP: false}
		sn.AllocationPools.V = []store.Pool{{Start: pub.PoolStart, End: pub.PoolEnd}}
		sn.DNSNameservers.V, sn.HostRoutes.V = []string{}, []store.HostRoute{}
		if err := tx.Create(ctx, sn); err != nil {
			return err
		}
		s.log.Info("created the external network", "network_id", n.ID, "cidr", pub.CIDR)
		return nil
	})
	if err != nil {
		return fmt.Errorf("create the %s network: %w", pub.Name, err)
	}
	return nil
}
