package cinderapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/glance"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/storage/volume/store"
	"github.com/kumo-cloud/kumo/storage/volume/work"
)

// Prefix is where the volume service lives, in all-in-one and alone.
const Prefix = "/volume"

// Config tunes the volume API.
type Config struct {
	// PublicURL is the base URL clients reach kumo on.
	PublicURL string
	// Host is the backend host new volumes are placed on: this node's
	// volume manager.
	Host string
	// Backend is the driver's name, shown in os-vol-host-attr:host as
	// host@backend#pool.
	Backend string
	// Zone is the one availability zone ("nova", as Cinder's default).
	Zone string
	// ImageURL is the image service's endpoint (without /v2).
	ImageURL string
	// Default quotas (-1: unlimited).
	VolumesQuota, GigabytesQuota, SnapshotsQuota int64
}

// Deps are what the volume API needs from the daemon.
type Deps struct {
	Store *store.Store
	Bus   *bus.Bus
	Quota *quota.Engine
	Log   *slog.Logger
}

// Service is the volume API.
type Service struct {
	cfg    Config
	store  *store.Store
	bus    *bus.Bus
	quota  *quota.Engine
	glance *glance.Client
	log    *slog.Logger

	queue *bus.WorkQueue
	rpc   micro.Service
	once  sync.Once
}

// New builds the volume API.
func New(cfg Config, d Deps) *Service {
	if cfg.Zone == "" {
		cfg.Zone = "nova"
	}
	return &Service{cfg: cfg, store: d.Store, bus: d.Bus, quota: d.Quota, glance: glance.New(cfg.ImageURL),
		log: d.Log.With("service", "volume")}
}

// Start opens the work queue and events stream and serves compute's calls
// on the bus.
func (s *Service) Start(ctx context.Context) error {
	var err error
	if s.queue, err = work.Queue(ctx, s.bus); err != nil {
		return err
	}
	if _, err := bus.EnsureEventsStream(ctx, s.bus); err != nil {
		return err
	}
	return s.startRPC()
}

// Stop ends the bus endpoints; it is safe to call twice.
func (s *Service) Stop(context.Context) error {
	s.once.Do(func() {
		if s.rpc != nil {
			_ = s.rpc.Stop()
		}
	})
	return nil
}

