package novaapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	pstore "github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
)

// Nova's service binaries kumo reports.
const (
	binaryCompute   = "nova-compute"
	binaryScheduler = "nova-scheduler"
	binaryConductor = "nova-conductor"
)

// serviceState is what the services and hypervisors views need: the rows,
// the live heartbeats, and placement's view of every compute host.
type serviceState struct {
	services []store.Service
	alive    map[string]work.HostInfo
	// computeHosts are the compute hosts, by placement provider name.
	computeHosts map[string]bool
}

func (st serviceState) up(sv store.Service) bool {
	if sv.ForcedDown {
		return false
	}
	if sv.Binary != binaryCompute {
		return true // the scheduler and conductor run inside this API
	}
	_, ok := st.alive[work.HostToken(sv.Host)]
	return ok
}

// loadServices makes sure every compute host (a placement provider) and
// this API's scheduler and conductor have a service row, and reads them
// with the heartbeats.
func (s *Service) loadServices(ctx context.Context) (serviceState, error) {
	st := serviceState{alive: map[string]work.HostInfo{}, computeHosts: map[string]bool{}}
	provs, err := s.placement.ListProviders(ctx, pstore.ProviderFilter{})
	if err != nil {
		return st, err
	}
	self, _ := os.Hostname()
	pairs := [][2]string{{self, binaryConductor}, {self, binaryScheduler}}
	for _, p := range provs {
		pairs = append(pairs, [2]string{p.Name, binaryCompute})
		st.computeHosts[p.Name] = true
	}
	if st.services, err = s.store.EnsureServices(ctx, pairs); err != nil {
		return st, err
	}
	if s.beats != nil {
		if st.alive, err = s.beats.Alive(ctx); err != nil {
			return st, err
		}
	}
	return st, nil
}

func (s *Service) serviceView(sv store.Service, st serviceState, v Version) gin.H {
	status, state := "enabled", "down"
	if sv.Disabled {
		status = "disabled"
	}
	if st.up(sv) {
		state = "up"
	}
	zone := "internal"
	if sv.Binary == binaryCompute {
		zone = s.cfg.Zone
	}
	updated := sv.CreatedAt
	if sv.UpdatedAt != nil {
		updated = *sv.UpdatedAt
	}
	if state == "up" {
		updated = time.Now()
	}
	out := gin.H{"binary": sv.Binary, "host": sv.Host, "zone": zone, "status": status, "state": state,
		"updated_at": updated.UTC().Format(novaTime), "disabled_reason": sv.DisabledReason}
	if v.At(53) {
		out["id"] = sv.UUID
	} else {
		out["id"] = sv.ID
	}
	if v.At(11) {
		out["forced_down"] = sv.ForcedDown
	}
	return out
}

func (s *Service) listServices(c *gin.Context, v Version) (*api.Response, error) {
	st, err := s.loadServices(c.Request.Context())
	if err != nil {
		return nil, err
	}
	host, binary := c.Query("host"), c.Query("binary")
	list := []gin.H{}
	for _, sv := range st.services {
		if host != "" && sv.Host != host || binary != "" && sv.Binary != binary {
			continue
		}
		list = append(list, s.serviceView(sv, st, v))
	}
	return api.OK(gin.H{"services": list}), nil
}

