package image

import (
	"errors"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/storage/image/store"
)

// Members: the owner of a shared image shares it with other projects, which
// accept or reject it. The owner sees every membership, a member only its
// own.

func memberNotFound(member, id string) error {
	return api.NotFound("%s is not a member of image %s", member, id)
}

func (s *Service) addMember(c *gin.Context) (*api.Response, error) {
	img, err := s.visibleImage(c)
	if err != nil {
		return nil, err
	}
	var body struct {
		Member *string `json:"member"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.Member == nil || *body.Member == "" || len(*body.Member) > maxStringLen {
		return nil, api.BadRequest("Member to be added not specified")
	}
	if img.Visibility != "shared" {
		return nil, api.Forbidden("Only shared images have members.")
	}
	ctx := c.Request.Context()
	m := store.Member{ImageID: img.ID, Member: *body.Member}
	if err := s.store.AddMember(ctx, &m); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, api.Conflict("Member %s already exists on image %s.", m.Member, img.ID)
		}
		return nil, s.storeError(err, img.ID)
	}
	s.publish(ctx, "member_create", img)
	return api.OK(memberView(m)), nil
}

// memberAccess returns the image, the caller's project and whether the
// caller manages the image's members (its owner or an admin).
func (s *Service) memberAccess(c *gin.Context) (store.Image, string, bool, error) {
	img, err := s.visibleImage(c)
	if err != nil {
		return img, "", false, err
	}
	project := api.Claims(c).ProjectID
	return img, project, img.Owner == project || s.isAdmin(c), nil
}

func (s *Service) listMembers(c *gin.Context) (*api.Response, error) {
	img, project, manager, err := s.memberAccess(c)
	if err != nil {
		return nil, err
	}
	if img.Visibility != "shared" {
		return nil, api.Forbidden("Only shared images have members.")
	}
	members, err := s.store.ListMembers(c.Request.Context(), img.ID)
	if err != nil {
		return nil, api.Internal(err)
	}
	if !manager {
		members = slices.DeleteFunc(members, func(m store.Member) bool { return m.Member != project })
	}
	out := make([]map[string]any, 0, len(members))
	for _, m := range members {
		out = append(out, memberView(m))
	}
	return api.OK(gin.H{"members": out, "schema": "/v2/schemas/members"}), nil
}

func (s *Service) getMember(c *gin.Context) (*api.Response, error) {
	img, project, manager, err := s.memberAccess(c)
	if err != nil {
		return nil, err
	}
	member := c.Param("member_id")
	if !manager && member != project {
		return nil, memberNotFound(member, img.ID)
	}
	m, err := s.store.GetMember(c.Request.Context(), img.ID, member)
	if errors.Is(err, store.ErrNotFound) {
		return nil, memberNotFound(member, img.ID)
	}
	if err != nil {
		return nil, api.Internal(err)
	}
	return api.OK(memberView(m)), nil
}

// updateMember lets a member project accept, reject or reconsider an image
// shared with it; the owner may not decide for it.
func (s *Service) updateMember(c *gin.Context) (*api.Response, error) {
	img, project, _, err := s.memberAccess(c)
	if err != nil {
		return nil, err
	}
	var body struct {
		Status string `json:"status"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if !slices.Contains(memberStatuses, body.Status) {
		return nil, api.BadRequest("Provided object does not match schema 'member': '%s' is not one of %v", body.Status, memberStatuses)
	}
	member := c.Param("member_id")
	ctx := c.Request.Context()
	if _, err := s.store.GetMember(ctx, img.ID, member); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, memberNotFound(member, img.ID)
		}
		return nil, api.Internal(err)
	}
	if member != project && !s.isAdmin(c) {
		return nil, api.Forbidden("You are not permitted to modify the membership of %s: only the member may.", member)
	}
	m, err := s.store.SetMemberStatus(ctx, img.ID, member, body.Status)
	if err != nil {
		return nil, s.storeError(err, img.ID)
	}
	s.publish(ctx, "member_update", img)
	return api.OK(memberView(m)), nil
}

func (s *Service) deleteMember(c *gin.Context) (*api.Response, error) {
	img, err := s.visibleImage(c)
	if err != nil {
		return nil, err
	}
	member := c.Param("member_id")
	ctx := c.Request.Context()
	if err := s.store.DeleteMember(ctx, img.ID, member); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, memberNotFound(member, img.ID)
		}
		return nil, api.Internal(err)
	}
	s.publish(ctx, "member_delete", img)
	return api.NoContent(), nil
}
