package novaapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/compute/store"
)

// isAdmin reports whether the caller passes Nova's context_is_admin.
func isAdmin(c *gin.Context) bool { return api.Allowed(c, "os_compute_api:context_is_admin", nil) }

func (s *Service) link(path string) []gin.H {
	return []gin.H{
		{"rel": "self", "href": s.cfg.PublicURL + Prefix + "/v2.1" + path},
		{"rel": "bookmark", "href": s.cfg.PublicURL + Prefix + path},
	}
}

// flavorView renders a flavor as Nova does at v; brief is the /flavors
// listing's id, name and links.
func (s *Service) flavorView(c *gin.Context, f store.Flavor, v Version, brief bool) gin.H {
	out := gin.H{"id": f.FlavorID, "name": f.Name, "links": s.link("/flavors/" + f.FlavorID)}
	if v.At(55) {
		out["description"] = f.Description
	}
	if brief {
		return out
	}
	out["ram"] = f.MemoryMB
	out["vcpus"] = f.VCPUs
	out["disk"] = f.RootGB
	out["OS-FLV-EXT-DATA:ephemeral"] = f.EphemeralGB
	out["OS-FLV-DISABLED:disabled"] = f.Disabled
	out["os-flavor-access:is_public"] = f.IsPublic
	out["rxtx_factor"] = f.RxTxFactor
	if f.Swap == 0 && !v.At(75) {
		out["swap"] = ""
	} else {
		out["swap"] = f.Swap
	}
	if v.At(61) && api.Allowed(c, "os_compute_api:os-flavor-extra-specs:index", s.target(c)) {
		specs := f.ExtraSpecs
		if specs == nil {
			specs = store.Specs{}
		}
		out["extra_specs"] = specs
	}
	return out
}

// target is the caller's own policy target.
func (s *Service) target(c *gin.Context) policy.Target {
	cl := api.Claims(c)
	return policy.Target{"project_id": cl.ProjectID, "user_id": cl.UserID}
}

func (s *Service) visibility(c *gin.Context) store.Visibility {
	return store.Visibility{Admin: isAdmin(c), Project: api.Claims(c).ProjectID}
}

// flavor loads the flavor named by the path, as the caller may see it.
func (s *Service) flavor(c *gin.Context) (store.Flavor, error) {
	id := c.Param("flavor_id")
	f, err := s.store.GetFlavor(c.Request.Context(), id, s.visibility(c))
	if errors.Is(err, store.ErrNotFound) {
		return f, api.NotFound("Flavor %s could not be found.", id)
	}
	return f, err
}

func (s *Service) listFlavors(c *gin.Context, v Version) (*api.Response, error) {
	return s.flavorList(c, v, true)
}

func (s *Service) listFlavorsDetail(c *gin.Context, v Version) (*api.Response, error) {
	return s.flavorList(c, v, false)
}

func (s *Service) flavorList(c *gin.Context, v Version, brief bool) (*api.Response, error) {
	q := c.Request.URL.Query()
	cl := api.Claims(c)
	yes := true
	f := store.FlavorFilter{Project: cl.ProjectID, IsPublic: &yes, SortKey: q.Get("sort_key"), SortDir: q.Get("sort_dir")}
	if isAdmin(c) {
		// Only admins choose: is_public=true (the default: public and
		// shared with their project), false (private only) or none (all).
		if p := q.Get("is_public"); p != "" {
			if strings.EqualFold(p, "none") {
				f.IsPublic = nil
			} else if b, ok := parseBool(p); ok {
				f.IsPublic = &b
			} else {
				return nil, api.BadRequest("Invalid is_public filter [%s]", p)
			}
		}
	} else {
		f.Enabled = true
	}
	for key, ptr := range map[string]*int{"minRam": &f.MinRAM, "minDisk": &f.MinDisk} {
		if val := q.Get(key); val != "" {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, api.BadRequest("Invalid %s filter [%s]", key, val)
			}
			*ptr = n
		}
	}
	var err error
	if f.Limit, f.Marker, err = pageParams(q); err != nil {
		return nil, err
	}
	flavors, err := s.store.ListFlavors(c.Request.Context(), f)
	if err != nil {
		return nil, err
	}
	out := make([]gin.H, len(flavors))
	for i, fl := range flavors {
		out[i] = s.flavorView(c, fl, v, brief)
	}
	body := gin.H{"flavors": out}
	if len(flavors) > 0 && len(flavors) == f.Limit {
		path := "/flavors"
		if !brief {
			path += "/detail"
		}
		body["flavors_links"] = nextLink(s.cfg.PublicURL+Prefix+"/v2.1"+path, q, flavors[len(flavors)-1].FlavorID)
	}
	return api.OK(body), nil
}

func (s *Service) getFlavor(c *gin.Context, v Version) (*api.Response, error) {
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"flavor": s.flavorView(c, f, v, false)}), nil
}