// updateService is PUT /os-services/{id} (2.53) and, before 2.53, the
// legacy PUT /os-services/{enable,disable,disable-log-reason,force-down}.
func (s *Service) updateService(c *gin.Context, v Version) (*api.Response, error) {
	id := c.Param("service_id")
	if !v.At(53) {
		return s.legacyUpdateService(c, v, id)
	}
	m, err := bodyObject(c)
	if err != nil {
		return nil, err
	}
	for k := range m {
		if !contains([]string{"status", "disabled_reason", "forced_down"}, k) {
			return nil, api.BadRequest("Invalid input for field/attribute request body. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	ctx := c.Request.Context()
	sv, err := s.store.GetService(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Service %s could not be found.", id)
	}
	if err != nil {
		return nil, err
	}
	cols := map[string]any{}
	status, hasStatus, err := stringField(m, "status", 1, 255)
	if err != nil {
		return nil, err
	}
	reason, hasReason, err := stringField(m, "disabled_reason", 1, 255)
	if err != nil {
		return nil, err
	}
	_, hasForced := m["forced_down"]
	if !hasStatus && !hasForced {
		return nil, api.BadRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.")
	}
	if hasStatus {
		switch status {
		case "enabled":
			if hasReason {
				return nil, api.BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
			}
			cols["disabled"], cols["disabled_reason"] = false, nil
		case "disabled":
			cols["disabled"] = true
			if hasReason {
				cols["disabled_reason"] = reason
			}
		default:
			return nil, api.BadRequest("Invalid input for field/attribute status. Value: %s. '%s' is not one of ['enabled', 'disabled']", status, status)
		}
	} else if hasReason {
		return nil, api.BadRequest("Invalid input for field/attribute disabled_reason. 'status' is a dependency of 'disabled_reason'")
	}
	if hasForced {
		fd, err := boolField(m, "forced_down", false)
		if err != nil {
			return nil, err
		}
		cols["forced_down"] = fd
	}
	if sv.Binary != binaryCompute {
		return nil, api.BadRequest("Updating a %s service is not supported. Only nova-compute services can be updated.", sv.Binary)
	}
	if sv, err = s.store.UpdateService(ctx, sv.ID, cols); err != nil {
		return nil, err
	}
	st, err := s.loadServices(ctx)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"service": s.serviceView(sv, st, v)}), nil
}

func bodyObject(c *gin.Context) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := api.BindJSON(c, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, api.BadRequest("The request body must be an object")
	}
	return m, nil
}

func (s *Service) legacyUpdateService(c *gin.Context, v Version, verb string) (*api.Response, error) {
	allowed := map[string][]string{"enable": {"host", "binary"}, "disable": {"host", "binary"},
		"disable-log-reason": {"host", "binary", "disabled_reason"}}
	if v.At(11) {
		allowed["force-down"] = []string{"host", "binary", "forced_down"}
	}
	fields, ok := allowed[verb]
	if !ok {
		return nil, api.NotFound("Unknown action")
	}
	m, err := bodyObject(c)
	if err != nil {
		return nil, err
	}
	for k := range m {
		if !contains(fields, k) {
			return nil, api.BadRequest("Invalid input for field/attribute request body. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	host, _, err := stringField(m, "host", 1, 255)
	if err != nil {
		return nil, err
	}
	binary, _, err := stringField(m, "binary", 1, 255)
	if err != nil {
		return nil, err
	}
	if host == "" || binary == "" {
		return nil, api.BadRequest("Invalid input for field/attribute request body. 'host' and 'binary' are required properties")
	}
	ctx := c.Request.Context()
	if _, err := s.loadServices(ctx); err != nil {
		return nil, err
	}
	sv, err := s.store.FindService(ctx, host, binary)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Host '%s' is not mapped to any cell", host)
	}
	if err != nil {
		return nil, err
	}
	cols := map[string]any{}
	out := gin.H{"host": host, "binary": binary}
	switch verb {
	case "enable":
		cols["disabled"], cols["disabled_reason"] = false, nil
		out["status"] = "enabled"
	case "disable":
		cols["disabled"] = true
		out["status"] = "disabled"
	case "disable-log-reason":
		reason, _, err := stringField(m, "disabled_reason", 1, 255)
		if err != nil {
			return nil, err
		}
		if reason == "" {
			return nil, api.BadRequest("Missing disabled reason field")
		}
		cols["disabled"], cols["disabled_reason"] = true, reason
		out["status"], out["disabled_reason"] = "disabled", reason
	case "force-down":
		fd, err := boolField(m, "forced_down", false)
		if err != nil {
			return nil, err
		}
		cols["forced_down"] = fd
		out["forced_down"] = fd
	}
	if _, err := s.store.UpdateService(ctx, sv.ID, cols); err != nil {
		return nil, err
	}
	return api.OK(gin.H{"service": out}), nil
}

// serviceID renders a service's ID as the version shows it.
func serviceID(sv store.Service, v Version) any {
	if v.At(53) {
		return sv.UUID
	}
	return sv.ID
}
