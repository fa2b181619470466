package store

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/db"
)

// ServerGroup is a row of server_groups, with its members' UUIDs.
type ServerGroup struct {
	UUID      string `gorm:"column:uuid;primaryKey"`
	Name      string
	ProjectID string
	UserID    string
	Policy    string
	// Rules are the policy's rules (max_server_per_host), as strings.
	Rules     Specs `gorm:"type:jsonb"`
	CreatedAt time.Time
	Members   []string `gorm:"-"`
}

// TableName implements gorm's tabler.
func (ServerGroup) TableName() string { return "server_groups" }

// CreateServerGroup inserts a group.
func (s *Store) CreateServerGroup(ctx context.Context, g *ServerGroup) error {
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now()
	}
	if g.Rules == nil {
		g.Rules = Specs{}
	}
	return db.Wrap(s.q(ctx).Create(g).Error, "server group "+g.UUID)
}

// GetServerGroup returns a group with its live members.
func (s *Store) GetServerGroup(ctx context.Context, id string) (ServerGroup, error) {
	var g ServerGroup
	if !uuidRE.MatchString(id) {
		return g, db.Wrap(db.ErrNotFound, "server group "+id)
	}
	if err := s.q(ctx).Where("uuid = ?", id).Take(&g).Error; err != nil {
		return g, db.Wrap(err, "server group "+id)
	}
	gs := []ServerGroup{g}
	err := s.loadMembers(ctx, gs)
	return gs[0], err
}

// ListServerGroups returns the groups of project (every group when
// project is ""), oldest first, with their members: two queries.
func (s *Store) ListServerGroups(ctx context.Context, project string, limit, offset int) ([]ServerGroup, error) {
	q := s.q(ctx)
	if project != "" {
		q = q.Where("project_id = ?", project)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	out := []ServerGroup{}
	if err := q.Offset(offset).Order("created_at, uuid").Find(&out).Error; err != nil {
		return nil, db.Wrap(err, "list server groups")
	}
	return out, s.loadMembers(ctx, out)
}

func (s *Store) loadMembers(ctx context.Context, gs []ServerGroup) error {
	if len(gs) == 0 {
		return nil
	}
	ids := make([]string, len(gs))
	idx := map[string]int{}
	for i, g := range gs {
		ids[i], idx[g.UUID] = g.UUID, i
		gs[i].Members = []string{}
	}
	var rows []struct{ GroupUUID, InstanceUUID string }
	err := s.q(ctx).Raw(`SELECT m.group_uuid, m.instance_uuid FROM server_group_members m
		JOIN instances i ON i.uuid = m.instance_uuid AND NOT i.deleted
		WHERE m.group_uuid IN ? ORDER BY i.created_at`, ids).Scan(&rows).Error
	if err != nil {
		return db.Wrap(err, "server group members")
	}
	for _, r := range rows {
		i := idx[r.GroupUUID]
		gs[i].Members = append(gs[i].Members, r.InstanceUUID)
	}
	return nil
}

// DeleteServerGroup deletes a group; its members stay.
func (s *Store) DeleteServerGroup(ctx context.Context, id string) error {
	return db.Affected(s.q(ctx).Where("uuid = ?", id).Delete(&ServerGroup{}), "server group "+id)
}

// AddServerGroupMember makes instance a member of group inside a
// transaction, locking the group so concurrent additions count right, and
// returns the number of members it now has.
func (s *Store) AddServerGroupMember(ctx context.Context, group, instance string) (int, error) {
	if err := s.q(ctx).Exec(`SELECT 1 FROM server_groups WHERE uuid = ? FOR UPDATE`, group).Error; err != nil {
		return 0, db.Wrap(err, "server group "+group)
	}
	if err := s.q(ctx).Exec(`INSERT INTO server_group_members (group_uuid, instance_uuid) VALUES (?, ?)
		ON CONFLICT DO NOTHING`, group, instance).Error; err != nil {
		return 0, db.Wrap(err, "server group member")
	}
	var n int64
	err := s.q(ctx).Raw(`SELECT count(*) FROM server_group_members m JOIN instances i ON i.uuid = m.instance_uuid
		WHERE m.group_uuid = ? AND NOT i.deleted`, group).Scan(&n).Error
	return int(n), db.Wrap(err, "server group members")
}

// InstanceGroup returns the group instance belongs to and the hosts of
// its other live members (one entry per member with a host).
func (s *Store) InstanceGroup(ctx context.Context, instance string) (ServerGroup, []string, bool, error) {
	var g ServerGroup
	err := s.q(ctx).Raw(`SELECT g.* FROM server_groups g JOIN server_group_members m ON m.group_uuid = g.uuid
		WHERE m.instance_uuid = ? LIMIT 1`, instance).Scan(&g).Error
	if err != nil || g.UUID == "" {
		return g, nil, false, db.Wrap(err, "server group of "+instance)
	}
	hosts := []string{}
	err = s.q(ctx).Raw(`SELECT i.host FROM server_group_members m JOIN instances i ON i.uuid = m.instance_uuid
		WHERE m.group_uuid = ? AND m.instance_uuid <> ? AND NOT i.deleted AND i.host IS NOT NULL`, g.UUID, instance).Scan(&hosts).Error
	return g, hosts, true, db.Wrap(err, "server group hosts")
}

// LockServerGroup takes a PostgreSQL advisory lock on a group, so that
// the members of one group are scheduled one at a time and each sees
// where the others went (two concurrent creates in an anti-affinity group
// must not both pick the same host). The lock is held on a connection of
// its own until unlock is called.
func (s *Store) LockServerGroup(ctx context.Context, group string) (unlock func(), err error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, db.Wrap(err, "server group lock")
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, "server_group:"+group); err != nil {
		_ = conn.Close()
		return nil, db.Wrap(err, "server group lock")
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, "server_group:"+group)
		_ = conn.Close()
	}, nil
}
