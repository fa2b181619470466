package neutronapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/network/store"
)

// Prefix is where the network API lives in all-in-one; clients append v2.0/.
const Prefix = "/network"

// Config tunes the network API.
type Config struct {
	// PublicURL is the base URL clients reach kumo on; links are built on it.
	PublicURL string
	// TenantMTU is the MTU of VXLAN tenant networks (1500 less VXLAN's 50
	// bytes); ExternalMTU that of flat networks.
	TenantMTU, ExternalMTU int
	// Public, when set, is the external network created at the first start.
	Public *PublicNetwork
}

// PublicNetwork describes the all-in-one external network.
type PublicNetwork struct {
	Name, PhysicalNetwork, CIDR, Gateway, PoolStart, PoolEnd string
}

// DefaultPublic is DevStack's public network: 172.24.4.0/24 behind the
// host's gateway address 172.24.4.1.
var DefaultPublic = PublicNetwork{Name: "public", PhysicalNetwork: "public", CIDR: "172.24.4.0/24",
	Gateway: "172.24.4.1", PoolStart: "172.24.4.10", PoolEnd: "172.24.4.250"}

// Deps are what the network API needs from the daemon.
type Deps struct {
	Store *store.Store
	Quota *quota.Engine
	Log   *slog.Logger
	// Bus carries change events; nil publishes none.
	Bus *bus.Bus
}

// Service is the network API.
type Service struct {
	cfg   Config
	store *store.Store
	quota *quota.Engine
	bus   *bus.Bus
	log   *slog.Logger
	// rpc serves compute's port requests (rpc.go).
	rpc micro.Service
}

// New builds the network API.
func New(cfg Config, deps Deps) *Service {
	if cfg.TenantMTU == 0 {
		cfg.TenantMTU = 1450
	}
	if cfg.ExternalMTU == 0 {
		cfg.ExternalMTU = 1500
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, store: deps.Store, quota: deps.Quota, bus: deps.Bus, log: log.With("service", "network")}
}

// Build is the daemon.Builder of the network API: it registers Neutron's
// policy and quota defaults, and creates the public external network at
// the first start.
func Build(d daemon.Deps) (daemon.Service, error) {
	if err := d.Policy.Register(Policy); err != nil {
		return nil, err
	}
	d.Quota.Register(DefaultQuotas)
	pub := DefaultPublic
	return New(Config{PublicURL: d.URL, Public: &pub}, Deps{Store: store.New(d.DB), Quota: d.Quota, Log: d.Log, Bus: d.Bus}), nil
}

// Store returns the network store the service writes.
func (s *Service) Store() *store.Store { return s.store }

// Start opens the events stream, serves compute's port requests and
// creates the public network if missing.
func (s *Service) Start(ctx context.Context) error {
	if s.bus != nil {
		if _, err := bus.EnsureEventsStream(ctx, s.bus); err != nil {
			return err
		}
		if err := s.startRPC(); err != nil {
			return err
		}
	}
	if s.cfg.Public != nil {
		return s.ensurePublic(ctx, *s.cfg.Public)
	}
	return nil
}

// Stop ends the bus endpoints.
func (s *Service) Stop(context.Context) error {
	if s.rpc != nil {
		return s.rpc.Stop()
	}
	return nil
}

