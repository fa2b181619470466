package novaapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
)

// rebuildStates are the vm_states rebuild is valid in.
var rebuildStates = []string{store.VMActive, store.VMStopped, store.VMError}

// rebuildFields are the members of a rebuild body at v.
func rebuildFields(v Version) []string {
	f := []string{"imageRef", "name", "adminPass", "metadata", "preserve_ephemeral", "OS-DCF:diskConfig", "accessIPv4", "accessIPv6"}
	if !v.At(57) {
		f = append(f, "personality")
	}
	if v.At(19) {
		f = append(f, "description")
	}
	if v.At(54) {
		f = append(f, "key_name")
	}
	if v.At(57) {
		f = append(f, "user_data")
	}
	if v.At(63) {
		f = append(f, "trusted_image_certificates")
	}
	return f
}

// rebuildServer reinstalls a server from an image under the same ID: the
// API records the new image (checked as at create), name, metadata, key
// and user data, sets task_state rebuilding and hands the work to the
// host's agent. The reply is the server as Nova shows it, with adminPass.
func (s *Service) rebuildServer(c *gin.Context, v Version, arg json.RawMessage) (*api.Response, error) {
	if err := s.allowed(c, "os_compute_api:servers:rebuild"); err != nil {
		return nil, err
	}
	m, err := actionObject("rebuild", arg, rebuildFields(v)...)
	if err != nil {
		return nil, err
	}
	image, ok, err := stringField(m, "imageRef", 0, 255)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.BadRequest("Invalid input for field/attribute rebuild. Value: %s. 'imageRef' is a required property", compact(m))
	}
	if i := strings.LastIndex(image, "/"); i >= 0 {
		image = image[i+1:]
	}
	if _, err := uuid.Parse(image); err != nil {
		return nil, api.BadRequest("Invalid imageRef provided.")
	}
	cols := map[string]any{"image_ref": image, "task_state": store.TaskRebuilding}
	name, ok, err := stringField(m, "name", 1, 255)
	if err != nil {
		return nil, err
	}
	if ok {
		cols["name"] = name
	}
	meta, err := metadataField(m, "metadata")
	if err != nil {
		return nil, err
	}
	if meta != nil {
		cols["metadata"] = meta
	}
	pass, _, err := stringField(m, "adminPass", 0, 255)
	if err != nil {
		return nil, err
	}
	if _, given := m["adminPass"]; !given {
		pass = randomPassword()
	}
	if raw, given := m["user_data"]; given {
		if isNull(raw) {
			cols["user_data"] = nil
		} else {
			ud, _, err := stringField(m, "user_data", 0, 65535)
			if err != nil {
				return nil, err
			}
			if _, err := base64.StdEncoding.DecodeString(ud); err != nil {
				return nil, api.BadRequest("User data needs to be valid base 64.")
			}
			cols["user_data"] = ud
		}
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	if raw, given := m["key_name"]; given {
		if isNull(raw) {
			cols["key_name"], cols["public_key"] = nil, nil
		} else {
			kn, _, err := stringField(m, "key_name", 1, 255)
			if err != nil {
				return nil, err
			}
			k, err := s.store.GetKeyPair(ctx, api.Claims(c).UserID, kn)
			if errors.Is(err, store.ErrNotFound) {
				return nil, api.BadRequest("Invalid key_name provided.")
			}
			if err != nil {
				return nil, err
			}
			cols["key_name"], cols["public_key"] = k.Name, k.PublicKey
		}
	}
	if !contains(rebuildStates, in.VMState) || in.TaskState != nil || in.Host == nil {
		return nil, conflictState(in, "rebuild")
	}
	if _, err := s.bootImage(c, image, in.RootGB, in.MemoryMB, true); err != nil {
		return nil, err
	}
	if s.queue == nil {
		return nil, api.Unavailable("the compute work queue is not open")
	}
	in, err = s.store.BeginTask(ctx, in.UUID, rebuildStates, cols, s.actionRow(c, in, "rebuild"))
	if errors.Is(err, store.ErrState) {
		return nil, conflictState(in, "rebuild")
	}
	if err != nil {
		return nil, err
	}
	id := "rebuild-" + in.UUID + "-" + uuid.NewString()
	if err := s.publishTask(ctx, *in.Host, work.Task{InstanceUUID: in.UUID, Task: work.TaskRebuild}, id); err != nil {
		_ = s.store.UpdateInstance(context.WithoutCancel(ctx), in.UUID, map[string]any{"task_state": nil})
		return nil, err
	}
	if in, err = s.store.GetInstance(ctx, in.UUID); err != nil {
		return nil, err
	}
	view := s.serverView(c, in, v)
	if err := s.withVolumes(c, view, in.UUID, v); err != nil {
		return nil, err
	}
	if !v.At(75) {
		// Before 2.75 the rebuild reply leaves out the extended attributes.
		for k := range view {
			if strings.HasPrefix(k, "OS-EXT-") || strings.HasPrefix(k, "OS-SRV-USG:") || strings.HasPrefix(k, "os-extended-volumes:") ||
				k == "config_drive" || k == "key_name" || k == "security_groups" {
				delete(view, k)
			}
		}
	}
	view["adminPass"] = pass
	return api.Accepted(gin.H{"server": view}).WithHeader("Location", s.cfg.PublicURL+Prefix+"/v2.1/servers/"+in.UUID), nil
}
