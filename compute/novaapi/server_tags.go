package novaapi

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// tagStates are the vm_states whose tags may change (Nova's server_tags).
var tagStates = []string{store.VMActive, store.VMPaused, store.VMSuspended, store.VMStopped, "shelved", "shelved_offloaded"}

// tagError says why tag is not a valid tag, or "".
func tagError(tag string) string {
	switch {
	case tag == "":
		return "'' is too short"
	case len([]rune(tag)) > 60:
		return "'" + tag + "' is too long"
	case strings.ContainsAny(tag, "/,"):
		return "'" + tag + "' does not match '^[^,/]*$'"
	}
	return ""
}

// parseTags reads a list of at most store.MaxTags valid tags, as the
// create and replace-all bodies carry them; duplicates collapse.
func parseTags(field string, raw json.RawMessage) ([]string, error) {
	var tags []string
	if err := json.Unmarshal(raw, &tags); err != nil || tags == nil {
		return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'array' of strings", field, raw, raw)
	}
	if len(tags) > store.MaxTags {
		return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is too long", field, raw, raw)
	}
	out := []string{}
	for _, t := range tags {
		if why := tagError(t); why != "" {
			return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s", field, raw, why)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Service) listTags(c *gin.Context, _ Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"tags": tagsOf(in)}), nil
}

func tagsOf(in store.Instance) []string {
	if in.Tags == nil {
		return []string{}
	}
	return in.Tags
}

func (s *Service) checkTag(c *gin.Context, _ Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(in.Tags, c.Param("tag")) {
		return nil, api.NotFound("Instance %s has no tag '%s'", in.UUID, c.Param("tag"))
	}
	return api.NoContent(), nil
}

// changeTags applies fn to a server's tags after Nova's state checks.
func (s *Service) changeTags(c *gin.Context, action string, fn func([]string) ([]string, error)) ([]string, store.Instance, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, in, err
	}
	if !contains(tagStates, in.VMState) || in.TaskState != nil {
		return nil, in, conflictState(in, action)
	}
	tags, err := s.store.UpdateTags(c.Request.Context(), in.UUID, fn)
	return tags, in, err
}

func (s *Service) replaceTags(c *gin.Context, _ Version) (*api.Response, error) {
	var body map[string]json.RawMessage
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	raw, ok := body["tags"]
	if !ok || len(body) != 1 {
		return nil, api.BadRequest("Invalid input for field/attribute tags. Value: %s. 'tags' is a required property", compact(body))
	}
	next, err := parseTags("tags", raw)
	if err != nil {
		return nil, err
	}
	tags, _, err := s.changeTags(c, "update tags", func([]string) ([]string, error) { return next, nil })
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"tags": tags}), nil
}

func (s *Service) addTag(c *gin.Context, _ Version) (*api.Response, error) {
	tag := c.Param("tag")
	if why := tagError(tag); why != "" {
		return nil, api.BadRequest("Tag '%s' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: %s", tag, why)
	}
	existed := false
	_, in, err := s.changeTags(c, "update tag", func(cur []string) ([]string, error) {
		if slices.Contains(cur, tag) {
			existed = true
			return cur, nil
		}
		if len(cur) >= store.MaxTags {
			return nil, api.BadRequest("The number of tags exceeded the per-server limit %d", store.MaxTags)
		}
		return append(cur, tag), nil
	})
	if err != nil {
		return nil, err
	}
	if existed {
		return api.NoContent(), nil
	}
	loc := s.cfg.PublicURL + Prefix + "/v2.1/servers/" + in.UUID + "/tags/" + tag
	return (&api.Response{Status: 201}).WithHeader("Location", loc), nil
}

func (s *Service) deleteTag(c *gin.Context, _ Version) (*api.Response, error) {
	tag := c.Param("tag")
	_, _, err := s.changeTags(c, "delete tag", func(cur []string) ([]string, error) {
		i := slices.Index(cur, tag)
		if i < 0 {
			return nil, api.NotFound("Instance %s has no tag '%s'", c.Param("server_id"), tag)
		}
		return slices.Delete(cur, i, i+1), nil
	})
	if err != nil {
		return nil, err
	}
	return api.NoContent(), nil
}

func (s *Service) deleteTags(c *gin.Context, _ Version) (*api.Response, error) {
	if _, _, err := s.changeTags(c, "delete tags", func([]string) ([]string, error) { return []string{}, nil }); err != nil {
		return nil, err
	}
	return api.NoContent(), nil
}