// flavorIDPattern is Nova's: no leading or trailing space.
var flavorIDPattern = regexp.MustCompile(`^[a-zA-Z0-9._-]([a-zA-Z0-9. _-]*[a-zA-Z0-9._-])?$`)

func (s *Service) createFlavor(c *gin.Context, v Version) (*api.Response, error) {
	allowed := []string{"name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap", "rxtx_factor", "os-flavor-access:is_public"}
	if v.At(55) {
		allowed = append(allowed, "description")
	}
	m, err := object(c, "flavor", allowed...)
	if err != nil {
		return nil, err
	}
	for _, req := range []string{"name", "ram", "vcpus", "disk"} {
		if _, ok := m[req]; !ok {
			return nil, api.BadRequest("Invalid input for field/attribute flavor. '%s' is a required property", req)
		}
	}
	f := store.Flavor{IsPublic: true}
	name, _, err := stringField(m, "name", 1, 255)
	if err != nil {
		return nil, err
	}
	if name != "" && (name[0] == ' ' || name[len(name)-1] == ' ') {
		return nil, api.BadRequest("Invalid input for field/attribute name. Value: %s. '%s' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'", name, name)
	}
	f.Name = name
	if raw, ok := m["id"]; ok && !isNull(raw) {
		var id string
		var n json.Number
		switch {
		case json.Unmarshal(raw, &id) == nil:
		case json.Unmarshal(raw, &n) == nil:
			id = n.String()
		default:
			return nil, api.BadRequest("Invalid input for field/attribute id. Value: %s. %s is not of type 'string', 'null'", raw, raw)
		}
		if len(id) > 255 || !flavorIDPattern.MatchString(id) {
			return nil, api.BadRequest("Invalid input for field/attribute id. Value: %s. '%s' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'", id, id)
		}
		f.FlavorID = id
	} else {
		f.FlavorID = uuid.NewString()
	}
	ints := []struct {
		key      string
		min, def int64
		dst      *int
	}{
		{"ram", 1, 0, &f.MemoryMB}, {"vcpus", 1, 0, &f.VCPUs}, {"disk", 0, 0, &f.RootGB},
		{"OS-FLV-EXT-DATA:ephemeral", 0, 0, &f.EphemeralGB}, {"swap", 0, 0, &f.Swap},
	}
	for _, i := range ints {
		n, err := intField(m, i.key, i.min, i.def)
		if err != nil {
			return nil, err
		}
		*i.dst = int(n)
	}
	if f.RxTxFactor, err = floatField(m, "rxtx_factor", 1); err != nil {
		return nil, err
	}
	if f.IsPublic, err = boolField(m, "os-flavor-access:is_public", true); err != nil {
		return nil, err
	}
	if raw, ok := m["description"]; ok && !isNull(raw) {
		d, _, err := stringField(m, "description", 0, 65535)
		if err != nil {
			return nil, err
		}
		f.Description = &d
	}
	err = s.store.CreateFlavor(c.Request.Context(), &f)
	switch {
	case errors.Is(err, store.ErrFlavorIDExists):
		return nil, api.Conflict("Flavor with ID %s already exists.", f.FlavorID)
	case errors.Is(err, store.ErrFlavorNameExists):
		return nil, api.Conflict("Flavor with name %s already exists.", f.Name)
	case err != nil:
		return nil, err
	}
	return api.OK(gin.H{"flavor": s.flavorView(c, f, v, false)}), nil
}

func (s *Service) updateFlavor(c *gin.Context, v Version) (*api.Response, error) {
	m, err := object(c, "flavor", "description")
	if err != nil {
		return nil, err
	}
	raw, ok := m["description"]
	if !ok {
		return nil, api.BadRequest("Invalid input for field/attribute flavor. 'description' is a required property")
	}
	var desc *string
	if !isNull(raw) {
		d, _, err := stringField(m, "description", 0, 65535)
		if err != nil {
			return nil, err
		}
		desc = &d
	}
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetFlavorDescription(c.Request.Context(), f.FlavorID, desc); err != nil {
		return nil, err
	}
	f.Description = desc
	return api.OK(gin.H{"flavor": s.flavorView(c, f, v, false)}), nil
}

func (s *Service) deleteFlavor(c *gin.Context, _ Version) (*api.Response, error) {
	id := c.Param("flavor_id")
	if err := s.store.DeleteFlavor(c.Request.Context(), id); errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Flavor %s could not be found.", id)
	} else if err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}

// Extra specs.

func (s *Service) listExtraSpecs(c *gin.Context, _ Version) (*api.Response, error) {
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	specs := f.ExtraSpecs
	if specs == nil {
		specs = store.Specs{}
	}
	return api.OK(gin.H{"extra_specs": specs}), nil
}

