package novaapi

import (
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// quotaField is one member of a quota set: its wire name, the quota
// resource behind it, and the microversions it is shown at.
type quotaField struct {
	name     string
	resource string
	// until is the last minor version the field exists at (0: still does).
	until int
	// fixed is the value shown for a field kumo does not account for
	// (Nova's network quotas, which Neutron owns); resource is "" then.
	fixed int64
}

var quotaFields = []quotaField{
	{name: "cores", resource: ResourceCores},
	{name: "instances", resource: ResourceInstances},
	{name: "key_pairs", resource: ResourceKeyPairs},
	{name: "metadata_items", resource: ResourceMetadataItems},
	{name: "ram", resource: ResourceRAM},
	{name: "server_groups", resource: ResourceServerGroups},
	{name: "server_group_members", resource: ResourceServerGroupMembers},
	{name: "injected_files", resource: ResourceInjectedFiles, until: 56},
	{name: "injected_file_content_bytes", resource: ResourceInjectedFileContentBytes, until: 56},
	{name: "injected_file_path_bytes", resource: ResourceInjectedFilePathBytes, until: 56},
	{name: "fixed_ips", until: 35, fixed: -1},
	{name: "floating_ips", until: 35, fixed: 10},
	{name: "security_groups", until: 35, fixed: 10},
	{name: "security_group_rules", until: 35, fixed: 20},
}

func (f quotaField) shown(v Version) bool { return f.until == 0 || !v.At(f.until+1) }

// quotaKey is the key the quota engine accounts a field under: key pairs
// belong to users, everything else to the project.
func quotaKey(f quotaField, project, user string) string {
	if f.resource == ResourceKeyPairs && user != "" {
		return user
	}
	return project
}

// quotaUsage reads the limits and usage of a project (and, for key pairs,
// of user) from the quota engine.
func (s *Service) quotaUsage(c *gin.Context, project, user string) (map[string]quota.Usage, error) {
	ctx := c.Request.Context()
	usage, err := s.quota.Usage(ctx, project)
	if err != nil {
		return nil, api.Internal(err)
	}
	if user != "" {
		u, err := s.quota.Usage(ctx, user)
		if err != nil {
			return nil, api.Internal(err)
		}
		usage[ResourceKeyPairs] = u[ResourceKeyPairs]
	} else {
		// Nova shows no key pair usage at project level: key pairs are
		// counted per user.
		kp := usage[ResourceKeyPairs]
		kp.InUse, kp.Reserved = 0, 0
		usage[ResourceKeyPairs] = kp
	}
	return usage, nil
}

func quotaSetView(v Version, usage map[string]quota.Usage, detail bool) gin.H {
	out := gin.H{}
	for _, f := range quotaFields {
		if !f.shown(v) {
			continue
		}
		u := quota.Usage{Limit: f.fixed}
		if f.resource != "" {
			u = usage[f.resource]
		}
		if detail {
			out[f.name] = gin.H{"limit": u.Limit, "in_use": u.InUse, "reserved": u.Reserved}
		} else {
			out[f.name] = u.Limit
		}
	}
	return out
}

// quotaUser reads ?user_id=, the user whose key pair quota to show or set.
func quotaUser(c *gin.Context) string { return c.Query("user_id") }

func (s *Service) showQuotaSet(c *gin.Context, v Version) (*api.Response, error) {
	return s.quotaSet(c, v, false)
}

func (s *Service) detailQuotaSet(c *gin.Context, v Version) (*api.Response, error) {
	return s.quotaSet(c, v, true)
}

func (s *Service) quotaSet(c *gin.Context, v Version, detail bool) (*api.Response, error) {
	project := c.Param("project_id")
	usage, err := s.quotaUsage(c, project, quotaUser(c))
	if err != nil {
		return nil, err
	}
	out := quotaSetView(v, usage, detail)
	out["id"] = project
	return api.OK(gin.H{"quota_set": out}), nil
}

func (s *Service) defaultQuotaSet(c *gin.Context, v Version) (*api.Response, error) {
	usage := map[string]quota.Usage{}
	for r, l := range s.quota.Defaults() {
		usage[r] = quota.Usage{Limit: l}
	}
	out := quotaSetView(v, usage, false)
	out["id"] = c.Param("project_id")
	return api.OK(gin.H{"quota_set": out}), nil
}

func (s *Service) updateQuotaSet(c *gin.Context, v Version) (*api.Response, error) {
	allowed := []string{"force"}
	for _, f := range quotaFields {
		if f.shown(v) {
			allowed = append(allowed, f.name)
		}
	}
	m, err := object(c, "quota_set", allowed...)
	if err != nil {
		return nil, err
	}
	force, err := boolField(m, "force", false)
	if err != nil {
		return nil, err
	}
	project, user := c.Param("project_id"), quotaUser(c)
	ctx := c.Request.Context()
	for _, f := range quotaFields {
		if _, ok := m[f.name]; !ok || f.resource == "" {
			// Network quotas (before 2.36) are Neutron's: accepted and
			// ignored, as Nova with Neutron ignores them.
			continue
		}
		if user != "" && f.resource != ResourceKeyPairs {
			return nil, api.BadRequest("kumo keeps per-user quotas for key_pairs only; set %s for the project.", f.name)
		}
		limit, err := intField(m, f.name, -1, 0)
		if err != nil {
			return nil, err
		}
		err = s.quota.SetLimit(ctx, quotaKey(f, project, user), f.resource, limit, force)
		if errors.Is(err, quota.ErrBelowUsage) {
			return nil, api.BadRequest("Quota limit %d for %s must be greater than or equal to already used and reserved.", limit, f.name)
		} else if err != nil {
			return nil, api.Internal(err)
		}
	}
	usage, err := s.quotaUsage(c, project, user)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"quota_set": quotaSetView(v, usage, false)}), nil
}

