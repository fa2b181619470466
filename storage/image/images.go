package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/storage/image/store"
)

// Glance's enumerations and limits.
var (
	diskFormats      = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}
	containerFormats = []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}
	visibilities     = []string{"public", "private", "shared", "community"}
	memberStatuses   = []string{"pending", "accepted", "rejected"}
	uuidPattern      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

const (
	maxTags       = 128
	maxProperties = 128
	maxStringLen  = 255
	defaultLimit  = 25
	maxLimit      = 1000
)

// readOnly attributes are computed by the service; reserved ones belong to
// Glance's database and may never be set.
var (
	readOnly = map[string]bool{"status": true, "checksum": true, "os_hash_algo": true, "os_hash_value": true,
		"size": true, "virtual_size": true, "created_at": true, "updated_at": true, "self": true, "file": true,
		"schema": true, "direct_url": true, "stores": true, "locations": true, "os_glance_import_task": true}
	reserved = map[string]bool{"location": true, "deleted": true, "deleted_at": true}
)

func schemaError(format string, args ...any) error {
	return api.BadRequest("Provided object does not match schema 'image': "+format, args...)
}

// setAttr applies one attribute from a create body or a JSON patch to img.
// creating relaxes what may only be set on a queued image.
func (s *Service) setAttr(c *gin.Context, img *store.Image, key string, raw json.RawMessage, creating bool) error {
	isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	str := func() (*string, error) {
		if isNull {
			return nil, nil
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, schemaError("%s: %s is not of type 'string'", key, raw)
		}
		if len(v) > maxStringLen {
			return nil, schemaError("%s: is too long (maximum %d)", key, maxStringLen)
		}
		return &v, nil
	}
	boolean := func() (bool, error) {
		var v bool
		if isNull || json.Unmarshal(raw, &v) != nil {
			return false, schemaError("%s: %s is not of type 'boolean'", key, raw)
		}
		return v, nil
	}
	integer := func() (int, error) {
		var v int
		if isNull || json.Unmarshal(raw, &v) != nil || v < 0 {
			return 0, schemaError("%s: %s is not a non-negative integer", key, raw)
		}
		return v, nil
	}
	enum := func(values []string) (*string, error) {
		v, err := str()
		if err != nil || v == nil {
			return v, err
		}
		if !slices.Contains(values, *v) {
			return nil, schemaError("%s: '%s' is not one of %v", key, *v, values)
		}
		return v, nil
	}
	switch {
	case reserved[key]:
		return api.Forbidden("Attribute '%s' is reserved.", key)
	case readOnly[key], key == "id" && !creating:
		return api.Forbidden("Attribute '%s' is read-only.", key)
	}
	var err error
	switch key {
	case "id":
		var v *string
		if v, err = str(); err == nil && (v == nil || !uuidPattern.MatchString(*v)) {
			err = schemaError("id: %s does not match the UUID pattern", raw)
		}
		if err == nil {
			img.ID = strings.ToLower(*v)
		}
	case "name":
		img.Name, err = str()
	case "visibility":
		var v *string
		if v, err = enum(visibilities); err == nil && v == nil {
			err = schemaError("visibility: None is not of type 'string'")
		}
		if err == nil {
			if *v == "public" && !api.Allowed(c, "image:publicize_image", nil) {
				return api.Forbidden("You are not authorized to complete publicize_image action.")
			}
			img.Visibility = *v
		}
	case "protected":
		img.Protected, err = boolean()
	case "os_hidden":
		img.OSHidden, err = boolean()
	case "min_disk":
		img.MinDisk, err = integer()
	case "min_ram":
		img.MinRAM, err = integer()
	case "disk_format", "container_format":
		if !creating && img.Status != store.StatusQueued {
			return api.Forbidden("Attribute %s can be only replaced for a queued image.", key)
		}
		values, dst := diskFormats, &img.DiskFormat
		if key == "container_format" {
			values, dst = containerFormats, &img.ContainerFormat
		}
		*dst, err = enum(values)
	case "owner":
		var v *string
		if v, err = str(); err == nil && v == nil {
			err = schemaError("owner: None is not of type 'string'")
		}
		if err == nil && *v != img.Owner {
			if !api.Allowed(c, "image:set_image_owner", nil) {
				return api.Forbidden("Owner can't be updated by non admin.")
			}
			img.Owner = *v
		}
	case "tags":
		var tags []string
		if isNull || json.Unmarshal(raw, &tags) != nil {
			return schemaError("tags: %s is not of type 'array' of strings", raw)
		}
		out := []string{}
		for _, t := range tags {
			if len(t) > maxStringLen {
				return schemaError("tags: '%s' is too long", t)
			}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		if len(out) > maxTags {
			return api.TooLarge("Maximum number of tags exceeded (%d).", maxTags)
		}
		img.Tags = out
	default:
		if key == "" || len(key) > maxStringLen {
			return schemaError("property name '%s' is invalid", key)
		}
		v, err := str()
		if err != nil {
			return err
		}
		if v == nil {
			delete(img.Properties, key)
			return nil
		}
		if img.Properties == nil {
			img.Properties = store.Props{}
		}
		img.Properties[key] = *v
		if len(img.Properties) > maxProperties {
			return api.TooLarge("Maximum number of image properties exceeded (%d).", maxProperties)
		}
	}
	return err
}

func (s *Service) createImage(c *gin.Context) (*api.Response, error) {
	var body map[string]json.RawMessage
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, api.BadRequest("The request body must be a JSON object.")
	}
	claims := api.Claims(c)
	img := store.Image{ID: uuid.NewString(), Owner: claims.ProjectID, Status: store.StatusQueued,
		Visibility: "shared", Properties: store.Props{}, Tags: store.TextArray{}}
	// id first so that errors name the right image; the rest in a stable order.
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := s.setAttr(c, &img, k, body[k], true); err != nil {
			return nil, err
		}
	}
	if img.Owner == "" {
		return nil, api.Forbidden("An image needs an owner: use a project-scoped token.")
	}
	ctx := c.Request.Context()
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateImage(ctx, &img); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, s.quota, img.Owner, map[string]int64{ResourceImages: 1})
	})
	if err != nil {
		return nil, s.storeError(err, img.ID)
	}
	s.publish(ctx, "create", img)
	return api.Created(s.view(img)).WithHeader("OpenStack-image-import-methods", "glance-direct"), nil
}

