package placement

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/internal/daemon"
)

// Prefix is where placement lives in all-in-one.
const Prefix = "/placement"

// Policy is placement's default policy: everything is for admins (and, in
// Placement, the services acting for them), as in the Placement reference.
var Policy = map[string]string{
	"placement:resource_providers:list":             "rule:admin_required",
	"placement:resource_providers:show":             "rule:admin_required",
	"placement:resource_providers:inventories:list": "rule:admin_required",
	"placement:resource_providers:inventories:show": "rule:admin_required",
	"placement:resource_providers:usages":           "rule:admin_required",
	"placement:resource_providers:allocations:list": "rule:admin_required",
	"placement:resource_providers:aggregates:list":  "rule:admin_required",
	"placement:resource_providers:traits:list":      "rule:admin_required",
	"placement:allocations:list":                    "rule:admin_required",
	"placement:allocation_candidates:list":          "rule:admin_required",
	"placement:usages":                              "rule:admin_required",
}

// Deps are what the placement service needs.
type Deps struct {
	Store *store.Store
	Log   *slog.Logger
}

// Service is the placement API.
type Service struct {
	store *store.Store
	log   *slog.Logger
}

// New builds the placement service.
func New(deps Deps) *Service {
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: deps.Store, log: log.With("service", "placement")}
}

// Build is the daemon.Builder of the placement service: it registers the
// placement policy and serves the API on the daemon's database.
func Build(d daemon.Deps) (daemon.Service, error) {
	if err := d.Policy.Register(Policy); err != nil {
		return nil, err
	}
	return New(Deps{Store: store.New(d.DB), Log: d.Log}), nil
}

// Store returns the placement store the service reads.
func (s *Service) Store() *store.Store { return s.store }

// Start has nothing to start: placement has no workers.
func (s *Service) Start(context.Context) error { return nil }

// Stop has nothing to stop.
func (s *Service) Stop(context.Context) error { return nil }

// API declares placement's routes; each names the microversion it appeared
// in, and answers 404 below it, as Placement does.
func (s *Service) API() api.Service {
	G := http.MethodGet
	r := func(path, policy string, since int, h handler) api.Route {
		return api.Route{Method: G, Path: path, Policy: policy, Handler: s.versioned(since, h)}
	}
	rp := "/resource_providers/:uuid"
	return api.Service{
		Name:    "placement",
		Prefix:  Prefix,
		Dialect: api.DialectPlacement,
		Routes: []api.Route{
			r("", "", 0, s.root),
			r("/", "", 0, s.root),
			r("/resource_providers", "placement:resource_providers:list", 0, s.listProviders),
			r(rp, "placement:resource_providers:show", 0, s.getProvider),
			r(rp+"/inventories", "placement:resource_providers:inventories:list", 0, s.listInventories),
			r(rp+"/inventories/:rc", "placement:resource_providers:inventories:show", 0, s.getInventory),
			r(rp+"/usages", "placement:resource_providers:usages", 0, s.providerUsages),
			r(rp+"/aggregates", "placement:resource_providers:aggregates:list", 1, s.providerAggregates),
			r(rp+"/traits", "placement:resource_providers:traits:list", 6, s.providerTraits),
			r(rp+"/allocations", "placement:resource_providers:allocations:list", 0, s.providerAllocations),
			r("/allocations/:consumer_uuid", "placement:allocations:list", 0, s.consumerAllocations),
			r("/allocation_candidates", "placement:allocation_candidates:list", 10, s.allocationCandidates),
			r("/usages", "placement:usages", 9, s.projectUsages),
		},
	}
}