// publish emits kumo.events.network.<resource>.<action> after a change has
// committed. A lost event only delays the agent until its next periodic
// reconcile, so failures are logged, not returned.
func (s *Service) publish(ctx context.Context, resource, action, id, project string, payload any) {
	if s.bus == nil {
		return
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		s.log.Warn("encode event", "resource", resource, "error", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = bus.PublishEvent(ctx, s.bus, bus.Event{Service: "network", Resource: resource, Action: action,
		ResourceID: id, ProjectID: project, Payload: raw})
	if err != nil {
		s.log.Warn("publish event", "resource", resource, "action", action, "id", id, "error", err)
	}
}

// API declares the network routes under /v2.0, with Neutron's policy rule
// names.
func (s *Service) API() api.Service {
	G, P, U, D := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	r := func(method, path, policy string, h api.Handler) api.Route {
		return api.Route{Method: method, Path: "/v2.0" + path, Policy: policy, Handler: h}
	}
	routes := []api.Route{
		{Method: G, Path: "", Handler: s.versions},
		{Method: G, Path: "/", Handler: s.versions},
		r(G, "", "", s.resources),
		r(G, "/", "", s.resources),
		r(G, "/extensions", "get_extension", s.listExtensions),
		r(G, "/extensions/:alias", "get_extension", s.getExtension),

		r(G, "/networks", "get_network", s.listNetworks),
		r(P, "/networks", "create_network", s.createNetwork),
		r(G, "/networks/:id", "get_network", s.getNetwork),
		r(U, "/networks/:id", "update_network", s.updateNetwork),
		r(D, "/networks/:id", "delete_network", s.deleteNetwork),

		r(G, "/subnets", "get_subnet", s.listSubnets),
		r(P, "/subnets", "create_subnet", s.createSubnet),
		r(G, "/subnets/:id", "get_subnet", s.getSubnet),
		r(U, "/subnets/:id", "update_subnet", s.updateSubnet),
		r(D, "/subnets/:id", "delete_subnet", s.deleteSubnet),

		r(G, "/ports", "get_port", s.listPorts),
		r(P, "/ports", "create_port", s.createPort),
		r(G, "/ports/:id", "get_port", s.getPort),
		r(U, "/ports/:id", "update_port", s.updatePort),
		r(D, "/ports/:id", "delete_port", s.deletePort),

		r(G, "/security-groups", "get_security_group", s.listSecurityGroups),
		r(P, "/security-groups", "create_security_group", s.createSecurityGroup),
		r(G, "/security-groups/:id", "get_security_group", s.getSecurityGroup),
		r(U, "/security-groups/:id", "update_security_group", s.updateSecurityGroup),
		r(D, "/security-groups/:id", "delete_security_group", s.deleteSecurityGroup),

		r(G, "/security-group-rules", "get_security_group_rule", s.listRules),
		r(P, "/security-group-rules", "create_security_group_rule", s.createRule),
		r(G, "/security-group-rules/:id", "get_security_group_rule", s.getRule),
		r(D, "/security-group-rules/:id", "delete_security_group_rule", s.deleteRule),

		r(G, "/routers", "get_router", s.listRouters),
		r(P, "/routers", "create_router", s.createRouter),
		r(G, "/routers/:id", "get_router", s.getRouter),
		r(U, "/routers/:id", "update_router", s.updateRouter),
		r(D, "/routers/:id", "delete_router", s.deleteRouter),
		r(U, "/routers/:id/add_router_interface", "add_router_interface", s.addRouterInterface),
		r(U, "/routers/:id/remove_router_interface", "remove_router_interface", s.removeRouterInterface),

		r(G, "/floatingips", "get_floatingip", s.listFloatingIPs),
		r(P, "/floatingips", "create_floatingip", s.createFloatingIP),
		r(G, "/floatingips/:id", "get_floatingip", s.getFloatingIP),
		r(U, "/floatingips/:id", "update_floatingip", s.updateFloatingIP),
		r(D, "/floatingips/:id", "delete_floatingip", s.deleteFloatingIP),

		r(G, "/quotas", "get_quota", s.listQuotas),
		r(G, "/quotas/:id", "get_quota", s.showQuota),
		r(G, "/quotas/:id/default", "get_quota", s.defaultQuota),
		r(G, "/quotas/:id/details", "get_quota", s.detailQuota),
		// gophercloud asks for quota details with Neutron's old .json suffix.
		r(G, "/quotas/:id/details.json", "get_quota", s.detailQuota),
		r(U, "/quotas/:id", "update_quota", s.updateQuota),
		r(D, "/quotas/:id", "delete_quota", s.deleteQuota),
	}
	for _, coll := range []string{"networks", "subnets", "ports", "security-groups", "routers", "floatingips"} {
		base := "/" + coll + "/:id/tags"
		routes = append(routes,
			r(G, base, "get_"+tagRule(coll), s.tags(coll, tagList)),
			r(U, base, "update_"+tagRule(coll), s.tags(coll, tagReplace)),
			r(D, base, "update_"+tagRule(coll), s.tags(coll, tagClear)),
			r(G, base+"/:tag", "get_"+tagRule(coll), s.tags(coll, tagCheck)),
			r(U, base+"/:tag", "update_"+tagRule(coll), s.tags(coll, tagAdd)),
			r(D, base+"/:tag", "update_"+tagRule(coll), s.tags(coll, tagRemove)),
		)
	}
	return api.Service{Name: "network", Prefix: Prefix, Dialect: api.DialectNeutron, Routes: routes}
}

// caller is who is asking: their project and whether they are an admin.
type caller struct {
	project string
	admin   bool
}

func callerOf(c *gin.Context) caller {
	cl := api.Claims(c)
	return caller{project: cl.ProjectID, admin: api.Allowed(c, "context_is_admin", nil)}
}

// owns reports whether the caller may see a row owned by project.
func (k caller) owns(project string) bool { return k.admin || project == k.project }

// ownerFor is the project a new resource belongs to: the caller's, or, for
// an admin, the project_id/tenant_id in the request.
func ownerFor(c *gin.Context, a attrs) (string, error) {
	k := callerOf(c)
	p, _, err := a.str("project_id")
	if err != nil {
		return "", err
	}
	t, _, err := a.str("tenant_id")
	if err != nil {
		return "", err
	}
	if p != "" && t != "" && p != t {
		return "", badRequest("'project_id' and 'tenant_id' do not match")
	}
	if p == "" {
		p = t
	}
	if p == "" || p == k.project {
		return k.project, nil
	}
	if !k.admin {
		return "", api.Forbidden("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges").WithType("HTTPForbidden")
	}
	return p, nil
}

// meta renders the standard attributes of a resource.
func meta(v view, m store.Meta) view {
	v["id"] = m.ID
	v["project_id"] = m.ProjectID
	v["tenant_id"] = m.ProjectID
	tags := []string(m.Tags)
	if tags == nil {
		tags = []string{}
	}
	v["tags"] = tags
	v["revision_number"] = m.RevisionNumber
	v["created_at"] = m.CreatedAt.UTC().Format(time.RFC3339)
	v["updated_at"] = m.UpdatedAt.UTC().Format(time.RFC3339)
	return v
}
