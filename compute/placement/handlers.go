package placement

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/placement/store"
)

// query checks the request's query parameters against those the route
// accepts at the request's microversion (name → first minor version), the
// way Placement's JSON schemas refuse unknown ones.
func query(c *gin.Context, v version, allowed map[string]int) (url.Values, error) {
	q := c.Request.URL.Query()
	for k := range q {
		since, ok := allowed[k]
		if !ok || !v.at(since) {
			return nil, api.BadRequest("Invalid query string parameters: '%s' is not allowed at microversion %s.", k, v)
		}
	}
	return q, nil
}

// parseResources reads "VCPU:2,MEMORY_MB:1024".
func parseResources(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, part := range strings.Split(s, ",") {
		rc, amount, ok := strings.Cut(part, ":")
		n, err := strconv.ParseInt(amount, 10, 64)
		if !ok || err != nil || n < 1 {
			return nil, api.BadRequest("Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: %s.", s)
		}
		if !store.ValidClass(rc) {
			return nil, api.BadRequest("Invalid resource class in resources parameter: %s", rc)
		}
		if _, dup := out[rc]; dup {
			return nil, api.BadRequest("Badly formed resources parameter: %s is given twice.", rc)
		}
		out[rc] = n
	}
	return out, nil
}

// parseMemberOf reads member_of values: "in:a,b" or "a", repeated.
func parseMemberOf(values []string, v version) ([][]string, error) {
	if len(values) > 1 && !v.at(24) {
		return nil, api.BadRequest("Multiple member_of parameters are not supported before microversion 1.24.")
	}
	var out [][]string
	for _, val := range values {
		list := strings.TrimPrefix(val, "in:")
		aggs := strings.Split(list, ",")
		for _, a := range aggs {
			if _, err := uuid.Parse(a); err != nil {
				return nil, api.BadRequest("Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: %s", val)
			}
		}
		out = append(out, aggs)
	}
	return out, nil
}

// parseRequired reads "A,!B" into required and forbidden traits.
func parseRequired(values []string, v version) (req, forb []string, err error) {
	for _, val := range values {
		for _, t := range strings.Split(val, ",") {
			if name, ok := strings.CutPrefix(t, "!"); ok && v.at(22) {
				forb = append(forb, name)
			} else {
				req = append(req, t)
			}
		}
	}
	for _, t := range append(slices.Clone(req), forb...) {
		if t == "" || strings.ToUpper(t) != t {
			return nil, nil, api.BadRequest("Invalid query string parameters: invalid trait %q.", t)
		}
	}
	return req, forb, nil
}

func (s *Service) providerView(p store.Provider, v version) gin.H {
	base := Prefix + "/resource_providers/" + p.UUID
	links := []gin.H{
		{"rel": "self", "href": base},
		{"rel": "inventories", "href": base + "/inventories"},
		{"rel": "usages", "href": base + "/usages"},
	}
	if v.at(1) {
		links = append(links, gin.H{"rel": "aggregates", "href": base + "/aggregates"})
	}
	if v.at(6) {
		links = append(links, gin.H{"rel": "traits", "href": base + "/traits"})
	}
	if v.at(11) {
		links = append(links, gin.H{"rel": "allocations", "href": base + "/allocations"})
	}
	out := gin.H{"uuid": p.UUID, "name": p.Name, "generation": p.Generation, "links": links}
	if v.at(14) {
		// kumo's providers are all roots: one per compute host, no nesting.
		out["parent_provider_uuid"] = nil
		out["root_provider_uuid"] = p.UUID
	}
	return out
}

func (s *Service) listProviders(c *gin.Context, v version) (*api.Response, error) {
	q, err := query(c, v, map[string]int{"name": 0, "uuid": 0, "member_of": 3, "resources": 4, "in_tree": 14, "required": 18})
	if err != nil {
		return nil, err
	}
	f := store.ProviderFilter{Name: q.Get("name"), UUID: q.Get("uuid")}
	if tree := q.Get("in_tree"); tree != "" {
		// Every provider is its own tree.
		if f.UUID != "" && f.UUID != tree {
			return api.OK(gin.H{"resource_providers": []gin.H{}}), nil
		}
		f.UUID = tree
	}
	if f.MemberOf, err = parseMemberOf(q["member_of"], v); err != nil {
		return nil, err
	}
	if r := q.Get("resources"); r != "" {
		if f.Resources, err = parseResources(r); err != nil {
			return nil, err
		}
	}
	if f.Required, f.Forbidden, err = parseRequired(q["required"], v); err != nil {
		return nil, err
	}
	ps, err := s.store.ListProviders(c.Request.Context(), f)
	if err != nil {
		return nil, err
	}
	out := make([]gin.H, len(ps))
	for i, p := range ps {
		out[i] = s.providerView(p, v)
	}
	return api.OK(gin.H{"resource_providers": out}), nil
}

