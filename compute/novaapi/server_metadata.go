package novaapi

import (
	"encoding/json"
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// metadataStates are the vm_states whose metadata may change (Nova's
// update_instance_metadata and delete_instance_metadata).
var metadataStates = []string{store.VMActive, store.VMPaused, store.VMSuspended, store.VMStopped}

// metadataBody reads {wrapper: {key: value}} with Nova's rules: keys of
// 1-255 characters, string values of at most 255.
func metadataBody(c *gin.Context, wrapper string) (store.Specs, error) {
	var outer map[string]json.RawMessage
	if err := api.BindJSON(c, &outer); err != nil {
		return nil, err
	}
	raw, ok := outer[wrapper]
	if !ok || len(outer) != 1 {
		return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. '%s' is a required property", wrapper, compact(outer), wrapper)
	}
	return parseMetadata(wrapper, raw)
}

// parseMetadata validates a metadata object.
func parseMetadata(field string, raw json.RawMessage) (store.Specs, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", field, raw, raw)
	}
	out := store.Specs{}
	for k, v := range m {
		if n := len([]rune(k)); n < 1 || n > 255 {
			return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. Additional properties '%s' do not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'", field, raw, k)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'string'", field, raw, v)
		}
		if len([]rune(s)) > 255 {
			return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %q is too long", field, raw, s)
		}
		out[k] = s
	}
	return out, nil
}

// checkMetadataQuota refuses more items than the project's
// metadata_items limit, with Nova's MetadataLimitExceeded.
func (s *Service) checkMetadataQuota(c *gin.Context, project string, n int) error {
	lim, err := s.quota.Limits(c.Request.Context(), project)
	if err != nil {
		return err
	}
	if l, ok := lim[ResourceMetadataItems]; ok && l >= 0 && int64(n) > l {
		return api.QuotaExceeded("Maximum number of metadata items exceeds %d", l)
	}
	return nil
}

func (s *Service) listMetadata(c *gin.Context, _ Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	md := in.Metadata
	if md == nil {
		md = store.Specs{}
	}
	return api.OK(gin.H{"metadata": md}), nil
}

func (s *Service) getMetadataItem(c *gin.Context, _ Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	key := c.Param("key")
	v, ok := in.Metadata[key]
	if !ok {
		return nil, api.NotFound("Metadata item was not found")
	}
	return api.OK(gin.H{"meta": gin.H{key: v}}), nil
}

// changeMetadata applies fn to a server's metadata after Nova's state,
// lock and quota checks.
func (s *Service) changeMetadata(c *gin.Context, action string, fn func(store.Specs) (store.Specs, error)) (store.Specs, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if err := checkLock(c, in); err != nil {
		return nil, err
	}
	if !contains(metadataStates, in.VMState) || in.TaskState != nil {
		return nil, conflictState(in, action)
	}
	md, err := s.store.UpdateMetadata(c.Request.Context(), in.UUID, func(cur store.Specs) (store.Specs, error) {
		next, err := fn(cur)
		if err != nil {
			return nil, err
		}
		return next, s.checkMetadataQuota(c, in.ProjectID, len(next))
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.NotFound("Instance %s could not be found.", in.UUID)
	}
	return md, err
}

func (s *Service) createMetadata(c *gin.Context, _ Version) (*api.Response, error) {
	add, err := metadataBody(c, "metadata")
	if err != nil {
		return nil, err
	}
	md, err := s.changeMetadata(c, "update metadata", func(cur store.Specs) (store.Specs, error) {
		for k, v := range add {
			cur[k] = v
		}
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"metadata": md}), nil
}

func (s *Service) replaceMetadata(c *gin.Context, _ Version) (*api.Response, error) {
	next, err := metadataBody(c, "metadata")
	if err != nil {
		return nil, err
	}
	md, err := s.changeMetadata(c, "update metadata", func(store.Specs) (store.Specs, error) { return next, nil })
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"metadata": md}), nil
}

func (s *Service) updateMetadataItem(c *gin.Context, _ Version) (*api.Response, error) {
	meta, err := metadataBody(c, "meta")
	if err != nil {
		return nil, err
	}
	key := c.Param("key")
	if len(meta) > 1 {
		return nil, api.BadRequest("Request body contains too many items")
	}
	if _, ok := meta[key]; !ok {
		return nil, api.BadRequest("Request body and URI mismatch")
	}
	if _, err := s.changeMetadata(c, "update metadata", func(cur store.Specs) (store.Specs, error) {
		cur[key] = meta[key]
		return cur, nil
	}); err != nil {
		return nil, err
	}
	return api.OK(gin.H{"meta": meta}), nil
}

func (s *Service) deleteMetadataItem(c *gin.Context, _ Version) (*api.Response, error) {
	key := c.Param("key")
	errMissing := api.NotFound("Metadata item was not found")
	_, err := s.changeMetadata(c, "delete metadata", func(cur store.Specs) (store.Specs, error) {
		if _, ok := cur[key]; !ok {
			return nil, errMissing
		}
		delete(cur, key)
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return api.NoContent(), nil
}
