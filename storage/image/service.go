package image

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/storage/image/backend"
	"github.com/kumo-cloud/kumo/storage/image/inspect"
	"github.com/kumo-cloud/kumo/storage/image/store"
)

// Prefix is where the image service lives in all-in-one; clients append v2/.
const Prefix = "/image"

// Quota resources of the image service.
const (
	// ResourceImages counts a project's images.
	ResourceImages = "image.images"
	// ResourceSizeTotal counts the bytes of a project's active images.
	ResourceSizeTotal = "image.image_size_total"
)

// Config tunes the image service.
type Config struct {
	// PublicURL is the base URL clients reach kumo on.
	PublicURL string
	// ImagesQuota and SizeTotalQuota are the default per-project limits
	// (-1: unlimited); SizeTotalQuota is in bytes.
	ImagesQuota    int64
	SizeTotalQuota int64
	// Inspect bounds qemu-img when it inspects uploads.
	Inspect inspect.Limits
}

// Deps are what the image service needs from the daemon.
type Deps struct {
	Store *store.Store
	Bus   *bus.Bus
	Quota *quota.Engine
	// Driver holds active images' data; Staging holds data staged for
	// glance-direct imports.
	Driver  backend.Driver
	Staging backend.Driver
	Log     *slog.Logger
}

// Service is the image service.
type Service struct {
	cfg     Config
	store   *store.Store
	bus     *bus.Bus
	quota   *quota.Engine
	driver  backend.Driver
	staging backend.Driver
	log     *slog.Logger

	// ctx ends the service's background work (imports, sweeps) at Stop.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New builds the image service.
func New(cfg Config, deps Deps) *Service {
	if cfg.Inspect == (inspect.Limits{}) {
		cfg.Inspect = inspect.DefaultLimits
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, store: deps.Store, bus: deps.Bus, quota: deps.Quota, driver: deps.Driver,
		staging: deps.Staging, log: deps.Log.With("service", "image"), ctx: ctx, cancel: cancel}
}

// sweeper is implemented by drivers that clean abandoned staging files.
type sweeper interface {
	Sweep(ctx context.Context) error
}

// Start recovers uploads a stopped process left behind and launches the
// periodic sweep of abandoned upload files.
func (s *Service) Start(ctx context.Context) error {
	if s.bus != nil {
		if _, err := bus.EnsureEventsStream(ctx, s.bus); err != nil {
			return err
		}
	}
	if err := s.recoverUploads(ctx); err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
				for _, d := range []backend.Driver{s.driver, s.staging} {
					if sw, ok := d.(sweeper); ok {
						if err := sw.Sweep(s.ctx); err != nil && !errors.Is(err, context.Canceled) {
							s.log.Warn("sweep image staging files", "error", err)
						}
					}
				}
			}
		}
	}()
	return nil
}

// recoverUploads returns images whose upload or import was cut by a stop to
// queued: their partial data went with the process (the file backend
// discards its staging files when it opens), so they can be uploaded again.
// One image process owns a backend directory, so no live upload is touched.
func (s *Service) recoverUploads(ctx context.Context) error {
	for _, from := range []string{store.StatusSaving, store.StatusImporting} {
		ids, err := s.store.ResetStatus(ctx, from, store.StatusQueued)
		if err != nil {
			return err
		}
		for _, id := range ids {
			s.log.Warn("image upload was interrupted; image is queued again", "image_id", id, "was", from)
			if err := s.staging.Delete(ctx, id); err != nil {
				s.log.Warn("delete staged image data", "image_id", id, "error", err)
			}
		}
	}
	return nil
}

