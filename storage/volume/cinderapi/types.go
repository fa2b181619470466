package cinderapi

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// userVisibleSpecs are the extra specs Cinder shows to non-admins.
var userVisibleSpecs = map[string]bool{"multiattach": true, "RESKEY:availability_zones": true, "replication_enabled": true}

// typeView is a volume type as Cinder shows it; non-admins see only the
// user-visible extra specs.
func (s *Service) typeView(t store.VolumeType, admin bool) gin.H {
	specs := map[string]string{}
	for k, v := range t.ExtraSpecs {
		if admin || userVisibleSpecs[k] {
			specs[k] = v
		}
	}
	out := gin.H{"id": t.ID, "name": t.Name, "description": strPtr(t.Description), "is_public": t.IsPublic,
		"os-volume-type-access:is_public": t.IsPublic, "extra_specs": specs}
	if admin {
		out["qos_specs_id"] = nil
	}
	return out
}

func (s *Service) listTypes(c *gin.Context, _ Version) (*api.Response, error) {
	admin := isAdmin(c)
	project := api.Claims(c).ProjectID
	if admin {
		project = ""
	}
	types, err := s.store.ListTypes(c.Request.Context(), project)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := make([]any, 0, len(types))
	for _, t := range types {
		out = append(out, s.typeView(t, admin))
	}
	return api.OK(gin.H{"volume_types": out}), nil
}

// loadType finds the type the path names ("default" is the default type).
func (s *Service) loadType(c *gin.Context) (store.VolumeType, error) {
	id := c.Param("type_id")
	var t store.VolumeType
	var err error
	if id == "default" {
		t, err = s.store.GetTypeByName(c.Request.Context(), store.DefaultTypeName)
	} else {
		t, err = s.store.GetType(c.Request.Context(), id)
	}
	if err == nil {
		err = s.canUseType(c.Request.Context(), t, callerOf(c))
	}
	if err != nil {
		return t, notFound(err, "Volume type %s could not be found.", id)
	}
	return t, nil
}

// canUseType is ErrNotFound for a private type the caller has no access
// to.
func (s *Service) canUseType(ctx context.Context, t store.VolumeType, k caller) error {
	if t.IsPublic || k.admin {
		return nil
	}
	ok, err := s.store.HasTypeAccess(ctx, t.ID, k.project)
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	return err
}

// typeAccessList is GET /types/{id}/os-volume-type-access (admin).
func (s *Service) typeAccessList(c *gin.Context, _ Version) (*api.Response, error) {
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	if t.IsPublic {
		return nil, api.NotFound("Access list not available for public volume types.")
	}
	projects, err := s.store.TypeAccess(c.Request.Context(), t.ID)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := make([]gin.H, 0, len(projects))
	for _, p := range projects {
		out = append(out, gin.H{"volume_type_id": t.ID, "project_id": p})
	}
	return api.OK(gin.H{"volume_type_access": out}), nil
}

