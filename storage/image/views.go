package image

import (
	"encoding/json"
	"time"

	"github.com/kumo-cloud/kumo/storage/image/store"
)

// Glance's wire shapes: an image is a flat JSON object whose custom
// properties sit beside the base attributes.

const timeFormat = "2006-01-02T15:04:05Z"

func jsonRaw(v any) (json.RawMessage, error) { return json.Marshal(v) }

func glanceTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// view renders an image as Glance does.
func (s *Service) view(img store.Image) map[string]any {
	out := make(map[string]any, 24+len(img.Properties))
	for k, v := range img.Properties {
		out[k] = v
	}
	tags := []string(img.Tags)
	if tags == nil {
		tags = []string{}
	}
	out["id"] = img.ID
	out["name"] = img.Name
	out["status"] = img.Status
	out["visibility"] = img.Visibility
	out["protected"] = img.Protected
	out["os_hidden"] = img.OSHidden
	out["owner"] = img.Owner
	out["disk_format"] = img.DiskFormat
	out["container_format"] = img.ContainerFormat
	out["min_disk"] = img.MinDisk
	out["min_ram"] = img.MinRAM
	out["size"] = img.Size
	out["virtual_size"] = img.VirtualSize
	out["checksum"] = img.Checksum
	out["os_hash_algo"] = img.OSHashAlgo
	out["os_hash_value"] = img.OSHashValue
	out["tags"] = tags
	out["created_at"] = glanceTime(img.CreatedAt)
	out["updated_at"] = glanceTime(img.UpdatedAt)
	out["self"] = "/v2/images/" + img.ID
	out["file"] = "/v2/images/" + img.ID + "/file"
	out["schema"] = "/v2/schemas/image"
	if img.Store != "" {
		out["stores"] = img.Store
	}
	return out
}

// memberView renders a membership as Glance does.
func memberView(m store.Member) map[string]any {
	return map[string]any{
		"image_id":   m.ImageID,
		"member_id":  m.Member,
		"status":     m.Status,
		"created_at": glanceTime(m.CreatedAt),
		"updated_at": glanceTime(m.UpdatedAt),
		"schema":     "/v2/schemas/member",
	}
}
