package novaapi

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	pstore "github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
)

// hypervisor is one compute host as os-hypervisors shows it: placement's
// provider (capacity and use), its nova-compute service row (ID, admin
// state) and its heartbeat (hypervisor details, liveness).
type hypervisor struct {
	provider pstore.Candidate
	service  store.Service
	info     work.HostInfo
	up       bool
	running  int
}

// hypervisors lists the compute hosts, by service ID.
func (s *Service) hypervisors(ctx context.Context) ([]hypervisor, error) {
	st, err := s.loadServices(ctx)
	if err != nil {
		return nil, err
	}
	cands, err := s.placement.Candidates(ctx, pstore.ProviderFilter{})
	if err != nil {
		return nil, err
	}
	byName := map[string]pstore.Candidate{}
	for _, cd := range cands {
		byName[cd.Provider.Name] = cd
	}
	running, err := s.store.RunningCounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []hypervisor
	for _, sv := range st.services {
		cd, ok := byName[sv.Host]
		if sv.Binary != binaryCompute || !ok {
			continue
		}
		out = append(out, hypervisor{provider: cd, service: sv, info: st.alive[work.HostToken(sv.Host)],
			up: st.up(sv), running: running[sv.Host]})
	}
	return out, nil
}

func (h hypervisor) id(v Version) any {
	if v.At(53) {
		return h.provider.Provider.UUID
	}
	return h.service.ID
}

func (h hypervisor) brief(v Version) gin.H {
	state, status := "down", "enabled"
	if h.up {
		state = "up"
	}
	if h.service.Disabled {
		status = "disabled"
	}
	return gin.H{"id": h.id(v), "hypervisor_hostname": h.provider.Provider.Name, "state": state, "status": status}
}

// usage is (total, used) of a resource class, total after the allocation
// ratio as Nova's resource tracker reports it (vcpus are physical).
func (h hypervisor) usage(rc string) (int64, int64) {
	ru, ok := h.provider.Resources[rc]
	if !ok {
		return 0, 0
	}
	return ru.Total, ru.Used
}

func (h hypervisor) stats() map[string]int64 {
	vcpus, vcpusUsed := h.usage("VCPU")
	mem, memUsed := h.usage("MEMORY_MB")
	disk, diskUsed := h.usage("DISK_GB")
	if h.info.DiskGBTotal > 0 {
		disk = int64(h.info.DiskGBTotal)
	}
	return map[string]int64{"vcpus": vcpus, "vcpus_used": vcpusUsed, "memory_mb": mem, "memory_mb_used": memUsed,
		"local_gb": disk, "local_gb_used": diskUsed, "free_ram_mb": mem - memUsed, "free_disk_gb": disk - diskUsed,
		"current_workload": 0, "running_vms": int64(h.running), "disk_available_least": disk - int64(h.info.DiskGBUsed)}
}

func (h hypervisor) detail(v Version) gin.H {
	out := h.brief(v)
	typ := h.info.HypervisorType
	if typ == "" {
		typ = "QEMU"
	}
	cpu := gin.H{"arch": h.info.Arch, "model": h.info.CPUModel, "vendor": "", "features": []string{},
		"topology": gin.H{"cores": 0, "threads": 0, "sockets": 0}}
	out["hypervisor_type"], out["hypervisor_version"] = typ, h.info.HypervisorVersion
	out["host_ip"] = nil
	out["service"] = gin.H{"host": h.service.Host, "id": serviceID(h.service, v), "disabled_reason": h.service.DisabledReason}
	switch {
	case v.At(88): // cpu_info left with the statistics
	case v.At(28):
		out["cpu_info"] = cpu
	default:
		raw, _ := json.Marshal(cpu)
		out["cpu_info"] = string(raw)
	}
	if !v.At(88) {
		for k, n := range h.stats() {
			out[k] = n
		}
	}
	return out
}

func (s *Service) listHypervisors(c *gin.Context, v Version) (*api.Response, error) {
	return s.hypervisorList(c, v, false)
}

func (s *Service) listHypervisorsDetail(c *gin.Context, v Version) (*api.Response, error) {
	return s.hypervisorList(c, v, true)
}

