package novaapi

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/scheduler"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/quota"
)

func serverGroupView(g store.ServerGroup, v Version) gin.H {
	members := g.Members
	if members == nil {
		members = []string{}
	}
	out := gin.H{"id": g.UUID, "name": g.Name, "members": members}
	if v.At(64) {
		rules := gin.H{}
		if n, err := strconv.Atoi(g.Rules["max_server_per_host"]); err == nil {
			rules["max_server_per_host"] = n
		}
		out["policy"], out["rules"] = g.Policy, rules
	} else {
		out["policies"], out["metadata"] = []string{g.Policy}, gin.H{}
	}
	if v.At(13) {
		out["project_id"], out["user_id"] = g.ProjectID, g.UserID
	}
	return out
}

// serverGroup loads the group named by the path, as the caller may see it.
func (s *Service) serverGroup(c *gin.Context) (store.ServerGroup, error) {
	id := c.Param("group_id")
	g, err := s.store.GetServerGroup(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && g.ProjectID != api.Claims(c).ProjectID && !isAdmin(c) {
		return g, api.NotFound("Instance group %s could not be found.", id)
	}
	return g, err
}

func (s *Service) getServerGroup(c *gin.Context, v Version) (*api.Response, error) {
	g, err := s.serverGroup(c)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"server_group": serverGroupView(g, v)}), nil
}

func (s *Service) listServerGroups(c *gin.Context, v Version) (*api.Response, error) {
	q := c.Request.URL.Query()
	project := api.Claims(c).ProjectID
	if all, given := q["all_projects"]; given {
		on, ok := parseBool(all[len(all)-1])
		if !ok && all[len(all)-1] != "" {
			return nil, api.BadRequest("Invalid input for query parameters all_projects. Value: %s.", all[len(all)-1])
		}
		if (on || all[len(all)-1] == "") && api.Allowed(c, "os_compute_api:os-server-groups:index:all_projects", s.target(c)) {
			project = ""
		}
	}
	limit, offset := 0, 0
	for key, dst := range map[string]*int{"limit": &limit, "offset": &offset} {
		if vals, ok := q[key]; ok {
			n, err := strconv.Atoi(vals[len(vals)-1])
			if err != nil || n < 0 || key == "limit" && n < 1 {
				return nil, api.BadRequest("Invalid input for query parameters %s. Value: %s.", key, vals[len(vals)-1])
			}
			*dst = n
		}
	}
	gs, err := s.store.ListServerGroups(c.Request.Context(), project, min(limit, maxLimit), offset)
	if err != nil {
		return nil, err
	}
	list := make([]gin.H, len(gs))
	for i, g := range gs {
		list[i] = serverGroupView(g, v)
	}
	return api.OK(gin.H{"server_groups": list}), nil
}

// groupPolicies are the policies a group may have at v.
func groupPolicies(v Version) []string {
	if v.At(15) {
		return []string{scheduler.Affinity, scheduler.AntiAffinity, scheduler.SoftAffinity, scheduler.SoftAntiAffinity}
	}
	return []string{scheduler.Affinity, scheduler.AntiAffinity}
}

