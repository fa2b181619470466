package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm/clause"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Service is a row of services: the admin state of one Nova service
// (nova-compute on a host, nova-scheduler, nova-conductor). Whether it is
// up comes from the heartbeat bucket, not from here.
type Service struct {
	ID             int `gorm:"primaryKey"`
	UUID           string
	Host           string
	Binary         string `gorm:"column:binary_name"`
	Disabled       bool
	DisabledReason *string
	ForcedDown     bool
	CreatedAt      time.Time
	UpdatedAt      *time.Time
}

// TableName implements gorm's tabler.
func (Service) TableName() string { return "compute_services" }

// EnsureServices creates the rows for (host, binary) pairs that have none
// and returns every service, by ID.
func (s *Store) EnsureServices(ctx context.Context, pairs [][2]string) ([]Service, error) {
	for _, p := range pairs {
		row := Service{UUID: uuid.NewString(), Host: p[0], Binary: p[1], CreatedAt: now()}
		err := s.q(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "host"}, {Name: "binary_name"}}, DoNothing: true}).Create(&row).Error
		if err != nil {
			return nil, db.Wrap(err, "service "+p[0])
		}
	}
	out := []Service{}
	return out, db.Wrap(s.q(ctx).Order("id").Find(&out).Error, "list services")
}

// ComputeHostStates returns the hosts whose nova-compute service is
// disabled, and those an operator forced down.
func (s *Store) ComputeHostStates(ctx context.Context) (disabled, forcedDown map[string]bool, err error) {
	var rows []Service
	err = s.q(ctx).Where("binary_name = 'nova-compute' AND (disabled OR forced_down)").Find(&rows).Error
	disabled, forcedDown = map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		disabled[r.Host] = disabled[r.Host] || r.Disabled
		forcedDown[r.Host] = forcedDown[r.Host] || r.ForcedDown
	}
	return disabled, forcedDown, db.Wrap(err, "compute host states")
}

// GetService returns a service by UUID or, given a number, by ID.
func (s *Store) GetService(ctx context.Context, id string) (Service, error) {
	var sv Service
	q := s.q(ctx)
	if uuidRE.MatchString(id) {
		q = q.Where("uuid = ?", id)
	} else {
		q = q.Where("id::text = ?", id)
	}
	return sv, db.Wrap(q.Take(&sv).Error, "service "+id)
}

// FindService returns the service of binary on host.
func (s *Store) FindService(ctx context.Context, host, binary string) (Service, error) {
	var sv Service
	err := s.q(ctx).Where("host = ? AND binary_name = ?", host, binary).Take(&sv).Error
	return sv, db.Wrap(err, "service "+binary+" on "+host)
}

// UpdateService sets columns of service id.
func (s *Store) UpdateService(ctx context.Context, id int, cols map[string]any) (Service, error) {
	cols["updated_at"] = now()
	if err := db.Affected(s.q(ctx).Model(&Service{}).Where("id = ?", id).Updates(cols), "service"); err != nil {
		return Service{}, err
	}
	var sv Service
	return sv, db.Wrap(s.q(ctx).Where("id = ?", id).Take(&sv).Error, "service")
}
