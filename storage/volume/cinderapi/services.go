package cinderapi

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// pingWindow is how long os-services waits for managers to answer.
const pingWindow = 300 * time.Millisecond

// liveManagers pings every volume manager on the bus and returns the
// backend of each host that answered.
func (s *Service) liveManagers() (map[string]string, error) {
	subject, err := micro.ControlSubject(micro.PingVerb, work.ManagerService, "")
	if err != nil {
		return nil, err
	}
	nc := s.bus.Conn()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		return nil, err
	}
	out := map[string]string{}
	deadline := time.Now().Add(pingWindow)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return out, nil // the window is over
		}
		var id micro.ServiceIdentity
		if json.Unmarshal(msg.Data, &id) == nil && id.Metadata["host"] != "" {
			out[id.Metadata["host"]] = id.Metadata["backend"]
		}
	}
}

// listServices is the admin's GET /os-services: the scheduler (this API)
// and one cinder-volume per backend host, up when its manager answers a
// ping, down when only its volumes remember it.
func (s *Service) listServices(c *gin.Context, ver Version) (*api.Response, error) {
	live, err := s.liveManagers()
	if err != nil {
		return nil, api.Internal(err)
	}
	hosts, err := s.store.VolumeHosts(c.Request.Context())
	if err != nil {
		return nil, api.Internal(err)
	}
	all := map[string]string{}
	for _, h := range hosts {
		all[h] = s.cfg.Backend
	}
	for h, b := range live {
		all[h] = b
	}
	now := ts(time.Now())
	entry := func(binary, host, state string) gin.H {
		e := gin.H{"binary": binary, "host": host, "zone": s.cfg.Zone, "status": "enabled", "state": state,
			"updated_at": now, "disabled_reason": nil}
		if ver.At(7) {
			e["cluster"] = nil
		}
		if ver.At(49) && binary == "cinder-volume" {
			e["backend_state"] = state
		}
		return e
	}
	services := []gin.H{entry("cinder-scheduler", s.cfg.Host, "up")}
	names := make([]string, 0, len(all))
	for h := range all {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		state := "down"
		if _, ok := live[h]; ok {
			state = "up"
		}
		services = append(services, entry("cinder-volume", h+"@"+all[h], state))
	}
	var out []gin.H
	for _, e := range services {
		if b := c.Query("binary"); b != "" && e["binary"] != b {
			continue
		}
		if h := c.Query("host"); h != "" && e["host"] != h {
			continue
		}
		out = append(out, e)
	}
	if out == nil {
		out = []gin.H{}
	}
	return api.OK(gin.H{"services": out}), nil
}