// Stop cancels background work (imports in progress fail and are cleaned
// up) and waits for it; it is safe to call twice.
func (s *Service) Stop(ctx context.Context) error {
	s.once.Do(s.cancel)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// API declares the image service's routes.
func (s *Service) API() api.Service {
	G, P, D, U, A := http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodPut
	// read routes see any image visible to the caller; owner routes check
	// the rule against the image's owner (another project's visible image
	// is 403, an invisible one 404).
	read := func(method, path, rule string, h api.Handler) api.Route {
		return api.Route{Method: method, Path: path, Policy: rule, Handler: h, Target: s.readTarget, HideDenied: true}
	}
	owner := func(method, path, rule string, h api.Handler) api.Route {
		return api.Route{Method: method, Path: path, Policy: rule, Handler: h, Target: s.ownerTarget}
	}
	plain := func(method, path, rule string, h api.Handler) api.Route {
		return api.Route{Method: method, Path: path, Policy: rule, Handler: h}
	}
	routes := []api.Route{
		plain(G, "", "", s.versions),
		plain(G, "/", "", s.versions),
		plain(G, "/versions", "", s.versionsOK),
		plain(G, "/v2", "", s.versions),
		plain(G, "/v2/", "", s.versions),

		plain(G, "/v2/schemas/image", "", s.schema(imageSchema)),
		plain(G, "/v2/schemas/images", "", s.schema(imagesSchema)),
		plain(G, "/v2/schemas/member", "", s.schema(memberSchema)),
		plain(G, "/v2/schemas/members", "", s.schema(membersSchema)),
		plain(G, "/v2/info/import", "image:get_import_info", s.importInfo),
		plain(G, "/v2/info/stores", "image:get_stores", s.storesInfo),
		plain(G, "/v2/info/usage", "image:get_usage", s.usageInfo),

		plain(G, "/v2/images", "image:get_images", s.listImages),
		plain(P, "/v2/images", "image:add_image", s.createImage),
		read(G, "/v2/images/:image_id", "image:get_image", s.getImage),
		owner(U, "/v2/images/:image_id", "image:modify_image", s.updateImage),
		owner(D, "/v2/images/:image_id", "image:delete_image", s.deleteImage),
		owner(P, "/v2/images/:image_id/actions/deactivate", "image:deactivate", s.deactivate),
		owner(P, "/v2/images/:image_id/actions/reactivate", "image:reactivate", s.reactivate),
		owner(A, "/v2/images/:image_id/tags/:tag", "image:add_image_tag", s.addTag),
		owner(D, "/v2/images/:image_id/tags/:tag", "image:delete_image_tag", s.deleteTag),

		read(G, "/v2/images/:image_id/file", "image:download_image", s.download),
		owner(A, "/v2/images/:image_id/file", "image:upload_image", s.upload),
		owner(A, "/v2/images/:image_id/stage", "image:add_image_stage", s.stage),
		owner(P, "/v2/images/:image_id/import", "image:import_image", s.importImage),

		read(G, "/v2/images/:image_id/members", "image:get_members", s.listMembers),
		owner(P, "/v2/images/:image_id/members", "image:add_member", s.addMember),
		read(G, "/v2/images/:image_id/members/:member_id", "image:get_member", s.getMember),
		read(A, "/v2/images/:image_id/members/:member_id", "image:modify_member", s.updateMember),
		owner(D, "/v2/images/:image_id/members/:member_id", "image:delete_member", s.deleteMember),
	}
	for i := range routes {
		if routes[i].Path == "/v2/images/:image_id/file" || routes[i].Path == "/v2/images/:image_id/stage" {
			routes[i].MaxBody = -1
		}
	}
	return api.Service{Name: "image", Prefix: Prefix, Dialect: api.DialectGlance, Routes: routes}
}

const ctxImage = "kumo.image"

// readTarget loads the image the path names, hiding it (404) if the caller
// may not see it. The policy target keeps the caller's own project.
func (s *Service) readTarget(c *gin.Context, t policy.Target) error {
	img, err := s.visibleImage(c)
	if err != nil {
		return err
	}
	t["target.image.owner"] = img.Owner
	t["target.image.visibility"] = img.Visibility
	return nil
}

// ownerTarget loads a visible image and evaluates the rule against its owner.
func (s *Service) ownerTarget(c *gin.Context, t policy.Target) error {
	img, err := s.visibleImage(c)
	if err != nil {
		return err
	}
	t["project_id"] = img.Owner
	t["target.image.visibility"] = img.Visibility
	return nil
}

// visibleImage returns the image named by the path if the caller may see
// it, caching it on the request.
func (s *Service) visibleImage(c *gin.Context) (store.Image, error) {
	if v, ok := c.Get(ctxImage); ok {
		return v.(store.Image), nil
	}
	id := c.Param("image_id")
	img, err := s.store.GetImage(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Image{}, imageNotFound(id)
	}
	if err != nil {
		return store.Image{}, api.Internal(err)
	}
	ok, err := s.canSee(c, img)
	if err != nil {
		return store.Image{}, err
	}
	if !ok {
		return store.Image{}, imageNotFound(id)
	}
	c.Set(ctxImage, img)
	return img, nil
}

// canSee applies Glance's visibility rules to one image asked for by ID:
// public and community images are seen by all, private ones by their owner,
// shared ones by their owner and members, everything by admins.
func (s *Service) canSee(c *gin.Context, img store.Image) (bool, error) {
	project := api.Claims(c).ProjectID
	switch {
	case s.isAdmin(c), img.Owner == project, img.Visibility == "public", img.Visibility == "community":
		return true, nil
	case img.Visibility == "shared" && project != "":
		_, err := s.store.GetMember(c.Request.Context(), img.ID, project)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, api.Internal(err)
		}
		return true, nil
	}
	return false, nil
}

func (s *Service) isAdmin(c *gin.Context) bool { return api.Allowed(c, "image:context_is_admin", nil) }

func imageNotFound(id string) error { return api.NotFound("No image found with ID %s", id) }

// publish records a state change on the events stream; a failure is logged,
// never returned: the change itself has been committed.
func (s *Service) publish(ctx context.Context, action string, img store.Image) {
	if s.bus == nil {
		return
	}
	payload, _ := jsonRaw(s.view(img))
	ev := bus.Event{Service: "image", Resource: "image", Action: action, ResourceID: img.ID, ProjectID: img.Owner, Payload: payload}
	if err := bus.PublishEvent(context.WithoutCancel(ctx), s.bus, ev); err != nil {
		s.log.Warn("publish image event", "action", action, "image_id", img.ID, "error", err)
	}
}
