package identity

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// Keystone's unified limits (/v3/registered_limits, /v3/limits) are the
// face of kumo's quota engine: a registered limit is a resource's default,
// a limit is a per-project override. A quota resource "compute.cores" is the
// resource "cores" of the catalog service of type "compute".

// ResourceAppCreds is identity's own quota: application credentials per
// project.
const ResourceAppCreds = "identity.application_credentials"

type limitView struct {
	ID            string  `json:"id"`
	ProjectID     string  `json:"project_id,omitempty"`
	DomainID      *string `json:"domain_id,omitempty"`
	ServiceID     string  `json:"service_id"`
	RegionID      *string `json:"region_id"`
	ResourceName  string  `json:"resource_name"`
	ResourceLimit *int64  `json:"resource_limit,omitempty"`
	DefaultLimit  *int64  `json:"default_limit,omitempty"`
	Description   *string `json:"description"`
	Links         link    `json:"links"`
}

// limitID names an override stably: Keystone ids are 32 hex digits.
func limitID(projectID, resource string) string {
	sum := md5.Sum([]byte(projectID + "\x00" + resource))
	return hex.EncodeToString(sum[:])
}

// serviceIDs maps catalog service types to ids and back.
func (s *Service) serviceIDs(ctx context.Context) (byType, byID map[string]string, err error) {
	svcs, err := s.store.ListServices(ctx, store.ServiceFilter{})
	if err != nil {
		return nil, nil, api.Internal(err)
	}
	byType, byID = map[string]string{}, map[string]string{}
	for _, v := range svcs {
		if _, seen := byType[v.Type]; !seen {
			byType[v.Type] = v.ID
		}
		byID[v.ID] = v.Type
	}
	return byType, byID, nil
}

func splitResource(resource string) (typ, name string) {
	typ, name, _ = strings.Cut(resource, ".")
	return typ, name
}

func (s *Service) limitModel(*gin.Context) (*api.Response, error) {
	return api.OK(gin.H{"model": gin.H{"name": "flat",
		"description": "Limit enforcement and validation does not take project hierarchy into consideration."}}), nil
}

func (s *Service) listRegisteredLimits(c *gin.Context) (*api.Response, error) {
	byType, _, err := s.serviceIDs(c.Request.Context())
	if err != nil {
		return nil, err
	}
	out := []limitView{}
	for resource, def := range s.quota.Defaults() {
		typ, name := splitResource(resource)
		if (c.Query("resource_name") != "" && c.Query("resource_name") != name) ||
			(c.Query("service_id") != "" && c.Query("service_id") != byType[typ]) {
			continue
		}
		def := def
		out = append(out, limitView{ID: limitID("", resource), ServiceID: byType[typ], ResourceName: name,
			DefaultLimit: &def, Links: link{s.url("/registered_limits/" + limitID("", resource))}})
	}
	return api.OK(gin.H{"registered_limits": out, "links": listLinks{Self: s.url("/registered_limits")}}), nil
}

func (s *Service) limitView(o quota.Override, byType map[string]string) limitView {
	typ, name := splitResource(o.Resource)
	limit := o.Limit
	id := limitID(o.ProjectID, o.Resource)
	return limitView{ID: id, ProjectID: o.ProjectID, ServiceID: byType[typ], ResourceName: name,
		ResourceLimit: &limit, Links: link{s.url("/limits/" + id)}}
}

func (s *Service) listLimits(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	byType, byID, err := s.serviceIDs(ctx)
	if err != nil {
		return nil, err
	}
	resource := ""
	if name := c.Query("resource_name"); name != "" {
		typ := byID[c.Query("service_id")]
		resource = typ + "." + name
	}
	project := c.Query("project_id")
	if !api.Allowed(c, "identity:admin_required", nil) {
		project = api.Claims(c).ProjectID // others see their own project's limits only
	}
	os, err := s.quota.Overrides(ctx, project, resource)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := []limitView{}
	for _, o := range os {
		if sid := c.Query("service_id"); sid != "" && byType[strings.SplitN(o.Resource, ".", 2)[0]] != sid {
			continue
		}
		out = append(out, s.limitView(o, byType))
	}
	return api.OK(gin.H{"limits": out, "links": listLinks{Self: s.url("/limits")}}), nil
}

