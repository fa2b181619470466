package neutronapi

import (
	"errors"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// Quota resources of the network service, accounted as network.<name>.
const (
	ResourceNetwork           = "network.network"
	ResourceSubnet            = "network.subnet"
	ResourcePort              = "network.port"
	ResourceRouter            = "network.router"
	ResourceFloatingIP        = "network.floatingip"
	ResourceSecurityGroup     = "network.security_group"
	ResourceSecurityGroupRule = "network.security_group_rule"
)

// DefaultQuotas are Neutron's default per-project limits.
var DefaultQuotas = quota.Defaults{
	ResourceNetwork:           100,
	ResourceSubnet:            100,
	ResourcePort:              500,
	ResourceRouter:            10,
	ResourceFloatingIP:        50,
	ResourceSecurityGroup:     10,
	ResourceSecurityGroupRule: 100,
}

// quotaName is the name Neutron shows for a quota resource.
func quotaName(resource string) string { return strings.TrimPrefix(resource, "network.") }

// quotaOwn answers 404 for another project's quotas unless the caller is
// an admin, as the policy's project scope would.
func quotaOwn(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !callerOf(c).owns(id) {
		return "", api.Forbidden("Non-admin is not authorized to access quotas for another project").WithType("HTTPForbidden")
	}
	return id, nil
}

func (s *Service) quotaSet(c *gin.Context, project string, detail bool) (map[string]any, error) {
	usage, err := s.quota.Usage(c.Request.Context(), project)
	if err != nil {
		return nil, api.Internal(err)
	}
	limits, err := s.quota.Limits(c.Request.Context(), project)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := map[string]any{}
	for res := range DefaultQuotas {
		if detail {
			u := usage[res]
			out[quotaName(res)] = map[string]int64{"limit": limits[res], "used": u.InUse, "reserved": u.Reserved}
		} else {
			out[quotaName(res)] = limits[res]
		}
	}
	return out, nil
}

func (s *Service) showQuota(c *gin.Context) (*api.Response, error) {
	id, err := quotaOwn(c)
	if err != nil {
		return nil, err
	}
	q, err := s.quotaSet(c, id, false)
	if err != nil {
		return nil, err
	}
	return api.OK(map[string]any{"quota": q}), nil
}

func (s *Service) detailQuota(c *gin.Context) (*api.Response, error) {
	id, err := quotaOwn(c)
	if err != nil {
		return nil, err
	}
	q, err := s.quotaSet(c, id, true)
	if err != nil {
		return nil, err
	}
	return api.OK(map[string]any{"quota": q}), nil
}

func (s *Service) defaultQuota(c *gin.Context) (*api.Response, error) {
	if _, err := quotaOwn(c); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for res, v := range DefaultQuotas {
		out[quotaName(res)] = v
	}
	return api.OK(map[string]any{"quota": out}), nil
}

// listQuotas lists the projects with non-default network quotas (admins).
func (s *Service) listQuotas(c *gin.Context) (*api.Response, error) {
	if !callerOf(c).admin {
		return nil, api.Forbidden("Only admin can view or configure quota").WithType("AdminRequired")
	}
	projects, err := s.overriddenProjects(c)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, p := range projects {
		q, err := s.quotaSet(c, p, false)
		if err != nil {
			return nil, err
		}
		q["project_id"], q["tenant_id"] = p, p
		out = append(out, q)
	}
	return api.OK(map[string]any{"quotas": out}), nil
}

func (s *Service) overriddenProjects(c *gin.Context) ([]string, error) {
	seen := map[string]bool{}
	for res := range DefaultQuotas {
		ovs, err := s.quota.Overrides(c.Request.Context(), "", res)
		if err != nil {
			return nil, api.Internal(err)
		}
		for _, o := range ovs {
			seen[o.ProjectID] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func (s *Service) updateQuota(c *gin.Context) (*api.Response, error) {
	id := c.Param("id")
	names := make([]string, 0, len(DefaultQuotas))
	for res := range DefaultQuotas {
		names = append(names, quotaName(res))
	}
	// Neutron also accepts (and kumo ignores) limits of resources it does
	// not account for.
	a, err := readBody(c, "quota", append(names, "subnetpool", "rbac_policy", "trunk", "force", "check_limit")...)
	if err != nil {
		return nil, err
	}
	force, _, err := a.boolean("force")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		v, err := a.integer(n)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		if *v < -1 {
			return nil, invalidInput(n, *v, "'%d' should be greater than or equal to -1", *v)
		}
		if err := s.quota.SetLimit(c.Request.Context(), id, "network."+n, int64(*v), force); err != nil {
			if errors.Is(err, quota.ErrBelowUsage) {
				return nil, badRequest("Quota limit %d for %s must be greater than or equal to already used and reserved", *v, n)
			}
			return nil, api.Internal(err)
		}
	}
	q, err := s.quotaSet(c, id, false)
	if err != nil {
		return nil, err
	}
	return api.OK(map[string]any{"quota": q}), nil
}

func (s *Service) deleteQuota(c *gin.Context) (*api.Response, error) {
	for res := range DefaultQuotas {
		if _, err := s.quota.DeleteLimit(c.Request.Context(), c.Param("id"), res); err != nil {
			return nil, api.Internal(err)
		}
	}
	return api.NoContent(), nil
}