// storeError maps store and quota errors to Glance's answers.
func (s *Service) storeError(err error, id string) error {
	var over *quota.OverQuotaError
	switch {
	case errors.As(err, &over):
		return &api.Error{Kind: api.KindQuotaExceeded, Message: quotaMessage(over), Err: err}
	case errors.Is(err, store.ErrNotFound):
		return imageNotFound(id)
	case errors.Is(err, store.ErrConflict):
		return api.Conflict("Image with identifier %s already exists!", id)
	}
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return api.Internal(err)
}

func quotaMessage(e *quota.OverQuotaError) string {
	name := strings.TrimPrefix(e.Resource, "image.")
	return fmt.Sprintf("Maximum %s quota exceeded: limit %d, in use %d, requested %d.", name, e.Limit, e.InUse+e.Reserved, e.Requested)
}

func (s *Service) getImage(c *gin.Context) (*api.Response, error) {
	img, err := s.visibleImage(c)
	if err != nil {
		return nil, err
	}
	return api.OK(s.view(img)), nil
}

// listQueryKeys are the query parameters that are not property filters.
var listQueryKeys = map[string]bool{"limit": true, "marker": true, "sort_key": true, "sort_dir": true, "sort": true,
	"name": true, "status": true, "visibility": true, "owner": true, "tag": true, "member_status": true,
	"size_min": true, "size_max": true, "os_hidden": true, "id": true, "disk_format": true, "container_format": true,
	"created_at": true, "updated_at": true, "protected": true}

