package identity

import (
	"context"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/identity/store"
)

type regionBody struct {
	Region *struct {
		ID             *string `json:"id"`
		Description    *string `json:"description"`
		ParentRegionID *string `json:"parent_region_id"`
	} `json:"region"`
}

type serviceBody struct {
	Service *struct {
		Type        *string `json:"type"`
		Name        *string `json:"name"`
		Description *string `json:"description"`
		Enabled     *bool   `json:"enabled"`
	} `json:"service"`
}

type endpointBody struct {
	Endpoint *struct {
		Interface *string `json:"interface"`
		RegionID  *string `json:"region_id"`
		Region    *string `json:"region"`
		ServiceID *string `json:"service_id"`
		URL       *string `json:"url"`
		Enabled   *bool   `json:"enabled"`
	} `json:"endpoint"`
}

// catalog renders the service catalog of a scoped token. As in Keystone,
// $(project_id)s and $(tenant_id)s in endpoint URLs become the token's
// project; endpoints that need a project are left out of other scopes.
func (s *Service) catalog(ctx context.Context, projectID string) ([]gin.H, error) {
	services, err := s.store.ListServices(ctx, store.ServiceFilter{})
	if err != nil {
		return nil, api.Internal(err)
	}
	endpoints, err := s.store.ListEndpoints(ctx, store.EndpointFilter{})
	if err != nil {
		return nil, api.Internal(err)
	}
	out := []gin.H{}
	for _, svc := range services {
		if !svc.Enabled {
			continue
		}
		eps := []gin.H{}
		for _, e := range endpoints {
			if e.ServiceID != svc.ID || !e.Enabled {
				continue
			}
			url, ok := substituteProject(e.URL, projectID)
			if !ok {
				continue
			}
			eps = append(eps, gin.H{"id": e.ID, "interface": e.Interface, "region": e.RegionID, "region_id": e.RegionID, "url": url})
		}
		out = append(out, gin.H{"id": svc.ID, "type": svc.Type, "name": svc.Name, "endpoints": eps})
	}
	return out, nil
}

// substituteProject fills Keystone's URL templates with a project id; it
// reports false when the URL needs a project and there is none.
func substituteProject(url, projectID string) (string, bool) {
	if !strings.Contains(url, "$(project_id)s") && !strings.Contains(url, "$(tenant_id)s") {
		return url, true
	}
	if projectID == "" {
		return "", false
	}
	return strings.NewReplacer("$(project_id)s", projectID, "$(tenant_id)s", projectID).Replace(url), true
}

// Regions.

func (s *Service) listRegions(c *gin.Context) (*api.Response, error) {
	rs, err := s.store.ListRegions(c.Request.Context())
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]regionView, len(rs))
	for i, r := range rs {
		out[i] = s.regionView(r)
	}
	return api.OK(s.list(c, "regions", out)), nil
}

func (s *Service) createRegion(c *gin.Context) (*api.Response, error) {
	var b regionBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Region == nil {
		return nil, api.BadRequest("Invalid input: 'region' is a required property.")
	}
	r := store.Region{ID: store.NewID()}
	set(&r.ID, b.Region.ID)
	set(&r.Description, b.Region.Description)
	set(&r.ParentRegionID, b.Region.ParentRegionID)
	if err := s.store.CreateRegion(c.Request.Context(), &r); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"region": s.regionView(r)}), nil
}

func (s *Service) getRegion(c *gin.Context) (*api.Response, error) {
	r, err := s.store.GetRegion(c.Request.Context(), c.Param("region_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"region": s.regionView(r)}), nil
}

func (s *Service) updateRegion(c *gin.Context) (*api.Response, error) {
	var b regionBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Region == nil {
		return nil, api.BadRequest("Invalid input: 'region' is a required property.")
	}
	ctx := c.Request.Context()
	r, err := s.store.GetRegion(ctx, c.Param("region_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	set(&r.Description, b.Region.Description)
	set(&r.ParentRegionID, b.Region.ParentRegionID)
	if err := s.store.UpdateRegion(ctx, &r); err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"region": s.regionView(r)}), nil
}

func (s *Service) deleteRegion(c *gin.Context) (*api.Response, error) {
	if err := s.store.DeleteRegion(c.Request.Context(), c.Param("region_id")); err != nil {
		return nil, storeErr(err)
	}
	return api.NoContent(), nil
}

// Services.

func (s *Service) listServices(c *gin.Context) (*api.Response, error) {
	vs, err := s.store.ListServices(c.Request.Context(), store.ServiceFilter{Type: c.Query("type"), Name: c.Query("name")})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]serviceView, len(vs))
	for i, v := range vs {
		out[i] = s.serviceView(v)
	}
	return api.OK(s.list(c, "services", out)), nil
}

