package cinderapi

import (
	"encoding/json"
	"errors"
	"math"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// quotaFields are the members of Cinder's quota set: those kumo accounts
// for, and fixed ones (-1, no limit) for what it does not limit (backups
// and groups, which it does not offer, and a per-volume size).
var quotaFields = []struct {
	name     string
	resource string
	fixed    int64
}{
	{name: "volumes", resource: store.ResourceVolumes},
	{name: "gigabytes", resource: store.ResourceGigabytes},
	{name: "snapshots", resource: store.ResourceSnapshots},
	{name: "per_volume_gigabytes", fixed: -1},
	{name: "backups", fixed: -1},
	{name: "backup_gigabytes", fixed: -1},
	{name: "groups", fixed: -1},
}

// showQuotas is GET /os-quota-sets/{project}[?usage=true].
func (s *Service) showQuotas(c *gin.Context, _ Version) (*api.Response, error) {
	project := c.Param("target_project_id")
	usage, err := s.quota.Usage(c.Request.Context(), project)
	if err != nil {
		return nil, api.Internal(err)
	}
	withUsage, _ := boolParam(c.Query("usage"))
	out := gin.H{"id": project}
	for _, f := range quotaFields {
		limit, inUse, reserved := f.fixed, int64(0), int64(0)
		if f.resource != "" {
			u := usage[f.resource]
			limit, inUse, reserved = u.Limit, u.InUse, u.Reserved
		}
		if withUsage {
			out[f.name] = gin.H{"limit": limit, "in_use": inUse, "reserved": reserved, "allocated": 0}
		} else {
			out[f.name] = limit
		}
	}
	return api.OK(gin.H{"quota_set": out}), nil
}

// defaultQuotas is GET /os-quota-sets/{project}/defaults.
func (s *Service) defaultQuotas(c *gin.Context, _ Version) (*api.Response, error) {
	defaults := s.quota.Defaults()
	out := gin.H{"id": c.Param("target_project_id")}
	for _, f := range quotaFields {
		if f.resource != "" {
			out[f.name] = defaults[f.resource]
		} else {
			out[f.name] = f.fixed
		}
	}
	return api.OK(gin.H{"quota_set": out}), nil
}

// updateQuotas is the admin's PUT /os-quota-sets/{project}: limits below
// what the project uses are refused, as Cinder does.
func (s *Service) updateQuotas(c *gin.Context, v Version) (*api.Response, error) {
	var body struct {
		QuotaSet map[string]json.RawMessage `json:"quota_set"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.QuotaSet == nil {
		return nil, api.BadRequest("Missing required element 'quota_set' in request body.")
	}
	project := c.Param("target_project_id")
	limits := map[string]int64{}
	for name, raw := range body.QuotaSet {
		if name == "id" || name == "tenant_id" {
			continue
		}
		res := ""
		known := false
		for _, f := range quotaFields {
			if f.name == name {
				res, known = f.resource, true
			}
		}
		if !known {
			return nil, api.BadRequest("Bad key(s) in quota set: %s", name)
		}
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil {
			var str string
			if json.Unmarshal(raw, &str) != nil {
				return nil, invalidInput("Quota %s must be an integer.", name)
			}
			if err := json.Unmarshal([]byte(str), &n); err != nil {
				return nil, invalidInput("Quota %s must be an integer.", name)
			}
		}
		if n != math.Trunc(n) || n < -1 || n > math.MaxInt32 {
			return nil, invalidInput("Quota limit %v for %s must be -1 or more.", n, name)
		}
		if res != "" {
			limits[res] = int64(n)
		}
	}
	ctx := c.Request.Context()
	for res, n := range limits {
		if err := s.quota.SetLimit(ctx, project, res, n, false); err != nil {
			if errors.Is(err, quota.ErrBelowUsage) {
				return nil, invalidInput("Quota limit %d for %s must be equal or greater than existing resources.", n, res)
			}
			return nil, api.Internal(err)
		}
	}
	resp, err := s.showQuotas(c, v)
	if err != nil {
		return nil, err
	}
	qs := resp.Body.(gin.H)["quota_set"].(gin.H)
	delete(qs, "id")
	return resp, nil
}

// deleteQuotas puts a project back on the default limits.
func (s *Service) deleteQuotas(c *gin.Context, _ Version) (*api.Response, error) {
	if err := s.quota.DeleteLimits(c.Request.Context(), c.Param("target_project_id")); err != nil {
		return nil, api.Internal(err)
	}
	return api.OK(nil), nil
}

// limits is GET /limits: the caller's absolute limits and usage.
func (s *Service) limits(c *gin.Context, _ Version) (*api.Response, error) {
	usage, err := s.quota.Usage(c.Request.Context(), api.Claims(c).ProjectID)
	if err != nil {
		return nil, api.Internal(err)
	}
	vol, gb, sn := usage[store.ResourceVolumes], usage[store.ResourceGigabytes], usage[store.ResourceSnapshots]
	return api.OK(gin.H{"limits": gin.H{"rate": []any{}, "absolute": gin.H{
		"maxTotalVolumes": vol.Limit, "maxTotalSnapshots": sn.Limit, "maxTotalVolumeGigabytes": gb.Limit,
		"maxTotalBackups": -1, "maxTotalBackupGigabytes": -1,
		"totalVolumesUsed": vol.InUse, "totalGigabytesUsed": gb.InUse, "totalSnapshotsUsed": sn.InUse,
		"totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0,
	}}}), nil
}

// availabilityZones is GET /os-availability-zone.
func (s *Service) availabilityZones(*gin.Context, Version) (*api.Response, error) {
	return api.OK(gin.H{"availabilityZoneInfo": []gin.H{{"zoneName": s.cfg.Zone, "zoneState": gin.H{"available": true}}}}), nil
}