func (s *Service) listImages(c *gin.Context) (*api.Response, error) {
	q := c.Request.URL.Query()
	claims := api.Claims(c)
	f := store.ListFilter{Admin: s.isAdmin(c), Project: claims.ProjectID, Visibility: q.Get("visibility"),
		MemberStatus: q.Get("member_status"), ID: q.Get("id"), Name: q.Get("name"), Status: q.Get("status"),
		Owner: q.Get("owner"), DiskFormat: q.Get("disk_format"), ContainerFormat: q.Get("container_format"),
		Tags: q["tag"], Properties: map[string]string{}}
	if f.Visibility != "" && f.Visibility != "all" && !slices.Contains(visibilities, f.Visibility) {
		return nil, api.BadRequest("Invalid visibility value: %s", f.Visibility)
	}
	if f.MemberStatus != "" && f.MemberStatus != "all" && !slices.Contains(memberStatuses, f.MemberStatus) {
		return nil, api.BadRequest("Invalid status value: %s", f.MemberStatus)
	}
	for _, p := range []struct {
		key string
		dst **int64
	}{{"size_min", &f.SizeMin}, {"size_max", &f.SizeMax}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, api.BadRequest("Invalid value for %s: %s", p.key, v)
			}
			*p.dst = &n
		}
	}
	if v := q.Get("os_hidden"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, api.BadRequest("Invalid value for os_hidden: %s", v)
		}
		f.Hidden = &b
	}
	for k, vs := range q {
		if !listQueryKeys[k] && len(vs) > 0 {
			f.Properties[k] = vs[0]
		}
	}
	if v := q.Get("protected"); v != "" {
		// protected is a base attribute, filtered after the query.
		if _, err := strconv.ParseBool(v); err != nil {
			return nil, api.BadRequest("Invalid value for protected: %s", v)
		}
	}
	sort, err := parseSort(q)
	if err != nil {
		return nil, err
	}
	f.Sort = sort
	limit := defaultLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			return nil, api.BadRequest("limit param must be a positive integer")
		}
		limit = min(limit, maxLimit)
	}
	images, err := s.store.ListImages(c.Request.Context(), f)
	if err != nil {
		return nil, api.Internal(err)
	}
	if v := q.Get("protected"); v != "" {
		want, _ := strconv.ParseBool(v)
		images = slices.DeleteFunc(images, func(i store.Image) bool { return i.Protected != want })
	}
	if marker := q.Get("marker"); marker != "" {
		i := slices.IndexFunc(images, func(img store.Image) bool { return img.ID == marker })
		if i < 0 {
			return nil, api.BadRequest("Invalid marker. Image %s could not be found.", marker)
		}
		images = images[i+1:]
	}
	more := len(images) > limit
	if more {
		images = images[:limit]
	}
	views := make([]map[string]any, 0, len(images))
	for _, img := range images {
		views = append(views, s.view(img))
	}
	rest := url.Values{}
	for k, vs := range q {
		if k != "marker" {
			rest[k] = vs
		}
	}
	first := "/v2/images"
	if len(rest) > 0 {
		first += "?" + rest.Encode()
	}
	body := gin.H{"images": views, "first": first, "schema": "/v2/schemas/images"}
	if more && len(images) > 0 {
		rest.Set("marker", images[len(images)-1].ID)
		body["next"] = "/v2/images?" + rest.Encode()
	}
	return api.OK(body), nil
}