// findLimit resolves a limit id to its override.
func (s *Service) findLimit(ctx context.Context, id string) (quota.Override, error) {
	os, err := s.quota.Overrides(ctx, "", "")
	if err != nil {
		return quota.Override{}, api.Internal(err)
	}
	for _, o := range os {
		if limitID(o.ProjectID, o.Resource) == id {
			return o, nil
		}
	}
	return quota.Override{}, api.NotFound("Could not find limit: %s.", id)
}

func (s *Service) getLimit(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	o, err := s.findLimit(ctx, c.Param("limit_id"))
	if err != nil {
		return nil, err
	}
	if !api.Allowed(c, "identity:admin_required", nil) && o.ProjectID != api.Claims(c).ProjectID {
		return nil, api.NotFound("Could not find limit: %s.", c.Param("limit_id"))
	}
	byType, _, err := s.serviceIDs(ctx)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"limit": s.limitView(o, byType)}), nil
}

func (s *Service) createLimits(c *gin.Context) (*api.Response, error) {
	var b struct {
		Limits []struct {
			ProjectID     string `json:"project_id"`
			ServiceID     string `json:"service_id"`
			ResourceName  string `json:"resource_name"`
			ResourceLimit *int64 `json:"resource_limit"`
		} `json:"limits"`
	}
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if len(b.Limits) == 0 {
		return nil, api.BadRequest("Invalid input: 'limits' must hold at least one limit.")
	}
	ctx := c.Request.Context()
	byType, byID, err := s.serviceIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := []limitView{}
	for _, l := range b.Limits {
		if l.ProjectID == "" || l.ResourceName == "" || l.ResourceLimit == nil {
			return nil, api.BadRequest("Invalid input: project_id, service_id, resource_name and resource_limit are required.")
		}
		typ, ok := byID[l.ServiceID]
		if !ok {
			return nil, api.BadRequest("Could not find service: %s.", l.ServiceID)
		}
		if _, err := s.store.GetProject(ctx, l.ProjectID); err != nil {
			return nil, api.BadRequest("Could not find project: %s.", l.ProjectID)
		}
		o := quota.Override{ProjectID: l.ProjectID, Resource: typ + "." + l.ResourceName, Limit: *l.ResourceLimit}
		if err := s.quota.SetLimit(ctx, o.ProjectID, o.Resource, o.Limit, true); err != nil {
			return nil, api.BadRequest("Invalid limit for %s: %v.", o.Resource, err)
		}
		out = append(out, s.limitView(o, byType))
	}
	return api.Created(gin.H{"limits": out}), nil
}

func (s *Service) updateLimit(c *gin.Context) (*api.Response, error) {
	var b struct {
		Limit struct {
			ResourceLimit *int64 `json:"resource_limit"`
		} `json:"limit"`
	}
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	o, err := s.findLimit(ctx, c.Param("limit_id"))
	if err != nil {
		return nil, err
	}
	if b.Limit.ResourceLimit != nil {
		o.Limit = *b.Limit.ResourceLimit
		if err := s.quota.SetLimit(ctx, o.ProjectID, o.Resource, o.Limit, true); err != nil {
			return nil, api.BadRequest("Invalid limit for %s: %v.", o.Resource, err)
		}
	}
	byType, _, err := s.serviceIDs(ctx)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"limit": s.limitView(o, byType)}), nil
}

func (s *Service) deleteLimit(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	o, err := s.findLimit(ctx, c.Param("limit_id"))
	if err != nil {
		return nil, err
	}
	if _, err := s.quota.DeleteLimit(ctx, o.ProjectID, o.Resource); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}