func (s *Service) createService(c *gin.Context) (*api.Response, error) {
	var b serviceBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Service == nil {
		return nil, api.BadRequest("Invalid input: 'service' is a required property.")
	}
	if err := required("type", b.Service.Type); err != nil {
		return nil, err
	}
	v := store.Service{ID: store.NewID(), Type: *b.Service.Type, Enabled: true}
	set(&v.Name, b.Service.Name)
	set(&v.Description, b.Service.Description)
	set(&v.Enabled, b.Service.Enabled)
	if err := s.store.CreateService(c.Request.Context(), &v); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"service": s.serviceView(v)}), nil
}

func (s *Service) getService(c *gin.Context) (*api.Response, error) {
	v, err := s.store.GetService(c.Request.Context(), c.Param("service_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"service": s.serviceView(v)}), nil
}

func (s *Service) updateService(c *gin.Context) (*api.Response, error) {
	var b serviceBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Service == nil {
		return nil, api.BadRequest("Invalid input: 'service' is a required property.")
	}
	ctx := c.Request.Context()
	v, err := s.store.GetService(ctx, c.Param("service_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	set(&v.Type, b.Service.Type)
	set(&v.Name, b.Service.Name)
	set(&v.Description, b.Service.Description)
	set(&v.Enabled, b.Service.Enabled)
	if err := s.store.UpdateService(ctx, &v); err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"service": s.serviceView(v)}), nil
}

func (s *Service) deleteService(c *gin.Context) (*api.Response, error) {
	if err := s.store.DeleteService(c.Request.Context(), c.Param("service_id")); err != nil {
		return nil, storeErr(err)
	}
	return api.NoContent(), nil
}

// Endpoints.

func (s *Service) listEndpoints(c *gin.Context) (*api.Response, error) {
	es, err := s.store.ListEndpoints(c.Request.Context(), store.EndpointFilter{ServiceID: c.Query("service_id"), Interface: c.Query("interface"), RegionID: c.Query("region_id")})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]endpointView, len(es))
	for i, e := range es {
		out[i] = s.endpointView(e)
	}
	return api.OK(s.list(c, "endpoints", out)), nil
}

func validInterface(v *string) error {
	if v == nil {
		return api.BadRequest("Invalid input for field 'interface': 'interface' is a required property.")
	}
	switch *v {
	case "public", "internal", "admin":
		return nil
	}
	return api.BadRequest("Invalid input for field 'interface': %q is not one of public, internal, admin.", *v)
}

func (s *Service) createEndpoint(c *gin.Context) (*api.Response, error) {
	var b endpointBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Endpoint == nil {
		return nil, api.BadRequest("Invalid input: 'endpoint' is a required property.")
	}
	if err := validInterface(b.Endpoint.Interface); err != nil {
		return nil, err
	}
	if err := required("url", b.Endpoint.URL); err != nil {
		return nil, err
	}
	if err := required("service_id", b.Endpoint.ServiceID); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	if _, err := s.store.GetService(ctx, *b.Endpoint.ServiceID); err != nil {
		return nil, api.BadRequest("Could not find service: %s.", *b.Endpoint.ServiceID)
	}
	e := store.Endpoint{ID: store.NewID(), Interface: *b.Endpoint.Interface, ServiceID: *b.Endpoint.ServiceID, URL: *b.Endpoint.URL, Enabled: true}
	set(&e.RegionID, b.Endpoint.Region)
	set(&e.RegionID, b.Endpoint.RegionID)
	set(&e.Enabled, b.Endpoint.Enabled)
	if err := s.store.CreateEndpoint(ctx, &e); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"endpoint": s.endpointView(e)}), nil
}

func (s *Service) getEndpoint(c *gin.Context) (*api.Response, error) {
	e, err := s.store.GetEndpoint(c.Request.Context(), c.Param("endpoint_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"endpoint": s.endpointView(e)}), nil
}

func (s *Service) updateEndpoint(c *gin.Context) (*api.Response, error) {
	var b endpointBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Endpoint == nil {
		return nil, api.BadRequest("Invalid input: 'endpoint' is a required property.")
	}
	ctx := c.Request.Context()
	e, err := s.store.GetEndpoint(ctx, c.Param("endpoint_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	if b.Endpoint.Interface != nil {
		if err := validInterface(b.Endpoint.Interface); err != nil {
			return nil, err
		}
		e.Interface = *b.Endpoint.Interface
	}
	set(&e.URL, b.Endpoint.URL)
	set(&e.RegionID, b.Endpoint.Region)
	set(&e.RegionID, b.Endpoint.RegionID)
	set(&e.ServiceID, b.Endpoint.ServiceID)
	set(&e.Enabled, b.Endpoint.Enabled)
	if err := s.store.UpdateEndpoint(ctx, &e); err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"endpoint": s.endpointView(e)}), nil
}

func (s *Service) deleteEndpoint(c *gin.Context) (*api.Response, error) {
	if err := s.store.DeleteEndpoint(c.Request.Context(), c.Param("endpoint_id")); err != nil {
		return nil, storeErr(err)
	}
	return api.NoContent(), nil
}