// parseSort reads Glance's sort=key:dir,... or sort_key/sort_dir pairs.
func parseSort(q url.Values) ([]store.SortKey, error) {
	var out []store.SortKey
	dirOf := func(d string) (bool, error) {
		switch d {
		case "", "desc":
			return true, nil
		case "asc":
			return false, nil
		}
		return false, api.BadRequest("Invalid sort direction: %s", d)
	}
	keyOK := func(k string) error {
		if !store.SortableKeys[k] {
			return api.BadRequest("Invalid sort key: %s. It is not in the list of supported sort keys.", k)
		}
		return nil
	}
	if sort := q.Get("sort"); sort != "" {
		if q.Has("sort_key") || q.Has("sort_dir") {
			return nil, api.BadRequest("The sort param cannot be combined with sort_key or sort_dir.")
		}
		for _, part := range strings.Split(sort, ",") {
			k, d, _ := strings.Cut(strings.TrimSpace(part), ":")
			if err := keyOK(k); err != nil {
				return nil, err
			}
			desc, err := dirOf(d)
			if err != nil {
				return nil, err
			}
			out = append(out, store.SortKey{Key: k, Desc: desc})
		}
		return out, nil
	}
	keys, dirs := q["sort_key"], q["sort_dir"]
	if len(dirs) > 1 && len(dirs) != len(keys) {
		return nil, api.BadRequest("Number of sort dirs does not match the number of sort keys")
	}
	if len(keys) == 0 && len(dirs) == 1 {
		keys = []string{"created_at"}
	}
	for i, k := range keys {
		if err := keyOK(k); err != nil {
			return nil, err
		}
		d := ""
		if len(dirs) == 1 {
			d = dirs[0]
		} else if len(dirs) > 1 {
			d = dirs[i]
		}
		desc, err := dirOf(d)
		if err != nil {
			return nil, err
		}
		out = append(out, store.SortKey{Key: k, Desc: desc})
	}
	return out, nil
}

// patchOp is one operation of a JSON patch.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// patchMediaTypes are the JSON patch dialects Glance accepts.
var patchMediaTypes = []string{"application/openstack-images-v2.1-json-patch", "application/openstack-images-v2.0-json-patch"}

func (s *Service) updateImage(c *gin.Context) (*api.Response, error) {
	ct, _, _ := strings.Cut(c.GetHeader("Content-Type"), ";")
	if !slices.Contains(patchMediaTypes, strings.TrimSpace(strings.ToLower(ct))) {
		return nil, &api.Error{Kind: api.KindUnsupportedMediaType,
			Message: fmt.Sprintf("Unsupported Content-Type %q: use one of %v.", ct, patchMediaTypes)}
	}
	var ops []patchOp
	if err := api.BindJSON(c, &ops); err != nil {
		return nil, err
	}
	id := c.Param("image_id")
	ctx := c.Request.Context()
	var img store.Image
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if img, err = tx.LockImage(ctx, id); err != nil {
			return err
		}
		for _, op := range ops {
			if err := s.applyPatch(c, &img, op); err != nil {
				return err
			}
		}
		// Members of an image made non-shared are kept but ignored, as
		// Glance does: the visibility rules only consult them for shared.
		return tx.SaveImage(ctx, &img)
	})
	if err != nil {
		return nil, s.storeError(err, id)
	}
	s.publish(ctx, "update", img)
	return api.OK(s.view(img)), nil
}

// applyPatch applies one JSON patch operation.
func (s *Service) applyPatch(c *gin.Context, img *store.Image, op patchOp) error {
	if !strings.HasPrefix(op.Path, "/") || strings.Count(op.Path, "/") != 1 {
		return api.BadRequest("Invalid JSON pointer for this resource: '%s'", op.Path)
	}
	key := strings.NewReplacer("~1", "/", "~0", "~").Replace(op.Path[1:])
	base := isBase(key)
	switch op.Op {
	case "add", "replace":
		if op.Value == nil {
			return api.BadRequest("Operation objects must contain exactly one member named \"value\".")
		}
		if !base && !reserved[key] && !readOnly[key] {
			_, exists := img.Properties[key]
			if op.Op == "replace" && !exists {
				return api.Conflict("Property %s does not exist.", key)
			}
		}
		return s.setAttr(c, img, key, op.Value, false)
	case "remove":
		if reserved[key] {
			return api.Forbidden("Attribute '%s' is reserved.", key)
		}
		if readOnly[key] || key == "id" {
			return api.Forbidden("Attribute '%s' is read-only.", key)
		}
		if base {
			return api.Forbidden("Properties %s cannot be removed: it is a base attribute.", key)
		}
		if _, ok := img.Properties[key]; !ok {
			return api.Conflict("Property %s does not exist.", key)
		}
		delete(img.Properties, key)
		return nil
	}
	return api.BadRequest("Invalid operation: `%s`: it must be one of add, replace, remove.", op.Op)
}

