package novaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/quota"
)

type taskAction func(c *gin.Context, v Version, arg json.RawMessage) (*api.Response, error)

// taskActions are the server actions that run as long tasks on the host.
func (s *Service) taskActions() map[string]taskAction {
	return map[string]taskAction{
		"resize":        s.notFromVolume("resize", s.resizeServer),
		"confirmResize": s.confirmResize,
		"revertResize":  s.revertResize,
		"rebuild":       s.notFromVolume("rebuild", s.rebuildServer),
		"createImage":   s.notFromVolume("createImage", s.createImage),
	}
}

// notFromVolume refuses an action kumo does not do for servers booted
// from a volume: their root disk is the volume service's, and rebuilding,
// resizing or snapshotting it is not implemented (Nova does them through
// Cinder's reimage and snapshots).
func (s *Service) notFromVolume(action string, h taskAction) taskAction {
	return func(c *gin.Context, v Version, arg json.RawMessage) (*api.Response, error) {
		in, err := s.instance(c)
		if err != nil {
			return nil, err
		}
		bfv, err := s.bootsFromVolume(c.Request.Context(), in.UUID)
		if err != nil {
			return nil, err
		}
		if bfv {
			return nil, api.Conflict("Cannot '%s' instance %s: it is booted from a volume, which kumo does not support for this action", action, in.UUID)
		}
		return h(c, v, arg)
	}
}