func (s *Service) deleteQuotaSet(c *gin.Context, _ Version) (*api.Response, error) {
	project, user := c.Param("project_id"), quotaUser(c)
	ctx := c.Request.Context()
	for _, f := range quotaFields {
		if f.resource == "" || (user != "" && f.resource != ResourceKeyPairs) {
			continue
		}
		if _, err := s.quota.DeleteLimit(ctx, quotaKey(f, project, user), f.resource); err != nil {
			return nil, api.Internal(err)
		}
	}
	return api.Accepted(nil), nil
}

// limits answers GET /limits: the absolute limits and usage of the
// caller's project (or, for admins, of ?tenant_id=).
func (s *Service) limits(c *gin.Context, v Version) (*api.Response, error) {
	cl := api.Claims(c)
	project := cl.ProjectID
	if t := c.Query("tenant_id"); t != "" && t != project {
		if !api.Allowed(c, "os_compute_api:limits:other_project", policy.Target{"project_id": t}) {
			return nil, api.Forbidden("Policy doesn't allow os_compute_api:limits:other_project to be performed.")
		}
		project = t
	}
	usage, err := s.quotaUsage(c, project, "")
	if err != nil {
		return nil, err
	}
	keyLimit := usage[ResourceKeyPairs].Limit
	if project == cl.ProjectID && cl.UserID != "" {
		if u, err := s.quota.Limits(c.Request.Context(), cl.UserID); err == nil {
			if l := u[ResourceKeyPairs]; keyLimit == quota.Unlimited || (l != quota.Unlimited && l < keyLimit) {
				keyLimit = l
			}
		}
	}
	abs := gin.H{
		"maxTotalInstances":     usage[ResourceInstances].Limit,
		"maxTotalCores":         usage[ResourceCores].Limit,
		"maxTotalRAMSize":       usage[ResourceRAM].Limit,
		"maxTotalKeypairs":      keyLimit,
		"maxServerMeta":         usage[ResourceMetadataItems].Limit,
		"maxServerGroups":       usage[ResourceServerGroups].Limit,
		"maxServerGroupMembers": usage[ResourceServerGroupMembers].Limit,
		"totalInstancesUsed":    usage[ResourceInstances].InUse,
		"totalCoresUsed":        usage[ResourceCores].InUse,
		"totalRAMUsed":          usage[ResourceRAM].InUse,
		"totalServerGroupsUsed": usage[ResourceServerGroups].InUse,
	}
	if !v.At(39) {
		abs["maxImageMeta"] = usage[ResourceMetadataItems].Limit
	}
	if !v.At(57) {
		abs["maxPersonality"] = usage[ResourceInjectedFiles].Limit
		abs["maxPersonalitySize"] = usage[ResourceInjectedFileContentBytes].Limit
	}
	if !v.At(36) {
		abs["maxTotalFloatingIps"] = 10
		abs["maxSecurityGroups"] = 10
		abs["maxSecurityGroupRules"] = 20
		abs["totalFloatingIpsUsed"] = 0
		abs["totalSecurityGroupsUsed"] = 0
	}
	return api.OK(gin.H{"limits": gin.H{"rate": []any{}, "absolute": abs}}), nil
}

// Availability zones and extensions.

func (s *Service) listZones(*gin.Context, Version) (*api.Response, error) {
	return api.OK(gin.H{"availabilityZoneInfo": []gin.H{{
		"zoneName": s.cfg.Zone, "zoneState": gin.H{"available": true}, "hosts": nil,
	}}}), nil
}

// detailZones lists the zone with its compute hosts, and Nova's "internal"
// zone with the hosts running the control services, from the core nodes
// table.
func (s *Service) detailZones(c *gin.Context, _ Version) (*api.Response, error) {
	hosts, err := s.store.Hosts(c.Request.Context())
	if err != nil {
		return nil, err
	}
	compute, internal := gin.H{}, gin.H{}
	for _, h := range hosts {
		svc := func(names ...string) gin.H {
			out := gin.H{}
			for _, n := range names {
				out[n] = gin.H{"available": true, "active": true, "updated_at": h.UpdatedAt.UTC().Format(novaTime)}
			}
			return out
		}
		roles := strings.Join(h.Roles, ",")
		switch {
		case strings.Contains(roles, "all-in-one"):
			compute[h.Name] = svc("nova-compute")
			internal[h.Name] = svc("nova-conductor", "nova-scheduler")
		case strings.Contains(roles, "compute-agent"):
			compute[h.Name] = svc("nova-compute")
		case strings.Contains(roles, "scheduler"):
			internal[h.Name] = svc("nova-scheduler")
		}
	}
	zones := []gin.H{}
	if len(internal) > 0 {
		zones = append(zones, gin.H{"zoneName": "internal", "zoneState": gin.H{"available": true}, "hosts": internal})
	}
	var computeHosts any = compute
	if len(compute) == 0 {
		computeHosts = nil
	}
	zones = append(zones, gin.H{"zoneName": s.cfg.Zone, "zoneState": gin.H{"available": true}, "hosts": computeHosts})
	return api.OK(gin.H{"availabilityZoneInfo": zones}), nil
}

// listExtensions answers with no extensions: microversions replaced them.
func (s *Service) listExtensions(*gin.Context, Version) (*api.Response, error) {
	return api.OK(gin.H{"extensions": []any{}}), nil
}

func (s *Service) getExtension(c *gin.Context, _ Version) (*api.Response, error) {
	return nil, api.NotFound("Extension %s could not be found.", c.Param("alias"))
}