// typeAction is POST /types/{id}/action: addProjectAccess or
// removeProjectAccess of a private type (admin).
func (s *Service) typeAction(c *gin.Context, _ Version) (*api.Response, error) {
	var body map[string]struct {
		Project string `json:"project"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	for action, args := range body {
		if args.Project == "" {
			return nil, api.BadRequest("Missing required element 'project' in request body.")
		}
		switch action {
		case "addProjectAccess", "removeProjectAccess":
		default:
			return nil, api.BadRequest("There is no such action: %s", action)
		}
		if t.IsPublic {
			return nil, api.BadRequest("Invalid volume type: Type access modification is not applicable to public volume type.")
		}
		if action == "addProjectAccess" {
			if err := s.store.AddTypeAccess(ctx, t.ID, args.Project); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return nil, api.Conflict("Volume type access for %s / %s combination already exists.", t.ID, args.Project)
				}
				return nil, api.Internal(err)
			}
		} else if err := s.store.RemoveTypeAccess(ctx, t.ID, args.Project); err != nil {
			return nil, notFound(err, "Volume type access not found for %s / %s combination.", t.ID, args.Project)
		}
		return api.Accepted(nil), nil
	}
	return nil, api.BadRequest("There is no such action")
}

func (s *Service) getType(c *gin.Context, _ Version) (*api.Response, error) {
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"volume_type": s.typeView(t, isAdmin(c))}), nil
}

type typeBody struct {
	VolumeType *struct {
		Name        *string           `json:"name"`
		Description *string           `json:"description"`
		IsPublic    *bool             `json:"os-volume-type-access:is_public"`
		IsPublic2   *bool             `json:"is_public"`
		ExtraSpecs  map[string]string `json:"extra_specs"`
	} `json:"volume_type"`
}

// createType is the admin's POST /types.
func (s *Service) createType(c *gin.Context, _ Version) (*api.Response, error) {
	var body typeBody
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	b := body.VolumeType
	if b == nil || b.Name == nil {
		return nil, api.BadRequest("Invalid input for field/attribute volume_type. 'name' is a required property")
	}
	if *b.Name == "" || len(*b.Name) > 255 {
		return nil, invalidInput("Volume type name can not be empty or longer than 255 characters.")
	}
	if err := checkMetadata(b.ExtraSpecs); err != nil {
		return nil, err
	}
	public := true
	for _, p := range []*bool{b.IsPublic, b.IsPublic2} {
		if p != nil {
			public = *p
		}
	}
	t := store.VolumeType{ID: uuid.NewString(), Name: *b.Name, Description: b.Description, IsPublic: public, ExtraSpecs: store.Meta(b.ExtraSpecs)}
	if err := s.store.CreateType(c.Request.Context(), &t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, api.Conflict("Volume Type %s already exists.", t.Name)
		}
		return nil, api.Internal(err)
	}
	return api.OK(gin.H{"volume_type": s.typeView(t, true)}), nil
}

// updateType changes a type's name, description or visibility.
func (s *Service) updateType(c *gin.Context, _ Version) (*api.Response, error) {
	var body typeBody
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	b := body.VolumeType
	if b == nil {
		return nil, api.BadRequest("Missing required element 'volume_type' in request body.")
	}
	cols := map[string]any{}
	if b.Name != nil {
		if t.Name == store.DefaultTypeName && *b.Name != t.Name {
			return nil, api.BadRequest("The default volume type cannot be renamed.")
		}
		if *b.Name == "" {
			return nil, invalidInput("Volume type name can not be empty.")
		}
		cols["name"] = *b.Name
	}
	if b.Description != nil {
		cols["description"] = *b.Description
	}
	for _, p := range []*bool{b.IsPublic, b.IsPublic2} {
		if p != nil {
			cols["is_public"] = *p
		}
	}
	ctx := c.Request.Context()
	if len(cols) > 0 {
		if err := s.store.UpdateType(ctx, t.ID, cols); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nil, api.Conflict("Volume Type %s already exists.", cols["name"])
			}
			return nil, api.Internal(err)
		}
	}
	if t, err = s.store.GetType(ctx, t.ID); err != nil {
		return nil, api.Internal(err)
	}
	return api.OK(gin.H{"volume_type": s.typeView(t, true)}), nil
}

// deleteType removes an unused, non-default type.
func (s *Service) deleteType(c *gin.Context, _ Version) (*api.Response, error) {
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	if t.Name == store.DefaultTypeName {
		return nil, api.BadRequest("Default volume type can not be deleted.")
	}
	if err := s.store.DeleteType(c.Request.Context(), t.ID); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, api.BadRequest("Target volume type is still in use.")
		}
		return nil, notFound(err, "Volume type %s could not be found.", t.ID)
	}
	return api.Accepted(nil), nil
}

func (s *Service) listExtraSpecs(c *gin.Context, _ Version) (*api.Response, error) {
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"extra_specs": s.typeView(t, isAdmin(c))["extra_specs"]}), nil
}

// createExtraSpecs merges extra specs into a type.
func (s *Service) createExtraSpecs(c *gin.Context, _ Version) (*api.Response, error) {
	var body struct {
		ExtraSpecs map[string]any `json:"extra_specs"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.ExtraSpecs == nil {
		return nil, api.BadRequest("Missing required element 'extra_specs' in request body.")
	}
	specs, err := specStrings(body.ExtraSpecs)
	if err != nil {
		return nil, err
	}
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	merged := store.Meta{}
	for k, v := range t.ExtraSpecs {
		merged[k] = v
	}
	for k, v := range specs {
		merged[k] = v
	}
	if err := s.store.UpdateType(c.Request.Context(), t.ID, map[string]any{"extra_specs": merged}); err != nil {
		return nil, api.Internal(err)
	}
	return api.OK(gin.H{"extra_specs": specs}), nil
}

// specStrings checks extra specs: string keys and values (booleans and
// numbers are turned into strings, as Cinder does).
func specStrings(in map[string]any) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range in {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool, float64:
			raw, _ := json.Marshal(x)
			out[k] = string(raw)
		default:
			return nil, invalidInput("Invalid value for extra spec %s.", k)
		}
	}
	return out, checkMetadata(out)
}

func (s *Service) getExtraSpec(c *gin.Context, _ Version) (*api.Response, error) {
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	key := c.Param("key")
	val, ok := t.ExtraSpecs[key]
	if !ok || (!isAdmin(c) && !userVisibleSpecs[key]) {
		return nil, api.NotFound("Volume Type %s has no extra specs with key %s.", t.ID, key)
	}
	return api.OK(gin.H{key: val}), nil
}

// updateExtraSpec sets one extra spec: the body holds exactly that key.
func (s *Service) updateExtraSpec(c *gin.Context, _ Version) (*api.Response, error) {
	var body map[string]any
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	key := c.Param("key")
	if _, ok := body[key]; !ok || len(body) != 1 {
		return nil, api.BadRequest("Request body and URI mismatch")
	}
	specs, err := specStrings(body)
	if err != nil {
		return nil, err
	}
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	merged := store.Meta{}
	for k, v := range t.ExtraSpecs {
		merged[k] = v
	}
	merged[key] = specs[key]
	if err := s.store.UpdateType(c.Request.Context(), t.ID, map[string]any{"extra_specs": merged}); err != nil {
		return nil, api.Internal(err)
	}
	return api.OK(gin.H{key: specs[key]}), nil
}

func (s *Service) deleteExtraSpec(c *gin.Context, _ Version) (*api.Response, error) {
	t, err := s.loadType(c)
	if err != nil {
		return nil, err
	}
	key := c.Param("key")
	if _, ok := t.ExtraSpecs[key]; !ok {
		return nil, api.NotFound("Volume Type %s has no extra specs with key %s.", t.ID, key)
	}
	rest := store.Meta{}
	for k, v := range t.ExtraSpecs {
		if k != key {
			rest[k] = v
		}
	}
	if err := s.store.UpdateType(c.Request.Context(), t.ID, map[string]any{"extra_specs": rest}); err != nil {
		return nil, api.Internal(err)
	}
	return api.Accepted(nil), nil
}