// API declares the volume API's routes.
func (s *Service) API() api.Service {
	G, P, U, D := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	plain := func(m, path string, h api.Handler) api.Route { return api.Route{Method: m, Path: path, Handler: h} }
	// coll routes check the rule against the caller's own project.
	coll := func(m, path, rule string, since int, h handler) api.Route {
		return api.Route{Method: m, Path: "/v3/:project_id" + path, Policy: rule, Handler: versioned(since, h), Target: s.urlProject}
	}
	// obj routes load the object the path names (another project's is
	// 404) and check the rule against its project (a reader's write is 403).
	obj := func(m, path, rule string, since int, target func(*gin.Context, policy.Target) error, h handler) api.Route {
		return api.Route{Method: m, Path: "/v3/:project_id" + path, Policy: rule, Handler: versioned(since, h), Target: target}
	}
	// quota routes check the rule against the project they name.
	quotas := func(m, path, rule string, h handler) api.Route {
		return api.Route{Method: m, Path: "/v3/:project_id/os-quota-sets/:target_project_id" + path, Policy: rule,
			Handler: versioned(0, h), Target: s.quotaTarget}
	}
	vol, snap, att := s.volumeTarget, s.snapshotTarget, s.attachmentTarget
	vm, sm := s.volumeMeta(), s.snapshotMeta()
	routes := []api.Route{
		plain(G, "", s.allVersions),
		plain(G, "/", s.allVersions),
		plain(G, "/v3", s.v3Version),
		plain(G, "/v3/", s.v3Version),

		coll(G, "/volumes", "volume:get_all", 0, s.listVolumes),
		coll(G, "/volumes/detail", "volume:get_all", 0, s.listVolumesDetail),
		coll(P, "/volumes", "volume:create", 0, s.createVolume),
		obj(G, "/volumes/:volume_id", "volume:get", 0, vol, s.getVolume),
		obj(U, "/volumes/:volume_id", "volume:update", 0, vol, s.updateVolume),
		obj(D, "/volumes/:volume_id", "volume:delete", 0, vol, s.deleteVolume),
		obj(P, "/volumes/:volume_id/action", "volume:get", 0, vol, s.volumeAction),
		obj(G, "/volumes/:volume_id/metadata", "volume:get_volume_metadata", 0, vol, vm.get),
		obj(P, "/volumes/:volume_id/metadata", "volume:create_volume_metadata", 0, vol, vm.merge),
		obj(U, "/volumes/:volume_id/metadata", "volume:update_volume_metadata", 0, vol, vm.replace),
		obj(G, "/volumes/:volume_id/metadata/:key", "volume:get_volume_metadata", 0, vol, vm.getItem),
		obj(U, "/volumes/:volume_id/metadata/:key", "volume:update_volume_metadata", 0, vol, vm.setItem),
		obj(D, "/volumes/:volume_id/metadata/:key", "volume:delete_volume_metadata", 0, vol, vm.deleteItem),
		coll(G, "/volumes/summary", "volume:get_all", 12, s.volumeSummary),

		coll(G, "/snapshots", "volume:get_all_snapshots", 0, s.listSnapshots),
		coll(G, "/snapshots/detail", "volume:get_all_snapshots", 0, s.listSnapshotsDetail),
		coll(P, "/snapshots", "volume:create_snapshot", 0, s.createSnapshot),
		obj(G, "/snapshots/:snapshot_id", "volume:get_snapshot", 0, snap, s.getSnapshot),
		obj(U, "/snapshots/:snapshot_id", "volume:update_snapshot", 0, snap, s.updateSnapshot),
		obj(D, "/snapshots/:snapshot_id", "volume:delete_snapshot", 0, snap, s.deleteSnapshot),
		obj(G, "/snapshots/:snapshot_id/metadata", "volume:get_snapshot_metadata", 0, snap, sm.get),
		obj(P, "/snapshots/:snapshot_id/metadata", "volume:update_snapshot_metadata", 0, snap, sm.merge),
		obj(U, "/snapshots/:snapshot_id/metadata", "volume:update_snapshot_metadata", 0, snap, sm.replace),
		obj(G, "/snapshots/:snapshot_id/metadata/:key", "volume:get_snapshot_metadata", 0, snap, sm.getItem),
		obj(U, "/snapshots/:snapshot_id/metadata/:key", "volume:update_snapshot_metadata", 0, snap, sm.setItem),
		obj(D, "/snapshots/:snapshot_id/metadata/:key", "volume:delete_snapshot_metadata", 0, snap, sm.deleteItem),

		coll(G, "/types", "volume_extension:type_get_all", 0, s.listTypes),
		coll(P, "/types", "volume_extension:types_manage", 0, s.createType),
		coll(G, "/types/:type_id", "volume_extension:type_get", 0, s.getType),
		coll(U, "/types/:type_id", "volume_extension:types_manage", 0, s.updateType),
		coll(D, "/types/:type_id", "volume_extension:types_manage", 0, s.deleteType),
		coll(P, "/types/:type_id/action", "volume_extension:volume_type_access:addProjectAccess", 0, s.typeAction),
		coll(G, "/types/:type_id/os-volume-type-access", "volume_extension:volume_type_access", 0, s.typeAccessList),
		coll(G, "/types/:type_id/extra_specs", "volume_extension:types_extra_specs:index", 0, s.listExtraSpecs),
		coll(P, "/types/:type_id/extra_specs", "volume_extension:types_extra_specs:create", 0, s.createExtraSpecs),
		coll(G, "/types/:type_id/extra_specs/:key", "volume_extension:types_extra_specs:show", 0, s.getExtraSpec),
		coll(U, "/types/:type_id/extra_specs/:key", "volume_extension:types_extra_specs:update", 0, s.updateExtraSpec),
		coll(D, "/types/:type_id/extra_specs/:key", "volume_extension:types_extra_specs:delete", 0, s.deleteExtraSpec),

		coll(P, "/attachments", "volume:attachment_create", 27, s.createAttachment),
		coll(G, "/attachments", "volume:attachment_get_all", 27, s.listAttachments),
		coll(G, "/attachments/detail", "volume:attachment_get_all", 27, s.listAttachmentsDetail),
		obj(G, "/attachments/:attachment_id", "volume:attachment_get", 27, att, s.getAttachment),
		obj(U, "/attachments/:attachment_id", "volume:attachment_update", 27, att, s.updateAttachment),
		obj(D, "/attachments/:attachment_id", "volume:attachment_delete", 27, att, s.deleteAttachment),
		obj(P, "/attachments/:attachment_id/action", "volume:attachment_complete", 44, att, s.attachmentAction),

		quotas(G, "", "volume_extension:quotas:show", s.showQuotas),
		quotas(G, "/defaults", "volume_extension:quotas:show", s.defaultQuotas),
		quotas(U, "", "volume_extension:quotas:update", s.updateQuotas),
		quotas(D, "", "volume_extension:quotas:delete", s.deleteQuotas),
		coll(G, "/limits", "limits_extension:used_limits", 0, s.limits),
		coll(G, "/os-availability-zone", "volume_extension:availability_zone_list", 0, s.availabilityZones),
		coll(G, "/os-services", "volume_extension:services:index", 0, s.listServices),
	}
	return api.Service{Name: "volume", Prefix: Prefix, Dialect: api.DialectCinder, Routes: routes}
}

