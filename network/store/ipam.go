package store

import (
	"context"

	"gorm.io/gorm/clause"

	"github.com/kumo-cloud/kumo/internal/db"
)

// LockSubnet locks a subnet's row until the transaction ends: every
// allocation from the subnet takes this lock first, so two allocators
// never pick the same free address.
func (s *Store) LockSubnet(ctx context.Context, id string) (*Subnet, error) {
	return Get[Subnet](ctx, s, id, true)
}

// Allocated returns the addresses of a subnet in use.
func (s *Store) Allocated(ctx context.Context, subnetID string) (map[string]bool, error) {
	var ips []string
	err := s.q(ctx).Model(&IPAllocation{}).Where("subnet_id = ?", subnetID).Pluck("ip_address", &ips).Error
	if err != nil {
		return nil, db.Wrap(err, "ip allocations")
	}
	out := make(map[string]bool, len(ips))
	for _, ip := range ips {
		out[ip] = true
	}
	return out, nil
}

// Allocate records that port holds ip on subnet; ErrConflict if the
// address is already held.
func (s *Store) Allocate(ctx context.Context, a IPAllocation) error {
	return db.Wrap(s.q(ctx).Create(&a).Error, "ip address "+a.IPAddress)
}

// Release frees every address a port holds (on subnetID only, if set).
func (s *Store) Release(ctx context.Context, portID, subnetID string) error {
	q := s.q(ctx).Where("port_id = ?", portID)
	if subnetID != "" {
		q = q.Where("subnet_id = ?", subnetID)
	}
	return db.Wrap(q.Delete(&IPAllocation{}).Error, "release addresses of port "+portID)
}

// PortAllocations returns the addresses of the given ports, by port ID,
// in allocation order of their subnets.
func (s *Store) PortAllocations(ctx context.Context, portIDs []string) (map[string][]IPAllocation, error) {
	out := map[string][]IPAllocation{}
	if len(portIDs) == 0 {
		return out, nil
	}
	var rows []IPAllocation
	err := s.q(ctx).Where("port_id IN ?", portIDs).Order(clause.OrderByColumn{Column: clause.Column{Name: "ip_address"}}).Find(&rows).Error
	if err != nil {
		return nil, db.Wrap(err, "ip allocations")
	}
	for _, r := range rows {
		out[r.PortID] = append(out[r.PortID], r)
	}
	return out, nil
}

// SubnetAllocations returns the allocations of a subnet.
func (s *Store) SubnetAllocations(ctx context.Context, subnetID string) ([]IPAllocation, error) {
	var rows []IPAllocation
	err := s.q(ctx).Where("subnet_id = ?", subnetID).Find(&rows).Error
	return rows, db.Wrap(err, "ip allocations")
}

// FreeVNI returns the lowest VXLAN network identifier no network uses.
// Call it inside a transaction holding Lock("vni"), so that two network
// creates cannot pick the same one.
func (s *Store) FreeVNI(ctx context.Context) (int, error) {
	var vni int
	err := s.q(ctx).Raw(`SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM networks WHERE network_type = 'vxlan' AND segmentation_id = 1) THEN 1
		ELSE (SELECT min(n.segmentation_id) + 1 FROM networks n WHERE n.network_type = 'vxlan' AND NOT EXISTS
			(SELECT 1 FROM networks m WHERE m.network_type = 'vxlan' AND m.segmentation_id = n.segmentation_id + 1)) END`).Scan(&vni).Error
	return vni, db.Wrap(err, "free vni")
}