// provider loads the provider named by the :uuid path parameter.
func (s *Service) provider(c *gin.Context) (store.Provider, error) {
	id := c.Param("uuid")
	p, err := s.store.GetProvider(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return p, api.NotFound("No resource provider with uuid %s found", id)
	}
	return p, err
}

func (s *Service) getProvider(c *gin.Context, v version) (*api.Response, error) {
	p, err := s.provider(c)
	if err != nil {
		return nil, err
	}
	return api.OK(s.providerView(p, v)), nil
}

func inventoryView(i store.Inventory) gin.H {
	return gin.H{"total": i.Total, "reserved": i.Reserved, "min_unit": i.MinUnit, "max_unit": i.MaxUnit,
		"step_size": i.StepSize, "allocation_ratio": i.AllocationRatio}
}

func (s *Service) listInventories(c *gin.Context, _ version) (*api.Response, error) {
	p, err := s.provider(c)
	if err != nil {
		return nil, err
	}
	invs, err := s.store.Inventories(c.Request.Context(), p.UUID)
	if err != nil {
		return nil, err
	}
	out := gin.H{}
	for rc, i := range invs {
		out[rc] = inventoryView(i)
	}
	return api.OK(gin.H{"inventories": out, "resource_provider_generation": p.Generation}), nil
}

func (s *Service) getInventory(c *gin.Context, _ version) (*api.Response, error) {
	p, err := s.provider(c)
	if err != nil {
		return nil, err
	}
	invs, err := s.store.Inventories(c.Request.Context(), p.UUID)
	if err != nil {
		return nil, err
	}
	rc := c.Param("rc")
	i, ok := invs[rc]
	if !ok {
		return nil, api.NotFound("No inventory of class %s found for resource provider %s", rc, p.UUID)
	}
	out := inventoryView(i)
	out["resource_provider_generation"] = p.Generation
	return api.OK(out), nil
}

func (s *Service) providerUsages(c *gin.Context, _ version) (*api.Response, error) {
	p, err := s.provider(c)
	if err != nil {
		return nil, err
	}
	u, err := s.store.Usages(c.Request.Context(), p.UUID)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"usages": u, "resource_provider_generation": p.Generation}), nil
}

func (s *Service) providerAggregates(c *gin.Context, v version) (*api.Response, error) {
	p, err := s.provider(c)
	if err != nil {
		return nil, err
	}
	aggs, err := s.store.Aggregates(c.Request.Context(), p.UUID)
	if err != nil {
		return nil, err
	}
	out := gin.H{"aggregates": aggs}
	if v.at(19) {
		out["resource_provider_generation"] = p.Generation
	}
	return api.OK(out), nil
}

func (s *Service) providerTraits(c *gin.Context, _ version) (*api.Response, error) {
	p, err := s.provider(c)
	if err != nil {
		return nil, err
	}
	traits, err := s.store.Traits(c.Request.Context(), p.UUID)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"traits": traits, "resource_provider_generation": p.Generation}), nil
}

func (s *Service) providerAllocations(c *gin.Context, _ version) (*api.Response, error) {
	p, err := s.provider(c)
	if err != nil {
		return nil, err
	}
	allocs, err := s.store.ProviderAllocations(c.Request.Context(), p.UUID)
	if err != nil {
		return nil, err
	}
	out := gin.H{}
	for consumer, res := range allocs {
		out[consumer] = gin.H{"resources": res}
	}
	return api.OK(gin.H{"allocations": out, "resource_provider_generation": p.Generation}), nil
}