func (s *Service) hypervisorList(c *gin.Context, v Version, detail bool) (*api.Response, error) {
	q := c.Request.URL.Query()
	var pattern *regexp.Regexp
	if p := q.Get("hypervisor_hostname_pattern"); p != "" && v.At(53) {
		pattern = regexp.MustCompile("(?i)" + regexp.QuoteMeta(p))
	}
	withServers := false
	if ws, ok := q["with_servers"]; ok && v.At(53) {
		on, valid := parseBool(ws[len(ws)-1])
		if !valid {
			return nil, api.BadRequest("Invalid input for query parameters with_servers. Value: %s. Not a boolean", ws[len(ws)-1])
		}
		withServers = on
	}
	limit, marker := 0, ""
	if v.At(33) {
		var err error
		if limit, marker, err = pageParams(q); err != nil {
			return nil, err
		}
	}
	hs, err := s.hypervisors(c.Request.Context())
	if err != nil {
		return nil, err
	}
	if marker != "" {
		i := -1
		for j, h := range hs {
			if strings.EqualFold(strings.TrimSpace(toString(h.id(v))), marker) {
				i = j
			}
		}
		if i < 0 {
			return nil, api.BadRequest("marker [%s] not found", marker)
		}
		hs = hs[i+1:]
	}
	list := []gin.H{}
	for _, h := range hs {
		if pattern != nil && !pattern.MatchString(h.provider.Provider.Name) {
			continue
		}
		if limit > 0 && len(list) == limit {
			break
		}
		view := h.brief(v)
		if detail {
			view = h.detail(v)
		}
		if withServers {
			if view["servers"], err = s.hypervisorServers(c.Request.Context(), h.provider.Provider.Name); err != nil {
				return nil, err
			}
		}
		list = append(list, view)
	}
	if pattern != nil && len(list) == 0 {
		return nil, api.NotFound("No hypervisor matching '%s' could be found.", q.Get("hypervisor_hostname_pattern"))
	}
	return api.OK(gin.H{"hypervisors": list}), nil
}

func toString(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case string:
		return x
	}
	return ""
}

func (s *Service) hypervisorServers(ctx context.Context, host string) ([]gin.H, error) {
	ins, err := s.store.ListInstances(ctx, store.InstanceFilter{AllProjects: true, Host: host})
	if err != nil {
		return nil, err
	}
	out := make([]gin.H, len(ins))
	for i, in := range ins {
		out[i] = gin.H{"name": in.Name, "uuid": in.UUID}
	}
	return out, nil
}

func (s *Service) getHypervisor(c *gin.Context, v Version) (*api.Response, error) {
	id := c.Param("hypervisor_id")
	if v.At(53) {
		if _, err := uuid.Parse(id); err != nil {
			return nil, api.BadRequest("Invalid uuid %s", id)
		}
	}
	hs, err := s.hypervisors(c.Request.Context())
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if strings.EqualFold(toString(h.id(v)), id) {
			view := h.detail(v)
			if ws := c.Query("with_servers"); v.At(53) && ws != "" {
				if on, _ := parseBool(ws); on {
					if view["servers"], err = s.hypervisorServers(c.Request.Context(), h.provider.Provider.Name); err != nil {
						return nil, err
					}
				}
			}
			if v.At(88) {
				view["uptime"] = nil
			}
			return api.OK(gin.H{"hypervisor": view}), nil
		}
	}
	return nil, api.NotFound("Hypervisor with ID '%s' could not be found.", id)
}

func (s *Service) hypervisorStatistics(c *gin.Context, v Version) (*api.Response, error) {
	if v.At(88) {
		return nil, api.NotFound("The resource could not be found.")
	}
	hs, err := s.hypervisors(c.Request.Context())
	if err != nil {
		return nil, err
	}
	sum := map[string]int64{"vcpus": 0, "vcpus_used": 0, "memory_mb": 0, "memory_mb_used": 0, "local_gb": 0,
		"local_gb_used": 0, "free_ram_mb": 0, "free_disk_gb": 0, "current_workload": 0, "running_vms": 0, "disk_available_least": 0}
	for _, h := range hs {
		for k, n := range h.stats() {
			sum[k] += n
		}
	}
	out := gin.H{"count": len(hs)}
	for k, n := range sum {
		out[k] = n
	}
	return api.OK(gin.H{"hypervisor_statistics": out}), nil
}

// searchHypervisors is GET /os-hypervisors/{pattern}/search and, with
// servers, /{pattern}/servers: the hypervisors whose hostname contains the
// pattern (before 2.53, which folded both into the list's query).
func (s *Service) searchHypervisors(withServers bool) handler {
	return func(c *gin.Context, v Version) (*api.Response, error) {
		pattern := c.Param("hypervisor_id")
		hs, err := s.hypervisors(c.Request.Context())
		if err != nil {
			return nil, err
		}
		list := []gin.H{}
		for _, h := range hs {
			if !strings.Contains(strings.ToLower(h.provider.Provider.Name), strings.ToLower(pattern)) {
				continue
			}
			view := h.brief(v)
			if withServers {
				if view["servers"], err = s.hypervisorServers(c.Request.Context(), h.provider.Provider.Name); err != nil {
					return nil, err
				}
			}
			list = append(list, view)
		}
		if len(list) == 0 {
			return nil, api.NotFound("No hypervisor matching '%s' could be found.", pattern)
		}
		return api.OK(gin.H{"hypervisors": list}), nil
	}
}
