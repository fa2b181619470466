package neutronapi

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/network/store"
)

type tagOp int

const (
	tagList tagOp = iota
	tagReplace
	tagClear
	tagCheck
	tagAdd
	tagRemove
)

// tagRule is the policy rule suffix of a tagged collection
// ("security-groups" → "security_group").
func tagRule(coll string) string {
	return strings.TrimSuffix(strings.ReplaceAll(coll, "-", "_"), "s")
}

// tagged loads the resource of a collection that the caller may see, and
// returns its metadata for the tag operations.
func (s *Service) tagged(ctx context.Context, tx *store.Store, k caller, coll, id string) (store.Row, *store.Meta, error) {
	switch coll {
	case "networks":
		n, err := s.visibleNetwork(ctx, tx, k, id, true)
		if err != nil {
			return nil, nil, err
		}
		return n, &n.Meta, nil
	case "subnets":
		sn, err := s.visibleSubnet(ctx, tx, k, id, true)
		if err != nil {
			return nil, nil, err
		}
		return sn, &sn.Meta, nil
	case "ports":
		p, err := s.visiblePort(ctx, tx, k, id, true)
		if err != nil {
			return nil, nil, err
		}
		return p, &p.Meta, nil
	case "security-groups":
		g, err := s.ownSecurityGroup(ctx, tx, k, id, true)
		if err != nil {
			return nil, nil, err
		}
		return g, &g.Meta, nil
	case "routers":
		r, err := s.ownRouter(ctx, tx, k, id, true)
		if err != nil {
			return nil, nil, err
		}
		return r, &r.Meta, nil
	default:
		f, err := s.ownFloatingIP(ctx, tx, k, id, true)
		if err != nil {
			return nil, nil, err
		}
		return f, &f.Meta, nil
	}
}

func validTag(t string) error {
	if t == "" || len(t) > 255 || strings.Contains(t, ",") {
		return badRequest("Invalid input for operation: '%s' is not a valid tag.", t)
	}
	return nil
}

// tags serves /{collection}/{id}/tags[/{tag}].
func (s *Service) tags(coll string, op tagOp) api.Handler {
	return func(c *gin.Context) (*api.Response, error) {
		var resp *api.Response
		k := callerOf(c)
		ctx := c.Request.Context()
		changed := false
		err := s.store.Tx(ctx, func(tx *store.Store) error {
			row, m, err := s.tagged(ctx, tx, k, coll, c.Param("id"))
			if err != nil {
				return err
			}
			tags := slices.Clone([]string(m.Tags))
			tag := c.Param("tag")
			switch op {
			case tagList:
				sort.Strings(tags)
				resp = api.OK(map[string]any{"tags": tags})
				return nil
			case tagCheck:
				if !slices.Contains(tags, tag) {
					return notFound("TagNotFound", "Tag %s could not be found for %s %s.", tag, tagRule(coll), m.ID)
				}
				resp = api.NoContent()
				return nil
			case tagReplace:
				var body struct {
					Tags []string `json:"tags"`
				}
				if err := api.BindJSON(c, &body); err != nil {
					return err
				}
				if body.Tags == nil {
					return badRequest("Invalid input for operation: 'tags' is required.")
				}
				for _, t := range body.Tags {
					if err := validTag(t); err != nil {
						return err
					}
				}
				tags = dedup(body.Tags)
				resp = api.OK(map[string]any{"tags": tags})
			case tagClear:
				tags = []string{}
				resp = api.NoContent()
			case tagAdd:
				if err := validTag(tag); err != nil {
					return err
				}
				if !slices.Contains(tags, tag) {
					tags = append(tags, tag)
				}
				resp = api.Created(nil)
			case tagRemove:
				if !slices.Contains(tags, tag) {
					return notFound("TagNotFound", "Tag %s could not be found for %s %s.", tag, tagRule(coll), m.ID)
				}
				tags = slices.DeleteFunc(tags, func(t string) bool { return t == tag })
				resp = api.NoContent()
			}
			m.Tags = db.TextArray(tags)
			changed = true
			return storeError(tx.Update(ctx, row), nil, "")
		})
		if err != nil {
			return nil, err
		}
		if changed {
			s.publish(ctx, tagRule(coll), "update", c.Param("id"), "", nil)
		}
		return resp, nil
	}
}

func dedup(in []string) []string {
	out := []string{}
	for _, t := range in {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
