package novaapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	pstore "github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/compute/scheduler"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/glance"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// Prefix is where the compute API lives in all-in-one; the catalog lists
// Prefix + "/v2.1".
const Prefix = "/compute"

// Quota resources of the compute service, with Nova's default limits.
const (
	ResourceInstances          = store.QuotaInstances
	ResourceCores              = store.QuotaCores
	ResourceRAM                = store.QuotaRAM
	ResourceKeyPairs           = "compute.key_pairs"
	ResourceServerGroups       = "compute.server_groups"
	ResourceServerGroupMembers = "compute.server_group_members"
	ResourceMetadataItems      = "compute.metadata_items"
	// The personality-file quotas exist before microversion 2.57 only.
	ResourceInjectedFiles            = "compute.injected_files"
	ResourceInjectedFileContentBytes = "compute.injected_file_content_bytes"
	ResourceInjectedFilePathBytes    = "compute.injected_file_path_bytes"
)

// DefaultQuotas are Nova's default per-project limits.
//
// key_pairs is per user in Nova. kumo's quota engine accounts per key, so
// key pairs are charged under the owning user's ID rather than a project's:
// a user's limit is the default, or the override set for the user with
// PUT /os-quota-sets/{project_id}?user_id={user_id}; a project-wide
// override of key_pairs also caps every user of the project.
var DefaultQuotas = quota.Defaults{
	ResourceInstances:                10,
	ResourceCores:                    20,
	ResourceRAM:                      51200,
	ResourceKeyPairs:                 100,
	ResourceServerGroups:             10,
	ResourceServerGroupMembers:       10,
	ResourceMetadataItems:            128,
	ResourceInjectedFiles:            5,
	ResourceInjectedFileContentBytes: 10240,
	ResourceInjectedFilePathBytes:    255,
}

// Config tunes the compute API.
type Config struct {
	// PublicURL is the base URL clients reach kumo on; links are built on it.
	PublicURL string
	// Zone is the one availability zone until host aggregates exist.
	Zone string
	// Flavors are created at the first start if missing (DefaultFlavors
	// when nil).
	Flavors []store.Flavor
	// ImageURL is the image service's endpoint; empty checks no images
	// and serves no snapshots.
	ImageURL string
	// Pack makes the scheduler fill the fullest host that fits first
	// instead of spreading servers over the emptiest.
	Pack bool
}

// Deps are what the compute API needs from the daemon.
type Deps struct {
	Store *store.Store
	Quota *quota.Engine
	Log   *slog.Logger
	// Placement is where servers claim their resources.
	Placement *pstore.Store
	// Bus carries work to the compute agents; nil serves no servers.
	Bus *bus.Bus
}

// Service is the compute API.
type Service struct {
	cfg   Config
	store *store.Store
	quota *quota.Engine
	log   *slog.Logger

	placement *pstore.Store
	sched     *scheduler.Scheduler
	bus       *bus.Bus
	queue     *bus.WorkQueue
	beats     *bus.Heartbeats[work.HostInfo]
	glance    *glance.Client
	// metadataRPC answers the network service's metadata proxy.
	metadataRPC micro.Service
}

// New builds the compute API.
func New(cfg Config, deps Deps) *Service {
	if cfg.Zone == "" {
		cfg.Zone = "nova"
	}
	if cfg.Flavors == nil {
		cfg.Flavors = DefaultFlavors()
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, store: deps.Store, quota: deps.Quota, log: log.With("service", "compute"),
		placement: deps.Placement, sched: scheduler.New(!cfg.Pack), bus: deps.Bus}
	if cfg.ImageURL != "" {
		s.glance = glance.New(cfg.ImageURL)
	}
	return s
}

// Build is the daemon.Builder of the compute API: it registers Nova's
// policy and quota defaults and serves the API on the daemon's database.
func Build(d daemon.Deps) (daemon.Service, error) {
	if err := d.Policy.Register(Policy); err != nil {
		return nil, err
	}
	d.Quota.Register(DefaultQuotas)
	imageURL := d.Config.ImageURL
	if imageURL == "" {
		imageURL = d.URL + "/image"
	}
	return New(Config{PublicURL: d.URL, ImageURL: imageURL, Pack: d.Config.SchedulerWeighing == "pack"}, Deps{Store: store.New(d.DB), Quota: d.Quota, Log: d.Log,
		Placement: pstore.New(d.DB), Bus: d.Bus}), nil
}