// readSpecs validates a map of extra specs from the body.
func readSpecs(raw map[string]json.RawMessage, v Version) (store.Specs, error) {
	out := store.Specs{}
	for k, val := range raw {
		if !extraSpecKey.MatchString(k) {
			return nil, api.BadRequest("Invalid input for field/attribute extra_specs. Additional properties are not allowed ('%s' was unexpected)", k)
		}
		sv, err := specValue(k, val)
		if err != nil {
			return nil, err
		}
		if v.At(86) {
			if err := validateExtraSpec(k, sv); err != nil {
				return nil, err
			}
		}
		out[k] = sv
	}
	return out, nil
}

func (s *Service) createExtraSpecs(c *gin.Context, v Version) (*api.Response, error) {
	var b struct {
		ExtraSpecs map[string]json.RawMessage `json:"extra_specs"`
	}
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.ExtraSpecs == nil {
		return nil, api.BadRequest("Invalid input for field/attribute extra_specs. 'extra_specs' is a required property")
	}
	specs, err := readSpecs(b.ExtraSpecs, v)
	if err != nil {
		return nil, err
	}
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	if err := s.store.MergeExtraSpecs(c.Request.Context(), f.FlavorID, specs); err != nil {
		return nil, err
	}
	return api.OK(gin.H{"extra_specs": specs}), nil
}

func (s *Service) getExtraSpec(c *gin.Context, _ Version) (*api.Response, error) {
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	key := c.Param("key")
	val, ok := f.ExtraSpecs[key]
	if !ok {
		return nil, api.NotFound("Flavor %s has no extra specs with key %s.", f.FlavorID, key)
	}
	return api.OK(gin.H{key: val}), nil
}

func (s *Service) updateExtraSpec(c *gin.Context, v Version) (*api.Response, error) {
	var b map[string]json.RawMessage
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	key := c.Param("key")
	if _, ok := b[key]; !ok {
		return nil, api.BadRequest("Request body and URI mismatch")
	}
	if len(b) > 1 {
		return nil, api.BadRequest("Request body contains too many items")
	}
	specs, err := readSpecs(b, v)
	if err != nil {
		return nil, err
	}
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	if err := s.store.MergeExtraSpecs(c.Request.Context(), f.FlavorID, specs); err != nil {
		return nil, err
	}
	return api.OK(gin.H{key: specs[key]}), nil
}

func (s *Service) deleteExtraSpec(c *gin.Context, _ Version) (*api.Response, error) {
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	key := c.Param("key")
	if err := s.store.DeleteExtraSpec(c.Request.Context(), f.FlavorID, key); errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Flavor %s has no extra specs with key %s.", f.FlavorID, key)
	} else if err != nil {
		return nil, err
	}
	return &api.Response{Status: http.StatusOK}, nil
}

// Flavor access.

func (s *Service) accessView(c *gin.Context, id string) (*api.Response, error) {
	projects, err := s.store.FlavorProjects(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	out := make([]gin.H, len(projects))
	for i, p := range projects {
		out[i] = gin.H{"flavor_id": id, "tenant_id": p}
	}
	return api.OK(gin.H{"flavor_access": out}), nil
}

func (s *Service) listFlavorAccess(c *gin.Context, _ Version) (*api.Response, error) {
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	if f.IsPublic {
		return nil, api.NotFound("Access list not available for public flavors.")
	}
	return s.accessView(c, f.FlavorID)
}

func (s *Service) flavorAction(c *gin.Context, _ Version) (*api.Response, error) {
	var b map[string]struct {
		Tenant string `json:"tenant"`
	}
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if len(b) != 1 {
		return nil, api.BadRequest("There is no such action: %s", compact(b))
	}
	var action, tenant string
	for k, v := range b {
		action, tenant = k, v.Tenant
	}
	rule := map[string]string{
		"addTenantAccess":    "os_compute_api:os-flavor-access:add_tenant_access",
		"removeTenantAccess": "os_compute_api:os-flavor-access:remove_tenant_access",
	}[action]
	if rule == "" {
		return nil, api.BadRequest("There is no such action: %s", action)
	}
	if !api.Allowed(c, rule, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	if tenant == "" || len(tenant) > 255 {
		return nil, api.BadRequest("Invalid input for field/attribute tenant. 'tenant' is a required property")
	}
	f, err := s.flavor(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	if action == "addTenantAccess" {
		if f.IsPublic {
			return nil, api.Conflict("Can not add access to a public flavor.")
		}
		if err := s.store.AddFlavorProject(ctx, f.FlavorID, tenant); errors.Is(err, store.ErrConflict) {
			return nil, api.Conflict("Flavor access already exists for flavor %s and project %s combination.", f.FlavorID, tenant)
		} else if err != nil {
			return nil, err
		}
	} else {
		if err := s.store.RemoveFlavorProject(ctx, f.FlavorID, tenant); errors.Is(err, store.ErrNotFound) {
			return nil, api.NotFound("Flavor access not found for %s / %s combination.", f.FlavorID, tenant)
		} else if err != nil {
			return nil, err
		}
	}
	return s.accessView(c, f.FlavorID)
}
