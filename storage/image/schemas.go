package image

import (
	"maps"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// Version documents and JSON schemas, modelled on Glance's. glanceclient
// fetches the image schema and validates images against it, so every base
// attribute kumo returns is described here; custom properties are strings.

// apiVersions are the Glance API versions kumo answers to, newest first.
var apiVersions = []struct{ id, status string }{
	{"v2.16", "CURRENT"}, {"v2.15", "SUPPORTED"}, {"v2.14", "SUPPORTED"}, {"v2.13", "SUPPORTED"},
	{"v2.12", "SUPPORTED"}, {"v2.11", "SUPPORTED"}, {"v2.10", "SUPPORTED"}, {"v2.9", "SUPPORTED"},
	{"v2.8", "SUPPORTED"}, {"v2.7", "SUPPORTED"}, {"v2.6", "SUPPORTED"}, {"v2.5", "SUPPORTED"},
	{"v2.4", "SUPPORTED"}, {"v2.3", "SUPPORTED"}, {"v2.2", "SUPPORTED"}, {"v2.1", "SUPPORTED"},
	{"v2.0", "SUPPORTED"},
}

func (s *Service) versionsDoc() gin.H {
	href := s.cfg.PublicURL + Prefix + "/v2/"
	out := make([]gin.H, 0, len(apiVersions))
	for _, v := range apiVersions {
		out = append(out, gin.H{"id": v.id, "status": v.status, "links": []gin.H{{"rel": "self", "href": href}}})
	}
	return gin.H{"versions": out}
}

// versions answers 300 Multiple Choices, as Glance does at its root.
func (s *Service) versions(*gin.Context) (*api.Response, error) {
	return &api.Response{Status: http.StatusMultipleChoices, Body: s.versionsDoc()}, nil
}

func (s *Service) versionsOK(*gin.Context) (*api.Response, error) {
	return api.OK(s.versionsDoc()), nil
}

func (s *Service) schema(doc map[string]any) api.Handler {
	return func(*gin.Context) (*api.Response, error) { return api.OK(doc), nil }
}

func (s *Service) importInfo(*gin.Context) (*api.Response, error) {
	return api.OK(gin.H{"import-methods": gin.H{
		"description": "Import methods available.", "type": "array", "value": []string{"glance-direct"},
	}}), nil
}

func (s *Service) storesInfo(*gin.Context) (*api.Response, error) {
	return api.OK(gin.H{"stores": []gin.H{{"id": s.driver.Name(), "description": "kumo image store", "default": true}}}), nil
}

// usageInfo is Glance's /v2/info/usage: the caller's project's limits and
// usage.
func (s *Service) usageInfo(c *gin.Context) (*api.Response, error) {
	project := api.Claims(c).ProjectID
	if project == "" {
		return nil, api.BadRequest("A project-scoped token is required.")
	}
	usage, err := s.quota.Usage(c.Request.Context(), project)
	if err != nil {
		return nil, api.Internal(err)
	}
	entry := func(r string) gin.H { u := usage[r]; return gin.H{"limit": u.Limit, "usage": u.InUse} }
	return api.OK(gin.H{"usage": gin.H{
		"image_size_total":  entry(ResourceSizeTotal),
		"image_count_total": entry(ResourceImages),
	}}), nil
}

var uuidRegex = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

func nullable(typ, desc string) map[string]any {
	return map[string]any{"type": []any{"null", typ}, "description": desc}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// imageSchema is GET /v2/schemas/image.
var imageSchema = map[string]any{
	"name": "image",
	"properties": map[string]any{
		"id":   with(str("An identifier for the image"), "pattern", uuidRegex),
		"name": with(nullable("string", "Descriptive name for the image"), "maxLength", 255),
		"status": with(str("Status of the image"), "readOnly", true, "enum", []string{"queued", "saving", "active", "killed",
			"deleted", "uploading", "importing", "pending_delete", "deactivated"}),
		"visibility":   with(str("Scope of image accessibility"), "enum", visibilities),
		"protected":    map[string]any{"type": "boolean", "description": "If true, image will not be deletable."},
		"os_hidden":    map[string]any{"type": "boolean", "description": "If true, image will not appear in default image list response."},
		"checksum":     with(nullable("string", "md5 hash of image contents."), "readOnly", true, "maxLength", 32),
		"os_hash_algo": with(nullable("string", "Algorithm to calculate the os_hash_value"), "readOnly", true, "maxLength", 64),
		"os_hash_value": with(nullable("string", "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"),
			"readOnly", true, "maxLength", 128),
		"owner":        with(nullable("string", "Owner of the image"), "maxLength", 255),
		"size":         with(nullable("integer", "Size of image file in bytes"), "readOnly", true),
		"virtual_size": with(nullable("integer", "Virtual size of image in bytes"), "readOnly", true),
		"container_format": with(nullable("string", "Format of the container"),
			"enum", append([]any{nil}, anySlice(containerFormats)...)),
		"disk_format": with(nullable("string", "Format of the disk"), "enum", append([]any{nil}, anySlice(diskFormats)...)),
		"created_at":  with(str("Date and time of image registration"), "readOnly", true),
		"updated_at":  with(str("Date and time of the last image modification"), "readOnly", true),
		"tags": map[string]any{"type": "array", "description": "List of strings related to the image",
			"items": map[string]any{"type": "string", "maxLength": 255}},
		"direct_url": with(str("URL to access the image file kept in external store"), "readOnly", true),
		"min_ram":    map[string]any{"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
		"min_disk":   map[string]any{"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
		"self":       with(str("An image self url"), "readOnly", true),
		"file":       with(str("An image file url"), "readOnly", true),
		"stores":     with(str("Store in which image data resides."), "readOnly", true),
		"schema":     with(str("An image schema url"), "readOnly", true),
		"locations": map[string]any{"type": "array", "description": "A set of URLs to access the image file kept in external store",
			"items": map[string]any{"type": "object", "properties": map[string]any{
				"url": map[string]any{"type": "string", "maxLength": 255}, "metadata": map[string]any{"type": "object"},
				"validation_data": map[string]any{"type": "object"}}, "required": []string{"url", "metadata"}}},
		"kernel_id": with(nullable("string", "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image."),
			"pattern", uuidRegex, "is_base", false),
		"ramdisk_id": with(nullable("string", "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image."),
			"pattern", uuidRegex, "is_base", false),
		"instance_uuid": with(str("Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)"), "is_base", false),
		"architecture":  with(str("Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"), "is_base", false),
		"os_distro":     with(str("Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"), "is_base", false),
		"os_version":    with(str("Operating system version as specified by the distributor."), "is_base", false),
		"description":   with(str("A human-readable string describing this image."), "is_base", false),
	},
	"additionalProperties": map[string]any{"type": "string"},
	"links": []map[string]any{
		{"rel": "self", "href": "{self}"},
		{"rel": "enclosure", "href": "{file}"},
		{"rel": "describedby", "href": "{schema}"},
	},
}

// imagesSchema is GET /v2/schemas/images.
var imagesSchema = map[string]any{
	"name": "images",
	"properties": map[string]any{
		"images": map[string]any{"type": "array", "items": imageSchema},
		"schema": map[string]any{"type": "string"},
		"first":  map[string]any{"type": "string"},
		"next":   map[string]any{"type": "string"},
	},
	"links": []map[string]any{
		{"rel": "first", "href": "{first}"},
		{"rel": "next", "href": "{next}"},
		{"rel": "describedby", "href": "{schema}"},
	},
}

// memberSchema is GET /v2/schemas/member.
var memberSchema = map[string]any{
	"name": "member",
	"properties": map[string]any{
		"created_at": str("Date and time of image member creation"),
		"image_id":   with(str("An identifier for the image"), "pattern", uuidRegex),
		"member_id":  str("An identifier for the image member (tenantId)"),
		"status":     with(str("The status of this image member"), "enum", memberStatuses),
		"updated_at": str("Date and time of last modification of image member"),
		"schema":     map[string]any{"readOnly": true, "type": "string"},
	},
}

// membersSchema is GET /v2/schemas/members.
var membersSchema = map[string]any{
	"name": "members",
	"properties": map[string]any{
		"members": map[string]any{"type": "array", "items": memberSchema},
		"schema":  map[string]any{"type": "string"},
	},
	"links": []map[string]any{{"rel": "schema", "href": "{schema}"}},
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