// Store returns the compute store the service reads.
func (s *Service) Store() *store.Store { return s.store }

// Start creates the default flavors that do not exist yet (idempotent) and
// opens the work queue and heartbeat bucket shared with compute agents.
func (s *Service) Start(ctx context.Context) error {
	if err := s.store.EnsureFlavors(ctx, s.cfg.Flavors); err != nil {
		return err
	}
	if s.bus == nil {
		return nil
	}
	var err error
	if s.queue, err = work.Queue(ctx, s.bus); err != nil {
		return err
	}
	if s.beats, err = work.Heartbeats(ctx, s.bus); err != nil {
		return err
	}
	if _, err = bus.EnsureEventsStream(ctx, s.bus); err != nil {
		return err
	}
	return s.startMetadataRPC()
}

// Stop closes the instance metadata endpoint; the API runs no workers.
func (s *Service) Stop(context.Context) error {
	if s.metadataRPC != nil {
		return s.metadataRPC.Stop()
	}
	return nil
}

// DefaultFlavors are the m1 flavors sized for a small host and the
// kumo-tiny image (which needs 96 MiB: Debian's kernel decompresses above
// 16 MiB), and k1.nano, the smallest that boots kumo-tiny. Nova's own m1
// sizes (512 MiB to 16 GiB) would not fit many guests on a 2-core host.
func DefaultFlavors() []store.Flavor {
	f := func(id, name string, ram, vcpus, disk int) store.Flavor {
		return store.Flavor{FlavorID: id, Name: name, MemoryMB: ram, VCPUs: vcpus, RootGB: disk, RxTxFactor: 1, IsPublic: true}
	}
	return []store.Flavor{
		f("1", "m1.tiny", 128, 1, 1),
		f("2", "m1.small", 256, 1, 2),
		f("3", "m1.medium", 512, 2, 5),
		f("4", "m1.large", 1024, 2, 10),
		f("k1.nano", "k1.nano", 96, 1, 1),
	}
}

