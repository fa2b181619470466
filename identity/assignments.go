package identity

import (
	"context"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/token"
)

// grant describes the assignment a grant URL names.
type grant struct {
	typ, actorKind, targetKind, actorID, targetID string
}

// grantOf reads a grant URL such as /v3/projects/{p}/users/{u}/roles/{r}.
func grantOf(c *gin.Context) grant {
	path := c.FullPath()
	var g grant
	switch {
	case strings.Contains(path, "/v3/projects/"):
		g.targetKind, g.targetID = "Project", c.Param("project_id")
	case strings.Contains(path, "/v3/domains/"):
		g.targetKind, g.targetID = "Domain", c.Param("domain_id")
	default:
		g.targetKind, g.targetID = "System", "system"
	}
	g.actorKind, g.actorID = "User", c.Param("user_id")
	if strings.Contains(path, "/groups/") {
		g.actorKind, g.actorID = "Group", c.Param("group_id")
	}
	g.typ = g.actorKind + g.targetKind
	return g
}

// check makes sure the actor and target of a grant exist.
func (s *Service) check(ctx context.Context, g grant) error {
	var err error
	if g.actorKind == "User" {
		_, err = s.store.GetUser(ctx, g.actorID)
	} else {
		_, err = s.store.GetGroup(ctx, g.actorID)
	}
	if err != nil {
		return storeErr(err)
	}
	switch g.targetKind {
	case "Project":
		_, err = s.store.GetProject(ctx, g.targetID)
	case "Domain":
		_, err = s.store.GetDomain(ctx, g.targetID)
	}
	return storeErr(err)
}

func (s *Service) listGrants(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	g := grantOf(c)
	if err := s.check(ctx, g); err != nil {
		return nil, err
	}
	as, err := s.store.ListAssignments(ctx, store.AssignmentFilter{ActorIDs: []string{g.actorID}, TargetID: g.targetID, Type: g.typ})
	if err != nil {
		return nil, storeErr(err)
	}
	out := []roleView{}
	for _, a := range as {
		r, err := s.store.GetRole(ctx, a.RoleID)
		if err != nil {
			continue
		}
		out = append(out, s.roleView(r))
	}
	return api.OK(s.list(c, "roles", out)), nil
}

func (s *Service) createGrant(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	g := grantOf(c)
	if err := s.check(ctx, g); err != nil {
		return nil, err
	}
	if _, err := s.store.GetRole(ctx, c.Param("role_id")); err != nil {
		return nil, storeErr(err)
	}
	if err := s.store.Grant(ctx, store.Assignment{Type: g.typ, ActorID: g.actorID, TargetID: g.targetID, RoleID: c.Param("role_id")}); err != nil {
		return nil, storeErr(err)
	}
	return api.NoContent(), nil
}

func (s *Service) checkGrant(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	g := grantOf(c)
	as, err := s.store.ListAssignments(ctx, store.AssignmentFilter{ActorIDs: []string{g.actorID}, TargetID: g.targetID, Type: g.typ, RoleID: c.Param("role_id")})
	if err != nil {
		return nil, storeErr(err)
	}
	if len(as) == 0 {
		return nil, api.NotFound("Could not find role assignment.")
	}
	return api.NoContent(), nil
}

func (s *Service) revokeGrant(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	g := grantOf(c)
	roleID := c.Param("role_id")
	if err := s.store.Revoke(ctx, store.Assignment{Type: g.typ, ActorID: g.actorID, TargetID: g.targetID, RoleID: roleID}); err != nil {
		return nil, storeErr(err)
	}
	// Tokens that carried the removed role stop working: for a user, those
	// scoped to the target; for a group, those of each member.
	users := []string{g.actorID}
	if g.actorKind == "Group" {
		members, err := s.store.ListGroupUsers(ctx, g.actorID)
		if err != nil {
			return nil, storeErr(err)
		}
		users = users[:0]
		for _, u := range members {
			users = append(users, u.ID)
		}
	}
	for _, u := range users {
		r := token.Revocation{Kind: "user", UserID: u}
		if g.targetKind == "Project" {
			r = token.Revocation{Kind: "user_project", UserID: u, ProjectID: g.targetID}
		}
		if err := s.revoke(ctx, r); err != nil {
			return nil, api.Internal(err)
		}
	}
	return api.NoContent(), nil
}

