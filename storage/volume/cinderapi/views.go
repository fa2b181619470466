package cinderapi

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// timeFormat is how Cinder shows times: ISO 8601 without a zone.
const timeFormat = "2006-01-02T15:04:05.000000"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func strPtr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func (s *Service) links(project, kind, id string) []gin.H {
	return []gin.H{
		{"rel": "self", "href": fmt.Sprintf("%s%s/v3/%s/%s/%s", s.cfg.PublicURL, Prefix, project, kind, id)},
		{"rel": "bookmark", "href": fmt.Sprintf("%s%s/%s/%s/%s", s.cfg.PublicURL, Prefix, project, kind, id)},
	}
}

// backendHost is os-vol-host-attr:host, Cinder's host@backend#pool.
func (s *Service) backendHost(v store.Volume) string {
	return fmt.Sprintf("%s@%s#%s", v.Host, s.cfg.Backend, s.cfg.Backend)
}

// volumeBrief is a volume in a list without details.
func (s *Service) volumeBrief(v store.Volume) gin.H {
	return gin.H{"id": v.ID, "name": strPtr(v.Name), "links": s.links(v.ProjectID, "volumes", v.ID)}
}

// volumeView is a volume as Cinder shows it at microversion ver; types
// maps type IDs to names, atts holds its attachments.
func (s *Service) volumeView(v store.Volume, ver Version, admin bool, typeName string, atts []store.Attachment) gin.H {
	attached := []gin.H{}
	for _, a := range atts {
		if a.AttachStatus != rpc.AttachAttached {
			continue
		}
		attached = append(attached, gin.H{"id": v.ID, "attachment_id": a.ID, "volume_id": v.ID, "server_id": a.InstanceUUID,
			"host_name": a.AttachedHost, "device": a.Mountpoint, "attached_at": tsPtr(a.AttachTime)})
	}
	out := gin.H{
		"id": v.ID, "name": strPtr(v.Name), "description": strPtr(v.Description), "status": v.Status, "size": v.Size,
		"availability_zone": v.AvailabilityZone, "created_at": ts(v.CreatedAt), "updated_at": ts(v.UpdatedAt),
		"attachments": attached, "links": s.links(v.ProjectID, "volumes", v.ID), "metadata": meta(v.Metadata),
		"bootable": strconv.FormatBool(v.Bootable), "encrypted": false, "multiattach": v.Multiattach,
		"replication_status": nil, "consistencygroup_id": nil, "snapshot_id": strPtr(v.SnapshotID),
		"source_volid": strPtr(v.SourceVolID), "user_id": v.UserID, "volume_type": typeName,
		"os-vol-tenant-attr:tenant_id": v.ProjectID, "backup_id": nil, "migration_status": nil,
	}
	if len(v.ImageMetadata) > 0 {
		out["volume_image_metadata"] = meta(v.ImageMetadata)
	}
	if admin {
		out["os-vol-host-attr:host"] = s.backendHost(v)
		out["os-vol-mig-status-attr:migstat"] = nil
		out["os-vol-mig-status-attr:name_id"] = nil
	}
	if ver.At(13) {
		out["group_id"] = nil
	}
	if ver.At(21) {
		out["provider_id"] = nil
	}
	if ver.At(48) {
		out["service_uuid"] = nil
		out["shared_targets"] = false
	}
	if ver.At(61) && admin {
		out["cluster_name"] = nil
	}
	if ver.At(63) {
		out["volume_type_id"] = v.VolumeTypeID
	}
	if ver.At(65) {
		out["consumes_quota"] = true
	}
	return out
}

func meta(m store.Meta) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// snapshotView is a snapshot as Cinder shows it.
func (s *Service) snapshotView(sn store.Snapshot, ver Version) gin.H {
	progress := "0%"
	if sn.Status == store.SnapshotAvailable {
		progress = "100%"
	}
	out := gin.H{
		"id": sn.ID, "name": strPtr(sn.Name), "description": strPtr(sn.Description), "volume_id": sn.VolumeID,
		"status": sn.Status, "size": sn.Size, "metadata": meta(sn.Metadata), "created_at": ts(sn.CreatedAt),
		"updated_at": ts(sn.UpdatedAt), "os-extended-snapshot-attributes:project_id": sn.ProjectID,
		"os-extended-snapshot-attributes:progress": progress,
	}
	if ver.At(14) {
		out["group_snapshot_id"] = nil
	}
	if ver.At(41) {
		out["user_id"] = sn.UserID
	}
	if ver.At(65) {
		out["consumes_quota"] = true
	}
	return out
}