func (s *Service) createServerGroup(c *gin.Context, v Version) (*api.Response, error) {
	allowed := []string{"name", "policies"}
	if v.At(64) {
		allowed = []string{"name", "policy", "rules"}
	}
	m, err := object(c, "server_group", allowed...)
	if err != nil {
		return nil, err
	}
	name, ok, err := stringField(m, "name", 1, 255)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.BadRequest("Invalid input for field/attribute server_group. Value: %s. 'name' is a required property", compact(m))
	}
	cl := api.Claims(c)
	g := store.ServerGroup{UUID: uuid.NewString(), Name: name, ProjectID: cl.ProjectID, UserID: cl.UserID, Rules: store.Specs{}}
	valid := groupPolicies(v)
	if v.At(64) {
		p, ok, err := stringField(m, "policy", 1, 255)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, api.BadRequest("Invalid input for field/attribute server_group. Value: %s. 'policy' is a required property", compact(m))
		}
		if !contains(valid, p) {
			return nil, api.BadRequest("Invalid input for field/attribute policy. Value: %s. '%s' is not one of %s", p, p, compact(valid))
		}
		g.Policy = p
		if raw, given := m["rules"]; given {
			var rules map[string]json.RawMessage
			if err := json.Unmarshal(raw, &rules); err != nil || rules == nil {
				return nil, api.BadRequest("Invalid input for field/attribute rules. Value: %s. %s is not of type 'object'", raw, raw)
			}
			for k := range rules {
				if k != "max_server_per_host" {
					return nil, api.BadRequest("Invalid input for field/attribute rules. Additional properties are not allowed ('%s' was unexpected)", k)
				}
			}
			if len(rules) > 0 && p != scheduler.AntiAffinity {
				return nil, api.BadRequest("Only anti-affinity policy supports rules.")
			}
			if _, given := rules["max_server_per_host"]; given {
				n, err := intField(rules, "max_server_per_host", 1, 1)
				if err != nil {
					return nil, err
				}
				g.Rules["max_server_per_host"] = strconv.FormatInt(n, 10)
			}
		}
	} else {
		raw, ok := m["policies"]
		if !ok {
			return nil, api.BadRequest("Invalid input for field/attribute server_group. Value: %s. 'policies' is a required property", compact(m))
		}
		var ps []string
		if err := json.Unmarshal(raw, &ps); err != nil || len(ps) != 1 {
			return nil, api.BadRequest("Invalid input for field/attribute policies. Value: %s. %s is not valid under any of the given schemas", raw, raw)
		}
		if !contains(valid, ps[0]) {
			return nil, api.BadRequest("Invalid input for field/attribute policies. Value: %s. '%s' is not one of %s", raw, ps[0], compact(valid))
		}
		g.Policy = ps[0]
	}
	ctx := c.Request.Context()
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.ConsumeQuota(ctx, s.quota, cl.ProjectID, map[string]int64{ResourceServerGroups: 1}); err != nil {
			return err
		}
		return tx.CreateServerGroup(ctx, &g)
	})
	if errors.Is(err, quota.ErrOverQuota) {
		return nil, api.QuotaExceeded("Quota exceeded, too many server groups.")
	}
	if err != nil {
		return nil, err
	}
	g.Members = []string{}
	return api.OK(gin.H{"server_group": serverGroupView(g, v)}), nil
}

func (s *Service) deleteServerGroup(c *gin.Context, _ Version) (*api.Response, error) {
	g, err := s.serverGroup(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteServerGroup(ctx, g.UUID); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, s.quota, g.ProjectID, map[string]int64{ResourceServerGroups: -1})
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Instance group %s could not be found.", g.UUID)
	}
	if err != nil {
		return nil, err
	}
	return api.NoContent(), nil
}

// groupsOf lists the groups a server is in (2.71's server_groups).
func (s *Service) groupsOf(c *gin.Context, instance string) []string {
	g, _, ok, err := s.store.InstanceGroup(c.Request.Context(), instance)
	if err != nil {
		s.log.Warn("server groups of server", "server_id", instance, "error", err)
	}
	if !ok {
		return []string{}
	}
	return []string{g.UUID}
}

// schedulerGroup is the scheduler's view of the group an instance is
// built into: its policy and the hosts of its other members.
func (s *Service) schedulerGroup(ctx context.Context, instance string) (*scheduler.ServerGroup, error) {
	g, hosts, ok, err := s.store.InstanceGroup(ctx, instance)
	if err != nil || !ok {
		return nil, err
	}
	out := &scheduler.ServerGroup{ID: g.UUID, Policy: g.Policy, MemberHosts: hosts}
	if n, err := strconv.Atoi(g.Rules["max_server_per_host"]); err == nil {
		out.MaxServerPerHost = n
	}
	return out, nil
}