// listRoleAssignments serves /v3/role_assignments with Keystone's filters:
// user.id, group.id, role.id, scope.project.id, scope.domain.id,
// scope.system, effective and include_names.
func (s *Service) listRoleAssignments(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	f := store.AssignmentFilter{RoleID: c.Query("role.id")}
	effective, names := queryFlag(c, "effective"), queryFlag(c, "include_names")
	userID, groupID := c.Query("user.id"), c.Query("group.id")
	switch {
	case c.Query("scope.project.id") != "":
		f.TargetID = c.Query("scope.project.id")
		f.Types = []string{"UserProject", "GroupProject"}
	case c.Query("scope.domain.id") != "":
		f.TargetID = c.Query("scope.domain.id")
		f.Types = []string{"UserDomain", "GroupDomain"}
	case c.Query("scope.system") != "":
		f.TargetID = "system"
		f.Types = []string{"UserSystem", "GroupSystem"}
	}
	switch {
	case userID != "" && effective:
		groups, err := s.store.ListUserGroups(ctx, userID)
		if err != nil {
			return nil, storeErr(err)
		}
		f.ActorIDs = []string{userID}
		for _, g := range groups {
			f.ActorIDs = append(f.ActorIDs, g.ID)
		}
	case userID != "":
		f.ActorIDs = []string{userID}
	case groupID != "":
		f.ActorIDs = []string{groupID}
	}
	as, err := s.store.ListAssignments(ctx, f)
	if err != nil {
		return nil, storeErr(err)
	}
	out := []gin.H{}
	for _, a := range as {
		if userID != "" && !effective && strings.HasPrefix(a.Type, "Group") {
			continue
		}
		if groupID != "" && strings.HasPrefix(a.Type, "User") {
			continue
		}
		if effective && strings.HasPrefix(a.Type, "Group") {
			// Effective assignments name the user, not the group.
			members := []string{userID}
			if userID == "" {
				users, err := s.store.ListGroupUsers(ctx, a.ActorID)
				if err != nil {
					return nil, storeErr(err)
				}
				members = members[:0]
				for _, u := range users {
					members = append(members, u.ID)
				}
			}
			for _, u := range members {
				out = append(out, s.assignmentView(ctx, store.Assignment{Type: "User" + strings.TrimPrefix(a.Type, "Group"), ActorID: u, TargetID: a.TargetID, RoleID: a.RoleID}, names, a.ActorID))
			}
			continue
		}
		out = append(out, s.assignmentView(ctx, a, names, ""))
	}
	return api.OK(s.list(c, "role_assignments", out)), nil
}

// assignmentView renders one role assignment; via names the group an
// effective assignment came through.
func (s *Service) assignmentView(ctx context.Context, a store.Assignment, names bool, via string) gin.H {
	role := gin.H{"id": a.RoleID}
	actorKind, targetKind := "user", "project"
	if strings.HasPrefix(a.Type, "Group") {
		actorKind = "group"
	}
	switch {
	case strings.HasSuffix(a.Type, "Domain"):
		targetKind = "domain"
	case strings.HasSuffix(a.Type, "System"):
		targetKind = "system"
	}
	actor := gin.H{"id": a.ActorID}
	var scope gin.H
	if targetKind == "system" {
		scope = gin.H{"system": gin.H{"all": true}}
	} else {
		scope = gin.H{targetKind: gin.H{"id": a.TargetID}}
	}
	if names {
		if r, err := s.store.GetRole(ctx, a.RoleID); err == nil {
			role["name"] = r.Name
		}
		if actorKind == "user" {
			if u, err := s.store.GetUser(ctx, a.ActorID); err == nil {
				actor["name"] = u.Name
				actor["domain"] = s.domainRef(ctx, u.DomainID)
			}
		} else if g, err := s.store.GetGroup(ctx, a.ActorID); err == nil {
			actor["name"] = g.Name
			actor["domain"] = s.domainRef(ctx, g.DomainID)
		}
		switch targetKind {
		case "project":
			if p, err := s.store.GetProject(ctx, a.TargetID); err == nil {
				scope = gin.H{"project": gin.H{"id": p.ID, "name": p.Name, "domain": s.domainRef(ctx, p.DomainID)}}
			}
		case "domain":
			scope = gin.H{"domain": s.domainRef(ctx, a.TargetID)}
		}
	}
	var assignment string
	if targetKind == "system" {
		assignment = s.url("/system/" + actorKind + "s/" + a.ActorID + "/roles/" + a.RoleID)
	} else {
		assignment = s.url("/" + targetKind + "s/" + a.TargetID + "/" + actorKind + "s/" + a.ActorID + "/roles/" + a.RoleID)
	}
	links := gin.H{"assignment": assignment}
	if via != "" {
		links["membership"] = s.url("/groups/" + via + "/users/" + a.ActorID)
	}
	return gin.H{"role": role, actorKind: actor, "scope": scope, "links": links}
}

// domainRef is a domain's {"id", "name"} as include_names shows it
// (openstackclient prints "name@domain-name").
func (s *Service) domainRef(ctx context.Context, id string) gin.H {
	ref := gin.H{"id": id}
	if d, err := s.store.GetDomain(ctx, id); err == nil {
		ref["name"] = d.Name
	}
	return ref
}

// queryFlag reads a boolean query parameter the way Keystone does: present
// with no value, or with any value but "0"/"false", means true.
func queryFlag(c *gin.Context, key string) bool {
	v, ok := c.GetQuery(key)
	if !ok {
		return false
	}
	switch strings.ToLower(v) {
	case "0", "false", "no", "off":
		return false
	}
	return true
}