func (s *Service) allowed(c *gin.Context, rule string) error {
	if !api.Allowed(c, rule, s.target(c)) {
		return api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	return nil
}

// actionObject decodes an action's argument as an object with only the
// allowed members, as Nova's action schemas do.
func actionObject(action string, arg json.RawMessage, allowed ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(arg, &m); err != nil || m == nil {
		return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", action, arg, arg)
	}
	for k := range m {
		if !contains(allowed, k) {
			return nil, api.BadRequest("Invalid input for field/attribute %s. Additional properties are not allowed ('%s' was unexpected)", action, k)
		}
	}
	return m, nil
}

// metadataField reads a metadata object of strings (nil when absent).
func metadataField(m map[string]json.RawMessage, key string) (store.Specs, error) {
	raw, given := m[key]
	if !given {
		return nil, nil
	}
	md := map[string]string{}
	if err := json.Unmarshal(raw, &md); err != nil || isNull(raw) {
		return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", key, raw, raw)
	}
	for k, val := range md {
		if k == "" || len(k) > 255 || len(val) > 255 {
			return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s.", key, raw)
		}
	}
	return store.Specs(md), nil
}

// actionRow is the instance action row a request records.
func (s *Service) actionRow(c *gin.Context, in store.Instance, name string) *store.InstanceAction {
	cl := api.Claims(c)
	return &store.InstanceAction{InstanceUUID: in.UUID, Action: name, RequestID: api.RequestID(c), UserID: cl.UserID, ProjectID: cl.ProjectID}
}

// quotaError renders an over-quota refusal as Nova does (403).
func quotaError(err error) error {
	var oq *quota.OverQuotaError
	if !errors.As(err, &oq) {
		return err
	}
	res := strings.TrimPrefix(oq.Resource, "compute.")
	return api.QuotaExceeded("Quota exceeded for %s: Requested %d, but already used %d of %d %s",
		res, oq.Requested, oq.InUse, oq.Limit, res)
}

func (s *Service) publishTask(ctx context.Context, host string, msg work.Task, id string) error {
	if err := s.publish(ctx, host, work.VerbTask, msg, id); err != nil {
		return api.Unavailable("Could not reach the compute host: %v", err)
	}
	return nil
}

// resizeServer starts a resize on the server's own host: the new flavor is
// copied onto the instance and the quota charged (a migration row keeps
// the old flavor), then placement moves the old allocation to the
// migration and claims the new flavor for the instance; the host's agent
// does the rest and leaves the server in VERIFY_RESIZE.
func (s *Service) resizeServer(c *gin.Context, _ Version, arg json.RawMessage) (*api.Response, error) {
	if err := s.allowed(c, "os_compute_api:servers:resize"); err != nil {
		return nil, err
	}
	m, err := actionObject("resize", arg, "flavorRef", "OS-DCF:diskConfig")
	if err != nil {
		return nil, err
	}
	ref, ok, err := stringField(m, "flavorRef", 1, 255)
	if err != nil {
		if n, ierr := intField(m, "flavorRef", 0, 0); ierr == nil {
			ref, ok, err = fmt.Sprint(n), true, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.BadRequest("Invalid input for field/attribute resize. Value: %s. 'flavorRef' is a required property", compact(m))
	}
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if (in.VMState != store.VMActive && in.VMState != store.VMStopped) || in.TaskState != nil || in.Host == nil {
		return nil, conflictState(in, "resize")
	}
	ctx := c.Request.Context()
	fl, err := s.store.GetFlavor(ctx, ref, s.visibility(c))
	if errors.Is(err, store.ErrNotFound) || (err == nil && fl.Disabled && fl.FlavorID != in.FlavorID) {
		return nil, api.BadRequest("Unable to locate requested flavor.")
	}
	if err != nil {
		return nil, err
	}
	if fl.FlavorID == in.FlavorID {
		return nil, api.BadRequest("Resize requires a flavor change.")
	}
	if in.RootGB > 0 && fl.RootGB == 0 {
		return nil, api.BadRequest("Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.")
	}
	// The image the server runs must fit the new flavor too; an image
	// since deleted is not checked, as Nova reads it from the instance.
	if s.glance != nil && in.ImageRef != "" {
		if img, err := s.glance.Get(ctx, api.Token(c), in.ImageRef); err == nil {
			if err := fitsFlavor(img, fl.RootGB, fl.MemoryMB); err != nil {
				return nil, err
			}
		}
	}
	if s.queue == nil {
		return nil, api.Unavailable("the compute work queue is not open")
	}
	mig := store.Migration{UUID: uuid.NewString(), InstanceUUID: in.UUID, NewFlavor: store.MigrationFlavorOf(fl),
		ProjectID: in.ProjectID, UserID: api.Claims(c).UserID}
	if old, err := s.store.GetFlavor(ctx, in.FlavorID, store.Visibility{Admin: true}); err == nil {
		mig.OldFlavor.ID = old.ID
	}
	in, err = s.store.StartResize(ctx, s.quota, &mig, s.actionRow(c, in, "resize"))
	if errors.Is(err, store.ErrState) {
		return nil, conflictState(in, "resize")
	}
	if err != nil {
		return nil, quotaError(err)
	}
	log := s.log.With("server_id", in.UUID, "migration_id", mig.UUID)
	// Nova's scheduler claims for the new flavor and moves the old one to
	// the migration; with no room the resize ends at once, the server back
	// as it was, and the failure shows in its instance action.
	claim := func() error {
		p, err := s.placement.GetProviderByName(ctx, *in.Host)
		if err != nil {
			return err
		}
		return s.placement.Move(ctx, in.UUID, mig.UUID, p.UUID, resourcesOf(mig.NewFlavor.Apply(in)))
	}
	if err := claim(); err != nil {
		log.Warn("resize claim failed", "error", err)
		s.endResize(ctx, in, mig, fmt.Errorf("No valid host was found. %v", err))
		return api.Accepted(nil), nil
	}
	if err := s.publishTask(ctx, *in.Host, work.Task{InstanceUUID: in.UUID, Task: work.TaskResize, MigrationUUID: mig.UUID}, "resize-"+mig.UUID); err != nil {
		_ = s.placement.RevertMove(context.WithoutCancel(ctx), in.UUID, mig.UUID)
		s.endResize(ctx, in, mig, err)
		return nil, err
	}
	return api.Accepted(nil), nil
}

// endResize undoes a resize that never reached the host.
func (s *Service) endResize(ctx context.Context, in store.Instance, mig store.Migration, cause error) {
	ctx = context.WithoutCancel(ctx)
	err := s.store.EndResize(ctx, s.quota, mig, store.MigrationError, map[string]any{
		"task_state": nil, "fault": store.Fault{Code: 500, Message: cause.Error(), Created: time.Now().UTC()},
	})
	if err == nil {
		err = s.store.MarkActionError(ctx, in.UUID, "resize")
	}
	if err != nil {
		s.log.Error("end failed resize", "server_id", in.UUID, "error", err)
	}
}

// resizeStep moves an unconfirmed resize to confirming or reverting and
// hands it to the host.
func (s *Service) resizeStep(c *gin.Context, action, rule, status, task, verb string) error {
	if err := s.allowed(c, rule); err != nil {
		return err
	}
	in, err := s.instance(c)
	if err != nil {
		return err
	}
	if in.VMState != store.VMResized || in.TaskState != nil || in.Host == nil {
		return conflictState(in, action)
	}
	ctx := c.Request.Context()
	mig, err := s.store.OpenMigration(ctx, in.UUID)
	if errors.Is(err, store.ErrNotFound) {
		return api.BadRequest("Instance has not been resized.")
	}
	if err != nil {
		return err
	}
	cols := map[string]any{}
	if task != "" {
		cols["task_state"] = task
	}
	err = s.store.ResizeStep(ctx, mig, []string{store.MigrationFinished}, status, cols, s.actionRow(c, in, action))
	if errors.Is(err, store.ErrState) {
		return conflictState(in, action)
	}
	if err != nil {
		return err
	}
	if err := s.publishTask(ctx, *in.Host, work.Task{InstanceUUID: in.UUID, Task: verb, MigrationUUID: mig.UUID}, verb+"-"+mig.UUID); err != nil {
		// Back to VERIFY_RESIZE, so the caller can try again.
		_ = s.store.ResizeStep(context.WithoutCancel(ctx), mig, []string{status}, store.MigrationFinished, map[string]any{"task_state": nil}, nil)
		return err
	}
	return nil
}

func (s *Service) confirmResize(c *gin.Context, _ Version, _ json.RawMessage) (*api.Response, error) {
	if err := s.resizeStep(c, "confirmResize", "os_compute_api:servers:confirm_resize", store.MigrationConfirming, "", work.TaskConfirmResize); err != nil {
		return nil, err
	}
	return api.NoContent(), nil
}

func (s *Service) revertResize(c *gin.Context, _ Version, _ json.RawMessage) (*api.Response, error) {
	if err := s.resizeStep(c, "revertResize", "os_compute_api:servers:revert_resize", store.MigrationReverting, store.TaskResizeReverting, work.TaskRevertResize); err != nil {
		return nil, err
	}
	return api.Accepted(nil), nil
}
