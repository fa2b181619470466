package cinderapi

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// metaAPI serves Cinder's metadata API of one kind of object:
// /{kind}/{id}/metadata[/{key}].
type metaAPI struct {
	// load returns the ID and metadata of the object the route loaded.
	load func(c *gin.Context) (string, store.Meta)
	// save writes an object's whole metadata.
	save func(ctx context.Context, id string, m store.Meta) error
}

func (s *Service) volumeMeta() metaAPI {
	return metaAPI{
		load: func(c *gin.Context) (string, store.Meta) {
			v := c.MustGet(ctxVolume).(store.Volume)
			return v.ID, v.Metadata
		},
		save: func(ctx context.Context, id string, m store.Meta) error {
			return notFound(s.store.UpdateVolume(ctx, id, map[string]any{"metadata": m}), "Volume %s could not be found.", id)
		},
	}
}

func (s *Service) snapshotMeta() metaAPI {
	return metaAPI{
		load: func(c *gin.Context) (string, store.Meta) {
			sn := c.MustGet(ctxSnapshot).(store.Snapshot)
			return sn.ID, sn.Metadata
		},
		save: func(ctx context.Context, id string, m store.Meta) error {
			return notFound(s.store.UpdateSnapshot(ctx, id, map[string]any{"metadata": m}), "Snapshot %s could not be found.", id)
		},
	}
}

func (m metaAPI) get(c *gin.Context, _ Version) (*api.Response, error) {
	_, md := m.load(c)
	return api.OK(gin.H{"metadata": meta(md)}), nil
}

// merge adds items to the metadata (POST).
func (m metaAPI) merge(c *gin.Context, _ Version) (*api.Response, error) { return m.write(c, false) }

// replace replaces the whole metadata (PUT).
func (m metaAPI) replace(c *gin.Context, _ Version) (*api.Response, error) { return m.write(c, true) }

func (m metaAPI) write(c *gin.Context, replace bool) (*api.Response, error) {
	var body struct {
		Metadata map[string]string `json:"metadata"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.Metadata == nil {
		return nil, api.BadRequest("Malformed request body: 'metadata' is a required property")
	}
	if err := checkMetadata(body.Metadata); err != nil {
		return nil, err
	}
	id, cur := m.load(c)
	out := store.Meta{}
	if !replace {
		for k, v := range cur {
			out[k] = v
		}
	}
	for k, v := range body.Metadata {
		out[k] = v
	}
	if err := m.save(c.Request.Context(), id, out); err != nil {
		return nil, err
	}
	return api.OK(gin.H{"metadata": out}), nil
}

func (m metaAPI) getItem(c *gin.Context, _ Version) (*api.Response, error) {
	_, md := m.load(c)
	key := c.Param("key")
	val, ok := md[key]
	if !ok {
		return nil, api.NotFound("Metadata item was not found")
	}
	return api.OK(gin.H{"meta": gin.H{key: val}}), nil
}

// setItem sets one item: {"meta": {key: value}}.
func (m metaAPI) setItem(c *gin.Context, _ Version) (*api.Response, error) {
	var body struct {
		Meta map[string]string `json:"meta"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	key := c.Param("key")
	val, ok := body.Meta[key]
	switch {
	case len(body.Meta) > 1:
		return nil, api.BadRequest("Request body contains too many items")
	case !ok:
		return nil, api.BadRequest("Request body and URI mismatch")
	}
	if err := checkMetadata(body.Meta); err != nil {
		return nil, err
	}
	id, cur := m.load(c)
	out := store.Meta{}
	for k, v := range cur {
		out[k] = v
	}
	out[key] = val
	if err := m.save(c.Request.Context(), id, out); err != nil {
		return nil, err
	}
	return api.OK(gin.H{"meta": gin.H{key: val}}), nil
}

func (m metaAPI) deleteItem(c *gin.Context, _ Version) (*api.Response, error) {
	id, cur := m.load(c)
	key := c.Param("key")
	if _, ok := cur[key]; !ok {
		return nil, api.NotFound("Metadata item was not found")
	}
	out := store.Meta{}
	for k, v := range cur {
		if k != key {
			out[k] = v
		}
	}
	if err := m.save(c.Request.Context(), id, out); err != nil {
		return nil, err
	}
	return api.OK(nil), nil
}
