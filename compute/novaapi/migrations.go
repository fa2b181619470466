package novaapi

import (
	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// listMigrations is GET /os-migrations (admin): every migration, newest
// first, filtered by instance_uuid, status, host and migration_type, and
// from 2.80 by user_id and project_id.
func (s *Service) listMigrations(c *gin.Context, v Version) (*api.Response, error) {
	q := c.Request.URL.Query()
	f := store.MigrationFilter{InstanceUUID: q.Get("instance_uuid"), Status: q.Get("status"), Host: q.Get("host")}
	if v.At(23) {
		f.MigrationType = q.Get("migration_type")
	}
	if v.At(80) {
		f.Project = q.Get("project_id")
	}
	ms, err := s.store.ListMigrations(c.Request.Context(), f)
	if err != nil {
		return nil, err
	}
	out := make([]gin.H, 0, len(ms))
	for _, m := range ms {
		if v.At(80) && q.Get("user_id") != "" && m.UserID != q.Get("user_id") {
			continue
		}
		out = append(out, migrationView(m, v))
	}
	return api.OK(gin.H{"migrations": out}), nil
}

// migrationView renders a migration as os-migrations does at v.
func migrationView(m store.Migration, v Version) gin.H {
	updated := m.CreatedAt
	if m.UpdatedAt != nil {
		updated = *m.UpdatedAt
	}
	out := gin.H{
		"id": m.ID, "instance_uuid": m.InstanceUUID, "status": m.Status,
		"source_compute": m.SourceCompute, "dest_compute": m.DestCompute, "source_node": m.SourceNode,
		"dest_node": m.DestNode, "dest_host": m.DestHost,
		"old_instance_type_id": m.OldInstanceTypeID, "new_instance_type_id": m.NewInstanceTypeID,
		"created_at": m.CreatedAt.UTC().Format(novaTime), "updated_at": updated.UTC().Format(novaTime),
	}
	if v.At(23) {
		out["migration_type"] = m.MigrationType
	}
	if v.At(59) {
		out["uuid"] = m.UUID
	}
	if v.At(80) {
		out["user_id"], out["project_id"] = m.UserID, m.ProjectID
	}
	return out
}