// isAdmin reports whether the caller is an admin.
func isAdmin(c *gin.Context) bool { return api.Allowed(c, "volume:context_is_admin", nil) }

// urlProject refuses a project in the URL that is not the caller's own,
// unless the caller is an admin: another project is not found.
func (s *Service) urlProject(c *gin.Context, _ policy.Target) error {
	if p := c.Param("project_id"); p != api.Claims(c).ProjectID && !isAdmin(c) {
		return api.NotFound("Project %s could not be found.", p)
	}
	return nil
}

// quotaTarget evaluates quota rules against the project they name.
func (s *Service) quotaTarget(c *gin.Context, t policy.Target) error {
	if err := s.urlProject(c, t); err != nil {
		return err
	}
	t["project_id"] = c.Param("target_project_id")
	return nil
}

// caller is on whose behalf an operation runs.
type caller struct {
	project string
	user    string
	admin   bool
	token   string
}

func callerOf(c *gin.Context) caller {
	cl := api.Claims(c)
	return caller{project: cl.ProjectID, user: cl.UserID, admin: isAdmin(c), token: api.Token(c)}
}

// sees reports whether the caller may see an object of project p.
func (k caller) sees(p string) bool { return k.admin || k.project == p }

const (
	ctxVolume     = "kumo.volume"
	ctxSnapshot   = "kumo.snapshot"
	ctxAttachment = "kumo.attachment"
)

// volumeTarget loads the volume the path names, hiding another project's.
func (s *Service) volumeTarget(c *gin.Context, t policy.Target) error {
	return pathTarget(s, c, t, "volume_id", ctxVolume, "Volume", s.store.GetVolume, func(v store.Volume) string { return v.ProjectID })
}

// snapshotTarget loads the snapshot the path names.
func (s *Service) snapshotTarget(c *gin.Context, t policy.Target) error {
	return pathTarget(s, c, t, "snapshot_id", ctxSnapshot, "Snapshot", s.store.GetSnapshot, func(sn store.Snapshot) string { return sn.ProjectID })
}

// attachmentTarget loads the attachment the path names.
func (s *Service) attachmentTarget(c *gin.Context, t policy.Target) error {
	return pathTarget(s, c, t, "attachment_id", ctxAttachment, "VolumeAttachment", s.store.GetAttachment, func(a store.Attachment) string { return a.ProjectID })
}

// pathTarget checks the URL's project, loads the object path parameter
// param names with get (Cinder's 404 for one the caller may not see),
// keeps it in the request under key and gives its project to the policy
// target.
func pathTarget[T any](s *Service, c *gin.Context, t policy.Target, param, key, kind string,
	get func(context.Context, string) (T, error), project func(T) string) error {
	if err := s.urlProject(c, t); err != nil {
		return err
	}
	obj, err := visible(c.Request.Context(), callerOf(c), kind, c.Param(param), get, project)
	if err != nil {
		return err
	}
	c.Set(key, obj)
	t["project_id"] = project(obj)
	return nil
}

// visibleVolume returns a volume the caller may see, or Cinder's 404.
func (s *Service) visibleVolume(ctx context.Context, k caller, id string) (store.Volume, error) {
	return visible(ctx, k, "Volume", id, s.store.GetVolume, func(v store.Volume) string { return v.ProjectID })
}

// visible returns what get finds for id if the caller may see its
// project, else Cinder's "<kind> <id> could not be found." (404).
func visible[T any](ctx context.Context, k caller, kind, id string, get func(context.Context, string) (T, error), project func(T) string) (T, error) {
	obj, err := get(ctx, id)
	if err == nil && !k.sees(project(obj)) {
		err = store.ErrNotFound
	}
	if err != nil {
		var zero T
		return zero, notFound(err, "%s %s could not be found.", kind, id)
	}
	return obj, nil
}

// notFound turns a store miss into a 404 with Cinder's message and any
// other failure into a 500; nil stays nil.
func notFound(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return api.NotFound(format, args...)
	}
	return api.Internal(err)
}

// invalidVolume is Cinder's InvalidVolume (400).
func invalidVolume(format string, args ...any) error {
	e := api.BadRequest(format, args...)
	e.Message = "Invalid volume: " + e.Message
	return e
}

// invalidInput is Cinder's InvalidInput (400).
func invalidInput(format string, args ...any) error {
	e := api.BadRequest(format, args...)
	e.Message = "Invalid input received: " + e.Message
	return e
}
