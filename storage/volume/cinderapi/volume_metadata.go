package cinderapi

import (
	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// The volume metadata API: /volumes/{id}/metadata[/{key}].

func (s *Service) getVolumeMetadata(c *gin.Context, _ Version) (*api.Response, error) {
	return api.OK(gin.H{"metadata": meta(c.MustGet(ctxVolume).(store.Volume).Metadata)}), nil
}

// createVolumeMetadata merges items into the metadata (POST).
func (s *Service) createVolumeMetadata(c *gin.Context, _ Version) (*api.Response, error) {
	return s.writeVolumeMetadata(c, false)
}

// replaceVolumeMetadata replaces the whole metadata (PUT).
func (s *Service) replaceVolumeMetadata(c *gin.Context, _ Version) (*api.Response, error) {
	return s.writeVolumeMetadata(c, true)
}

func (s *Service) writeVolumeMetadata(c *gin.Context, replace bool) (*api.Response, error) {
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
	v := c.MustGet(ctxVolume).(store.Volume)
	out := store.Meta{}
	if !replace {
		for k, val := range v.Metadata {
			out[k] = val
		}
	}
	for k, val := range body.Metadata {
		out[k] = val
	}
	if err := s.store.UpdateVolume(c.Request.Context(), v.ID, map[string]any{"metadata": out}); err != nil {
		return nil, notFound(err, "Volume %s could not be found.", v.ID)
	}
	return api.OK(gin.H{"metadata": out}), nil
}

func (s *Service) getVolumeMetadataItem(c *gin.Context, _ Version) (*api.Response, error) {
	v := c.MustGet(ctxVolume).(store.Volume)
	key := c.Param("key")
	val, ok := v.Metadata[key]
	if !ok {
		return nil, api.NotFound("Metadata item was not found")
	}
	return api.OK(gin.H{"meta": gin.H{key: val}}), nil
}

// updateVolumeMetadataItem sets one item: {"meta": {key: value}}.
func (s *Service) updateVolumeMetadataItem(c *gin.Context, _ Version) (*api.Response, error) {
	var body struct {
		Meta map[string]string `json:"meta"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	key := c.Param("key")
	val, ok := body.Meta[key]
	if !ok || len(body.Meta) != 1 {
		if len(body.Meta) > 1 {
			return nil, api.BadRequest("Request body contains too many items")
		}
		return nil, api.BadRequest("Request body and URI mismatch")
	}
	if err := checkMetadata(body.Meta); err != nil {
		return nil, err
	}
	v := c.MustGet(ctxVolume).(store.Volume)
	out := store.Meta{}
	for k, x := range v.Metadata {
		out[k] = x
	}
	out[key] = val
	if err := s.store.UpdateVolume(c.Request.Context(), v.ID, map[string]any{"metadata": out}); err != nil {
		return nil, notFound(err, "Volume %s could not be found.", v.ID)
	}
	return api.OK(gin.H{"meta": gin.H{key: val}}), nil
}

func (s *Service) deleteVolumeMetadataItem(c *gin.Context, _ Version) (*api.Response, error) {
	v := c.MustGet(ctxVolume).(store.Volume)
	key := c.Param("key")
	if _, ok := v.Metadata[key]; !ok {
		return nil, api.NotFound("Metadata item was not found")
	}
	out := store.Meta{}
	for k, x := range v.Metadata {
		if k != key {
			out[k] = x
		}
	}
	if err := s.store.UpdateVolume(c.Request.Context(), v.ID, map[string]any{"metadata": out}); err != nil {
		return nil, notFound(err, "Volume %s could not be found.", v.ID)
	}
	return api.OK(nil), nil
}