func (s *Service) consumerAllocations(c *gin.Context, v version) (*api.Response, error) {
	cons, allocs, err := s.store.ConsumerAllocations(c.Request.Context(), c.Param("consumer_uuid"))
	if errors.Is(err, store.ErrNotFound) {
		// Placement answers an unknown consumer with no allocations.
		return api.OK(gin.H{"allocations": gin.H{}}), nil
	}
	if err != nil {
		return nil, err
	}
	byProvider := gin.H{}
	for _, a := range allocs {
		e, ok := byProvider[a.ProviderUUID].(gin.H)
		if !ok {
			e = gin.H{"generation": a.ProviderGeneration, "resources": map[string]int64{}}
			byProvider[a.ProviderUUID] = e
		}
		e["resources"].(map[string]int64)[a.ResourceClass] = a.Used
	}
	out := gin.H{"allocations": byProvider}
	if v.at(12) {
		out["project_id"], out["user_id"] = cons.ProjectID, cons.UserID
	}
	if v.at(28) {
		out["consumer_generation"] = cons.Generation
	}
	if v.at(38) {
		out["consumer_type"] = "unknown"
	}
	return api.OK(out), nil
}

func (s *Service) allocationCandidates(c *gin.Context, v version) (*api.Response, error) {
	q, err := query(c, v, map[string]int{"resources": 10, "limit": 16, "required": 17, "member_of": 21, "in_tree": 31, "group_policy": 25})
	if err != nil {
		return nil, err
	}
	if q.Get("resources") == "" {
		return nil, api.BadRequest("Invalid query string parameters: 'resources' is a required property")
	}
	f := store.ProviderFilter{UUID: q.Get("in_tree")}
	if f.Resources, err = parseResources(q.Get("resources")); err != nil {
		return nil, err
	}
	if l := q.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit < 1 {
			return nil, api.BadRequest("Invalid query string parameters: limit must be a positive integer, not %q", l)
		}
	}
	if f.MemberOf, err = parseMemberOf(q["member_of"], v); err != nil {
		return nil, err
	}
	if f.Required, f.Forbidden, err = parseRequired(q["required"], v); err != nil {
		return nil, err
	}
	cands, err := s.store.Candidates(c.Request.Context(), f)
	if err != nil {
		return nil, err
	}
	requests := make([]gin.H, 0, len(cands))
	summaries := gin.H{}
	for _, cand := range cands {
		id := cand.Provider.UUID
		if v.at(12) {
			req := gin.H{"allocations": gin.H{id: gin.H{"resources": f.Resources}}}
			if v.at(34) {
				req["mappings"] = gin.H{"": []string{id}}
			}
			requests = append(requests, req)
		} else {
			requests = append(requests, gin.H{"allocations": []gin.H{{
				"resource_provider": gin.H{"uuid": id}, "resources": f.Resources,
			}}})
		}
		res := gin.H{}
		for rc, r := range cand.Resources {
			if _, asked := f.Resources[rc]; asked || v.at(27) {
				res[rc] = gin.H{"capacity": r.Capacity(), "used": r.Used}
			}
		}
		sum := gin.H{"resources": res}
		if v.at(17) {
			sum["traits"] = cand.Traits
		}
		if v.at(29) {
			sum["parent_provider_uuid"], sum["root_provider_uuid"] = nil, id
		}
		summaries[id] = sum
	}
	return api.OK(gin.H{"allocation_requests": requests, "provider_summaries": summaries}), nil
}

func (s *Service) projectUsages(c *gin.Context, v version) (*api.Response, error) {
	q, err := query(c, v, map[string]int{"project_id": 9, "user_id": 9, "consumer_type": 38})
	if err != nil {
		return nil, err
	}
	project := q.Get("project_id")
	if project == "" {
		return nil, api.BadRequest("Invalid query string parameters: 'project_id' is a required property")
	}
	u, n, err := s.store.ProjectUsages(c.Request.Context(), project, q.Get("user_id"))
	if err != nil {
		return nil, err
	}
	if !v.at(38) {
		return api.OK(gin.H{"usages": u}), nil
	}
	// From 1.38 usages are grouped by consumer type; kumo's consumers have
	// none, which Placement reports as "unknown".
	out := gin.H{}
	if ct := q.Get("consumer_type"); n > 0 && (ct == "" || ct == "all" || ct == "unknown") {
		group := gin.H{"consumer_count": n}
		for rc, used := range u {
			group[rc] = used
		}
		key := "unknown"
		if ct == "all" {
			key = "all"
		}
		out[key] = group
	}
	return api.OK(gin.H{"usages": out}), nil
}
