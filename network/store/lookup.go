package store

import (
	"context"

	"github.com/kumo-cloud/kumo/internal/db"
)

// PortByAddress returns the port holding ip on a network (the metadata
// proxy's question); ErrNotFound if none does.
func (s *Store) PortByAddress(ctx context.Context, networkID, ip string) (*Port, error) {
	var p Port
	err := s.q(ctx).Where("id = (SELECT port_id FROM ip_allocations WHERE network_id = ? AND ip_address = ? LIMIT 1)", networkID, ip).
		Take(&p).Error
	if err != nil {
		return nil, db.Wrap(err, "port with address "+ip)
	}
	return &p, nil
}
