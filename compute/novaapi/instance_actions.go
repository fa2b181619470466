package novaapi

import (
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// actionInstance loads the server whose actions are asked for; from 2.21
// a deleted server's actions are shown too.
func (s *Service) actionInstance(c *gin.Context, v Version) (store.Instance, error) {
	if !v.At(21) {
		return s.instance(c)
	}
	id := c.Param("server_id")
	in, err := s.store.GetInstanceWithDeleted(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && in.ProjectID != api.Claims(c).ProjectID && !isAdmin(c)) {
		return store.Instance{}, api.NotFound("Instance %s could not be found.", id)
	}
	return in, err
}

func actionView(a store.InstanceAction, v Version) gin.H {
	out := gin.H{"action": a.Action, "instance_uuid": a.InstanceUUID, "message": a.Message, "project_id": a.ProjectID,
		"request_id": a.RequestID, "start_time": a.StartTime.UTC().Format(novaTime), "user_id": a.UserID}
	if v.At(58) {
		out["updated_at"] = novaTimePtr(a.UpdatedAt)
	}
	return out
}

func (s *Service) listInstanceActions(c *gin.Context, v Version) (*api.Response, error) {
	in, err := s.actionInstance(c, v)
	if err != nil {
		return nil, err
	}
	var f store.ActionFilter
	q := c.Request.URL.Query()
	if v.At(58) {
		if f.Limit, f.Marker, err = pageParams(q); err != nil {
			return nil, err
		}
		if f.ChangesSince, err = timeParam(q, "changes-since"); err != nil {
			return nil, err
		}
		if v.At(66) {
			if f.ChangesBefore, err = timeParam(q, "changes-before"); err != nil {
				return nil, err
			}
		}
		if err := checkChangesOrder(f.ChangesSince, f.ChangesBefore); err != nil {
			return nil, err
		}
	}
	acts, err := s.store.ListInstanceActions(c.Request.Context(), in.UUID, f)
	if errors.Is(err, store.ErrInvalid) {
		return nil, api.BadRequest("Marker %s could not be found.", f.Marker)
	}
	if err != nil {
		return nil, err
	}
	list := make([]gin.H, len(acts))
	for i, a := range acts {
		list[i] = actionView(a, v)
	}
	out := gin.H{"instanceActions": list}
	if _, given := q["limit"]; given && v.At(58) && len(acts) == f.Limit && f.Limit > 0 {
		out["links"] = nextLink(s.cfg.PublicURL+Prefix+"/v2.1/servers/"+in.UUID+"/os-instance-actions", q, acts[len(acts)-1].RequestID)
	}
	return api.OK(out), nil
}

func (s *Service) getInstanceAction(c *gin.Context, v Version) (*api.Response, error) {
	in, err := s.actionInstance(c, v)
	if err != nil {
		return nil, err
	}
	rid := c.Param("request_id")
	a, evs, err := s.store.GetInstanceAction(c.Request.Context(), in.UUID, rid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Action for request_id %s on instance %s not found", rid, in.UUID)
	}
	if err != nil {
		return nil, err
	}
	out := actionView(a, v)
	// Before 2.51 only those allowed the events rule see events; from
	// 2.51 everyone does, and the traceback stays behind that rule.
	full := api.Allowed(c, "os_compute_api:os-instance-actions:events", s.target(c))
	if full || v.At(51) {
		list := make([]gin.H, len(evs))
		for i, e := range evs {
			ev := gin.H{"event": e.Event, "start_time": e.StartTime.UTC().Format(novaTime),
				"finish_time": novaTimePtr(e.FinishTime), "result": e.Result}
			if full {
				ev["traceback"] = e.Traceback
			}
			if v.At(62) {
				ev["hostId"] = hostID(in.ProjectID, e.Host)
				if full {
					ev["host"] = e.Host
				}
			}
			if v.At(84) && api.Allowed(c, "os_compute_api:os-instance-actions:events:details", s.target(c)) {
				ev["details"] = e.Details
			}
			list[i] = ev
		}
		out["events"] = list
	}
	return api.OK(gin.H{"instanceAction": out}), nil
}