func isBase(key string) bool {
	switch key {
	case "id", "name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "disk_format",
		"container_format", "owner", "tags":
		return true
	}
	return false
}

func (s *Service) deleteImage(c *gin.Context) (*api.Response, error) {
	id := c.Param("image_id")
	ctx := c.Request.Context()
	var img store.Image
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if img, err = tx.LockImage(ctx, id); err != nil {
			return err
		}
		if img.Protected {
			return api.Forbidden("Image %s is protected and cannot be deleted.", id)
		}
		if err := tx.DeleteImage(ctx, id); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, s.quota, img.Owner, map[string]int64{ResourceImages: -1, ResourceSizeTotal: -img.ChargedSize})
	})
	if err != nil {
		return nil, s.storeError(err, id)
	}
	s.removeData(ctx, id)
	s.publish(ctx, "delete", img)
	return api.NoContent(), nil
}

// removeData deletes an image's data and staged data; a failure leaves
// files for the operator and is logged, the image itself is gone.
func (s *Service) removeData(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	for _, d := range []interface {
		Delete(context.Context, string) error
	}{s.driver, s.staging} {
		if err := d.Delete(ctx, id); err != nil {
			s.log.Error("delete image data", "image_id", id, "error", err)
		}
	}
}

func (s *Service) deactivate(c *gin.Context) (*api.Response, error) {
	return s.transition(c, "deactivate", store.StatusActive, store.StatusDeactivated)
}

func (s *Service) reactivate(c *gin.Context) (*api.Response, error) {
	return s.transition(c, "reactivate", store.StatusDeactivated, store.StatusActive)
}

// transition moves an image from one status to another; being there
// already is not an error.
func (s *Service) transition(c *gin.Context, action, from, to string) (*api.Response, error) {
	id := c.Param("image_id")
	ctx := c.Request.Context()
	var img store.Image
	changed := false
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if img, err = tx.LockImage(ctx, id); err != nil {
			return err
		}
		switch img.Status {
		case to:
			return nil
		case from:
			img.Status, changed = to, true
			return tx.SaveImage(ctx, &img)
		}
		return api.Forbidden("Not allowed to %s image in status '%s'", action, img.Status)
	})
	if err != nil {
		return nil, s.storeError(err, id)
	}
	if changed {
		s.publish(ctx, action, img)
	}
	return api.NoContent(), nil
}

func (s *Service) addTag(c *gin.Context) (*api.Response, error) {
	tag := c.Param("tag")
	if len(tag) > maxStringLen {
		return nil, api.BadRequest("Tag is too long (maximum %d characters).", maxStringLen)
	}
	return s.editTags(c, func(img *store.Image) error {
		if slices.Contains(img.Tags, tag) {
			return nil
		}
		if len(img.Tags) >= maxTags {
			return api.TooLarge("Maximum number of tags exceeded (%d).", maxTags)
		}
		img.Tags = append(img.Tags, tag)
		return nil
	})
}

func (s *Service) deleteTag(c *gin.Context) (*api.Response, error) {
	tag := c.Param("tag")
	return s.editTags(c, func(img *store.Image) error {
		i := slices.Index(img.Tags, tag)
		if i < 0 {
			return api.NotFound("Tag %s not found.", tag)
		}
		img.Tags = slices.Delete(img.Tags, i, i+1)
		return nil
	})
}

func (s *Service) editTags(c *gin.Context, edit func(*store.Image) error) (*api.Response, error) {
	id := c.Param("image_id")
	ctx := c.Request.Context()
	var img store.Image
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if img, err = tx.LockImage(ctx, id); err != nil {
			return err
		}
		if err := edit(&img); err != nil {
			return err
		}
		return tx.SaveImage(ctx, &img)
	})
	if err != nil {
		return nil, s.storeError(err, id)
	}
	s.publish(ctx, "update", img)
	return api.NoContent(), nil
}