// API declares the compute routes. Every resource route is served under
// /v2.1 (microversioned) and under the legacy /v2 (2.1 semantics, no
// microversion headers), as Nova serves both.
func (s *Service) API() api.Service {
	G, P, U, D := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	type route struct {
		method, path, policy string
		since, until         int
		h                    handler
	}
	r := func(method, path, policy string, h handler) route {
		return route{method: method, path: path, policy: policy, since: 1, h: h}
	}
	since := func(minor int, rt route) route { rt.since = minor; return rt }
	until := func(minor int, rt route) route { rt.until = minor; return rt }
	fl := "/flavors/:flavor_id"
	sv := "/servers/:server_id"
	resources := []route{
		r(G, "/flavors", "os_compute_api:flavors:index", s.listFlavors),
		r(G, "/flavors/detail", "os_compute_api:flavors:index", s.listFlavorsDetail),
		r(G, fl, "os_compute_api:flavors:show", s.getFlavor),
		r(P, "/flavors", "os_compute_api:os-flavor-manage:create", s.createFlavor),
		since(55, r(U, fl, "os_compute_api:os-flavor-manage:update", s.updateFlavor)),
		r(D, fl, "os_compute_api:os-flavor-manage:delete", s.deleteFlavor),
		r(G, fl+"/os-extra_specs", "os_compute_api:os-flavor-extra-specs:index", s.listExtraSpecs),
		r(P, fl+"/os-extra_specs", "os_compute_api:os-flavor-extra-specs:create", s.createExtraSpecs),
		r(G, fl+"/os-extra_specs/:key", "os_compute_api:os-flavor-extra-specs:show", s.getExtraSpec),
		r(U, fl+"/os-extra_specs/:key", "os_compute_api:os-flavor-extra-specs:update", s.updateExtraSpec),
		r(D, fl+"/os-extra_specs/:key", "os_compute_api:os-flavor-extra-specs:delete", s.deleteExtraSpec),
		r(G, fl+"/os-flavor-access", "os_compute_api:os-flavor-access", s.listFlavorAccess),
		// The action's own rule (add or remove) is checked in the handler.
		r(P, fl+"/action", "os_compute_api:flavors:show", s.flavorAction),

		r(G, "/os-keypairs", "os_compute_api:os-keypairs:index", s.listKeyPairs),
		r(P, "/os-keypairs", "os_compute_api:os-keypairs:create", s.createKeyPair),
		r(G, "/os-keypairs/:keypair_name", "os_compute_api:os-keypairs:show", s.getKeyPair),
		r(D, "/os-keypairs/:keypair_name", "os_compute_api:os-keypairs:delete", s.deleteKeyPair),

		r(G, "/limits", "os_compute_api:limits", s.limits),
		r(G, "/os-quota-sets/:project_id", "os_compute_api:os-quota-sets:show", s.showQuotaSet),
		r(G, "/os-quota-sets/:project_id/defaults", "os_compute_api:os-quota-sets:defaults", s.defaultQuotaSet),
		r(G, "/os-quota-sets/:project_id/detail", "os_compute_api:os-quota-sets:detail", s.detailQuotaSet),
		r(U, "/os-quota-sets/:project_id", "os_compute_api:os-quota-sets:update", s.updateQuotaSet),
		r(D, "/os-quota-sets/:project_id", "os_compute_api:os-quota-sets:delete", s.deleteQuotaSet),

		r(G, "/os-availability-zone", "os_compute_api:os-availability-zone:list", s.listZones),
		r(G, "/os-availability-zone/detail", "os_compute_api:os-availability-zone:detail", s.detailZones),

		r(P, "/servers", "os_compute_api:servers:create", s.createServer),
		r(G, "/servers", "os_compute_api:servers:index", s.listServers),
		r(G, "/servers/detail", "os_compute_api:servers:detail", s.listServersDetail),
		r(G, "/servers/:server_id", "os_compute_api:servers:show", s.getServer),
		r(D, "/servers/:server_id", "os_compute_api:servers:delete", s.deleteServer),
		// Each action's own rule is checked in the handler.
		r(P, "/servers/:server_id/action", "os_compute_api:servers:show", s.serverAction),
		since(6, r(P, "/servers/:server_id/remote-consoles", consoleRule, s.createRemoteConsole)),

		r(U, "/servers/:server_id", "os_compute_api:servers:update", s.updateServer),
		r(G, sv+"/metadata", "os_compute_api:server-metadata:index", s.listMetadata),
		r(P, sv+"/metadata", "os_compute_api:server-metadata:create", s.createMetadata),
		r(U, sv+"/metadata", "os_compute_api:server-metadata:update_all", s.replaceMetadata),
		r(G, sv+"/metadata/:key", "os_compute_api:server-metadata:show", s.getMetadataItem),
		r(U, sv+"/metadata/:key", "os_compute_api:server-metadata:update", s.updateMetadataItem),
		r(D, sv+"/metadata/:key", "os_compute_api:server-metadata:delete", s.deleteMetadataItem),
		since(26, r(G, sv+"/tags", "os_compute_api:os-server-tags:index", s.listTags)),
		since(26, r(U, sv+"/tags", "os_compute_api:os-server-tags:update_all", s.replaceTags)),
		since(26, r(D, sv+"/tags", "os_compute_api:os-server-tags:delete_all", s.deleteTags)),
		since(26, r(G, sv+"/tags/:tag", "os_compute_api:os-server-tags:show", s.checkTag)),
		since(26, r(U, sv+"/tags/:tag", "os_compute_api:os-server-tags:update", s.addTag)),
		since(26, r(D, sv+"/tags/:tag", "os_compute_api:os-server-tags:delete", s.deleteTag)),
		r(G, sv+"/os-interface", "os_compute_api:os-attach-interfaces:list", s.listInterfaces),
		r(P, sv+"/os-interface", "os_compute_api:os-attach-interfaces:create", s.attachInterface),
		r(G, sv+"/os-interface/:port_id", "os_compute_api:os-attach-interfaces:show", s.getInterface),
		r(D, sv+"/os-interface/:port_id", "os_compute_api:os-attach-interfaces:delete", s.detachInterface),
		r(G, sv+"/os-volume_attachments", "os_compute_api:os-volumes-attachments:index", s.listVolumeAttachments),
		r(P, sv+"/os-volume_attachments", "os_compute_api:os-volumes-attachments:create", s.attachVolume),
		r(G, sv+"/os-volume_attachments/:volume_id", "os_compute_api:os-volumes-attachments:show", s.getVolumeAttachment),
		// The update and swap rules are checked in the handler.
		r(U, sv+"/os-volume_attachments/:volume_id", "os_compute_api:os-volumes-attachments:show", s.updateVolumeAttachment),
		r(D, sv+"/os-volume_attachments/:volume_id", "os_compute_api:os-volumes-attachments:delete", s.detachVolume),
		r(G, sv+"/os-instance-actions", "os_compute_api:os-instance-actions:list", s.listInstanceActions),
		r(G, sv+"/os-instance-actions/:request_id", "os_compute_api:os-instance-actions:show", s.getInstanceAction),

		r(G, "/os-server-groups", "os_compute_api:os-server-groups:index", s.listServerGroups),
		r(P, "/os-server-groups", "os_compute_api:os-server-groups:create", s.createServerGroup),
		r(G, "/os-server-groups/:group_id", "os_compute_api:os-server-groups:show", s.getServerGroup),
		r(D, "/os-server-groups/:group_id", "os_compute_api:os-server-groups:delete", s.deleteServerGroup),

		r(G, "/os-services", "os_compute_api:os-services:list", s.listServices),
		r(U, "/os-services/:service_id", "os_compute_api:os-services:update", s.updateService),
		r(G, "/os-hypervisors", "os_compute_api:os-hypervisors:list", s.listHypervisors),
		r(G, "/os-hypervisors/detail", "os_compute_api:os-hypervisors:list-detail", s.listHypervisorsDetail),
		r(G, "/os-hypervisors/statistics", "os_compute_api:os-hypervisors:statistics", s.hypervisorStatistics),
		r(G, "/os-hypervisors/:hypervisor_id", "os_compute_api:os-hypervisors:show", s.getHypervisor),
		until(52, r(G, "/os-hypervisors/:hypervisor_id/search", "os_compute_api:os-hypervisors:search", s.searchHypervisors(false))),
		until(52, r(G, "/os-hypervisors/:hypervisor_id/servers", "os_compute_api:os-hypervisors:servers", s.searchHypervisors(true))),
		r(G, "/os-migrations", "os_compute_api:os-migrations:index", s.listMigrations),

		r(G, "/extensions", "os_compute_api:extensions", s.listExtensions),
		r(G, "/extensions/:alias", "os_compute_api:extensions", s.getExtension),
	}
	routes := []api.Route{
		{Method: G, Path: "", Handler: s.versions},
		{Method: G, Path: "/", Handler: s.versions},
		{Method: G, Path: "/v2.1", Handler: s.version(false)},
		{Method: G, Path: "/v2.1/", Handler: s.version(false)},
		{Method: G, Path: "/v2", Handler: s.version(true)},
		{Method: G, Path: "/v2/", Handler: s.version(true)},
		s.serialProxyRoute(),
	}
	for _, base := range []string{"/v2.1", "/v2"} {
		legacy := base == "/v2"
		for _, rt := range resources {
			route := api.Route{Method: rt.method, Path: base + rt.path, Policy: rt.policy,
				Handler: versioned(rt.since, rt.until, legacy, rt.h)}
			// Reading another user's key pair or another project's quotas
			// answers 404, as if it did not exist.
			route.HideDenied = rt.method == G && (strings.HasPrefix(rt.path, "/os-keypairs/") || strings.HasPrefix(rt.path, "/os-quota-sets/"))
			// Another project's server group is not found rather than
			// forbidden.
			route.HideDenied = route.HideDenied || strings.HasPrefix(rt.path, "/os-server-groups/")
			routes = append(routes, route)
		}
	}
	return api.Service{Name: "compute", Prefix: Prefix, Dialect: api.DialectNova, Routes: routes}
}
