package identity

import (
	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/token"
)

// Request bodies. Pointers tell "absent" from "zero" for PATCH.

type domainBody struct {
	Domain *struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
		Enabled     *bool   `json:"enabled"`
	} `json:"domain"`
}

type projectBody struct {
	Project *struct {
		Name        *string   `json:"name"`
		Description *string   `json:"description"`
		DomainID    *string   `json:"domain_id"`
		ParentID    *string   `json:"parent_id"`
		Enabled     *bool     `json:"enabled"`
		IsDomain    *bool     `json:"is_domain"`
		Tags        *[]string `json:"tags"`
	} `json:"project"`
}

type userBody struct {
	User *struct {
		Name             *string `json:"name"`
		DomainID         *string `json:"domain_id"`
		Password         *string `json:"password"`
		Enabled          *bool   `json:"enabled"`
		DefaultProjectID *string `json:"default_project_id"`
		Description      *string `json:"description"`
		Email            *string `json:"email"`
	} `json:"user"`
}

type groupBody struct {
	Group *struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
		DomainID    *string `json:"domain_id"`
	} `json:"group"`
}

type roleBody struct {
	Role *struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
		DomainID    *string `json:"domain_id"`
	} `json:"role"`
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func required(field string, v *string) error {
	if v == nil || *v == "" {
		return api.BadRequest("Invalid input for field '%s': '%s' is a required property.", field, field)
	}
	if len(*v) > 255 {
		return api.BadRequest("Invalid input for field '%s': too long (max 255).", field)
	}
	return nil
}

func boolFilter(c *gin.Context, key string) *bool {
	v, ok := c.GetQuery(key)
	if !ok {
		return nil
	}
	b := v == "true" || v == "True" || v == "1"
	return &b
}

// defaultDomain is the domain used when a request names none.
func (s *Service) defaultDomain(c *gin.Context, explicit *string) string {
	if explicit != nil && *explicit != "" {
		return *explicit
	}
	if d := api.Claims(c).ProjectDomainID; d != "" {
		return d
	}
	return DefaultDomainID
}

// userExtra keeps the optional attributes Keystone stores beside a user
// (description, email) in its extra map.
func userExtra(extra map[string]any, description, email *string) map[string]any {
	for key, v := range map[string]*string{"description": description, "email": email} {
		if v == nil {
			continue
		}
		if extra == nil {
			extra = map[string]any{}
		}
		extra[key] = *v
	}
	return extra
}

// Domains.

func (s *Service) listDomains(c *gin.Context) (*api.Response, error) {
	ds, err := s.store.ListDomains(c.Request.Context(), store.DomainFilter{Name: c.Query("name"), Enabled: boolFilter(c, "enabled")})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]domainView, len(ds))
	for i, d := range ds {
		out[i] = s.domainView(d)
	}
	return api.OK(s.list(c, "domains", out)), nil
}

func (s *Service) createDomain(c *gin.Context) (*api.Response, error) {
	var b domainBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Domain == nil {
		return nil, api.BadRequest("Invalid input: 'domain' is a required property.")
	}
	if err := required("name", b.Domain.Name); err != nil {
		return nil, err
	}
	d := store.Domain{ID: store.NewID(), Name: *b.Domain.Name, Enabled: true}
	set(&d.Description, b.Domain.Description)
	set(&d.Enabled, b.Domain.Enabled)
	if err := s.store.CreateDomain(c.Request.Context(), &d); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"domain": s.domainView(d)}), nil
}

func (s *Service) getDomain(c *gin.Context) (*api.Response, error) {
	d, err := s.store.GetDomain(c.Request.Context(), c.Param("domain_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"domain": s.domainView(d)}), nil
}

func (s *Service) updateDomain(c *gin.Context) (*api.Response, error) {
	var b domainBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Domain == nil {
		return nil, api.BadRequest("Invalid input: 'domain' is a required property.")
	}
	ctx := c.Request.Context()
	d, err := s.store.GetDomain(ctx, c.Param("domain_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	wasEnabled := d.Enabled
	set(&d.Name, b.Domain.Name)
	set(&d.Description, b.Domain.Description)
	set(&d.Enabled, b.Domain.Enabled)
	if err := s.store.UpdateDomain(ctx, &d); err != nil {
		return nil, storeErr(err)
	}
	if wasEnabled && !d.Enabled {
		if err := s.revoke(ctx, token.Revocation{Kind: "domain", DomainID: d.ID}); err != nil {
			return nil, api.Internal(err)
		}
	}
	return api.OK(gin.H{"domain": s.domainView(d)}), nil
}

func (s *Service) deleteDomain(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	d, err := s.store.GetDomain(ctx, c.Param("domain_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	if d.Enabled {
		return nil, api.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
	}
	if err := s.store.DeleteDomain(ctx, d.ID); err != nil {
		return nil, storeErr(err)
	}
	return api.NoContent(), nil
}

// Projects.

func (s *Service) listProjects(c *gin.Context) (*api.Response, error) {
	ps, err := s.store.ListProjects(c.Request.Context(), store.ProjectFilter{
		Name: c.Query("name"), DomainID: c.Query("domain_id"), ParentID: c.Query("parent_id"), Enabled: boolFilter(c, "enabled"),
	})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]projectView, len(ps))
	for i, p := range ps {
		out[i] = s.projectView(p)
	}
	return api.OK(s.list(c, "projects", out)), nil
}

func (s *Service) createProject(c *gin.Context) (*api.Response, error) {
	var b projectBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Project == nil {
		return nil, api.BadRequest("Invalid input: 'project' is a required property.")
	}
	if err := required("name", b.Project.Name); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	p := store.Project{ID: store.NewID(), Name: *b.Project.Name, DomainID: s.defaultDomain(c, b.Project.DomainID), Enabled: true}
	set(&p.Description, b.Project.Description)
	set(&p.Enabled, b.Project.Enabled)
	set(&p.Tags, b.Project.Tags)
	if b.Project.ParentID != nil && *b.Project.ParentID != "" && *b.Project.ParentID != p.DomainID {
		parent, err := s.store.GetProject(ctx, *b.Project.ParentID)
		if err != nil {
			return nil, storeErr(err)
		}
		if b.Project.DomainID == nil {
			p.DomainID = parent.DomainID
		} else if parent.DomainID != p.DomainID {
			return nil, api.BadRequest("Cannot create project with parent in another domain.")
		}
		p.ParentID = parent.ID
	}
	if b.Project.IsDomain != nil && *b.Project.IsDomain {
		return nil, api.BadRequest("Projects acting as domains are not supported.")
	}
	if _, err := s.store.GetDomain(ctx, p.DomainID); err != nil {
		return nil, api.BadRequest("Could not find domain: %s.", p.DomainID)
	}
	if err := s.store.CreateProject(ctx, &p); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"project": s.projectView(p)}), nil
}

func (s *Service) getProject(c *gin.Context) (*api.Response, error) {
	p, err := s.store.GetProject(c.Request.Context(), c.Param("project_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"project": s.projectView(p)}), nil
}

func (s *Service) updateProject(c *gin.Context) (*api.Response, error) {
	var b projectBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Project == nil {
		return nil, api.BadRequest("Invalid input: 'project' is a required property.")
	}
	ctx := c.Request.Context()
	p, err := s.store.GetProject(ctx, c.Param("project_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	if b.Project.DomainID != nil && *b.Project.DomainID != p.DomainID {
		return nil, api.BadRequest("Cannot change the domain of a project.")
	}
	wasEnabled := p.Enabled
	set(&p.Name, b.Project.Name)
	set(&p.Description, b.Project.Description)
	set(&p.Enabled, b.Project.Enabled)
	set(&p.Tags, b.Project.Tags)
	if err := s.store.UpdateProject(ctx, &p); err != nil {
		return nil, storeErr(err)
	}
	if wasEnabled && !p.Enabled {
		if err := s.revoke(ctx, token.Revocation{Kind: "project", ProjectID: p.ID}); err != nil {
			return nil, api.Internal(err)
		}
	}
	return api.OK(gin.H{"project": s.projectView(p)}), nil
}

func (s *Service) deleteProject(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	id := c.Param("project_id")
	if err := s.store.DeleteProject(ctx, id); err != nil {
		return nil, storeErr(err)
	}
	if err := s.revoke(ctx, token.Revocation{Kind: "project", ProjectID: id}); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}

// Users.

func (s *Service) listUsers(c *gin.Context) (*api.Response, error) {
	us, err := s.store.ListUsers(c.Request.Context(), store.UserFilter{Name: c.Query("name"), DomainID: c.Query("domain_id"), Enabled: boolFilter(c, "enabled")})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]userView, len(us))
	for i, u := range us {
		out[i] = s.userView(u)
	}
	return api.OK(s.list(c, "users", out)), nil
}

func (s *Service) createUser(c *gin.Context) (*api.Response, error) {
	var b userBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.User == nil {
		return nil, api.BadRequest("Invalid input: 'user' is a required property.")
	}
	if err := required("name", b.User.Name); err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	u := store.User{ID: store.NewID(), Name: *b.User.Name, DomainID: s.defaultDomain(c, b.User.DomainID), Enabled: true}
	set(&u.Enabled, b.User.Enabled)
	set(&u.DefaultProjectID, b.User.DefaultProjectID)
	u.Extra = userExtra(u.Extra, b.User.Description, b.User.Email)
	if _, err := s.store.GetDomain(ctx, u.DomainID); err != nil {
		return nil, api.BadRequest("Could not find domain: %s.", u.DomainID)
	}
	if b.User.Password != nil {
		h, err := hashSecret(s.cfg.Argon2, *b.User.Password)
		if err != nil {
			return nil, api.Internal(err)
		}
		u.PasswordHash = h
	}
	if err := s.store.CreateUser(ctx, &u); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"user": s.userView(u)}), nil
}

func (s *Service) getUser(c *gin.Context) (*api.Response, error) {
	u, err := s.store.GetUser(c.Request.Context(), c.Param("user_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"user": s.userView(u)}), nil
}

func (s *Service) updateUser(c *gin.Context) (*api.Response, error) {
	var b userBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.User == nil {
		return nil, api.BadRequest("Invalid input: 'user' is a required property.")
	}
	ctx := c.Request.Context()
	u, err := s.store.GetUser(ctx, c.Param("user_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	wasEnabled := u.Enabled
	set(&u.Name, b.User.Name)
	set(&u.Enabled, b.User.Enabled)
	set(&u.DefaultProjectID, b.User.DefaultProjectID)
	u.Extra = userExtra(u.Extra, b.User.Description, b.User.Email)
	if b.User.Password != nil {
		if u.PasswordHash, err = hashSecret(s.cfg.Argon2, *b.User.Password); err != nil {
			return nil, api.Internal(err)
		}
	}
	if err := s.store.UpdateUser(ctx, &u); err != nil {
		return nil, storeErr(err)
	}
	if (wasEnabled && !u.Enabled) || b.User.Password != nil {
		if err := s.revoke(ctx, token.Revocation{Kind: "user", UserID: u.ID}); err != nil {
			return nil, api.Internal(err)
		}
	}
	return api.OK(gin.H{"user": s.userView(u)}), nil
}

func (s *Service) deleteUser(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	id := c.Param("user_id")
	// The user's application credentials go with it: release their quota in
	// the same transaction.
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		acs, err := tx.ListAppCredentials(ctx, id, "")
		if err != nil {
			return err
		}
		for _, ac := range acs {
			if err := tx.ConsumeQuota(ctx, s.quota, ac.ProjectID, map[string]int64{ResourceAppCreds: -1}); err != nil {
				return err
			}
		}
		return tx.DeleteUser(ctx, id)
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if err := s.revoke(ctx, token.Revocation{Kind: "user", UserID: id}); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}

func (s *Service) changePassword(c *gin.Context) (*api.Response, error) {
	var b struct {
		User *struct {
			Password         *string `json:"password"`
			OriginalPassword *string `json:"original_password"`
		} `json:"user"`
	}
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.User == nil || b.User.Password == nil || b.User.OriginalPassword == nil {
		return nil, api.BadRequest("Invalid input: 'password' and 'original_password' are required properties.")
	}
	ctx := c.Request.Context()
	u, err := s.store.GetUser(ctx, c.Param("user_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	if !verifySecret(u.PasswordHash, *b.User.OriginalPassword) {
		if s.cfg.LockoutAttempts > 0 {
			if err := s.store.RecordLoginFailure(ctx, u.ID, s.cfg.LockoutAttempts, s.cfg.LockoutDuration); err != nil {
				s.log.Warn("recording a login failure", "user_id", u.ID, "error", err)
			}
		}
		return nil, errAuth
	}
	if u.PasswordHash, err = hashSecret(s.cfg.Argon2, *b.User.Password); err != nil {
		return nil, api.Internal(err)
	}
	if err := s.store.UpdateUser(ctx, &u); err != nil {
		return nil, storeErr(err)
	}
	if err := s.revoke(ctx, token.Revocation{Kind: "user", UserID: u.ID}); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}

func (s *Service) listUserProjects(c *gin.Context) (*api.Response, error) {
	ps, err := s.store.ProjectsForUser(c.Request.Context(), c.Param("user_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]projectView, len(ps))
	for i, p := range ps {
		out[i] = s.projectView(p)
	}
	return api.OK(s.list(c, "projects", out)), nil
}

func (s *Service) listUserGroups(c *gin.Context) (*api.Response, error) {
	gs, err := s.store.ListUserGroups(c.Request.Context(), c.Param("user_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]groupView, len(gs))
	for i, g := range gs {
		out[i] = s.groupView(g)
	}
	return api.OK(s.list(c, "groups", out)), nil
}

// Groups.

func (s *Service) listGroups(c *gin.Context) (*api.Response, error) {
	gs, err := s.store.ListGroups(c.Request.Context(), store.GroupFilter{Name: c.Query("name"), DomainID: c.Query("domain_id")})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]groupView, len(gs))
	for i, g := range gs {
		out[i] = s.groupView(g)
	}
	return api.OK(s.list(c, "groups", out)), nil
}

func (s *Service) createGroup(c *gin.Context) (*api.Response, error) {
	var b groupBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Group == nil {
		return nil, api.BadRequest("Invalid input: 'group' is a required property.")
	}
	if err := required("name", b.Group.Name); err != nil {
		return nil, err
	}
	g := store.Group{ID: store.NewID(), Name: *b.Group.Name, DomainID: s.defaultDomain(c, b.Group.DomainID)}
	set(&g.Description, b.Group.Description)
	if err := s.store.CreateGroup(c.Request.Context(), &g); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"group": s.groupView(g)}), nil
}

func (s *Service) getGroup(c *gin.Context) (*api.Response, error) {
	g, err := s.store.GetGroup(c.Request.Context(), c.Param("group_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"group": s.groupView(g)}), nil
}

func (s *Service) updateGroup(c *gin.Context) (*api.Response, error) {
	var b groupBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Group == nil {
		return nil, api.BadRequest("Invalid input: 'group' is a required property.")
	}
	ctx := c.Request.Context()
	g, err := s.store.GetGroup(ctx, c.Param("group_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	set(&g.Name, b.Group.Name)
	set(&g.Description, b.Group.Description)
	if err := s.store.UpdateGroup(ctx, &g); err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"group": s.groupView(g)}), nil
}

func (s *Service) deleteGroup(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	id := c.Param("group_id")
	members, err := s.store.ListGroupUsers(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	if err := s.store.DeleteGroup(ctx, id); err != nil {
		return nil, storeErr(err)
	}
	// Members lose whatever the group gave them.
	for _, u := range members {
		if err := s.revoke(ctx, token.Revocation{Kind: "user", UserID: u.ID}); err != nil {
			return nil, api.Internal(err)
		}
	}
	return api.NoContent(), nil
}

func (s *Service) listGroupUsers(c *gin.Context) (*api.Response, error) {
	us, err := s.store.ListGroupUsers(c.Request.Context(), c.Param("group_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]userView, len(us))
	for i, u := range us {
		out[i] = s.userView(u)
	}
	return api.OK(s.list(c, "users", out)), nil
}

func (s *Service) addUserToGroup(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	if _, err := s.store.GetGroup(ctx, c.Param("group_id")); err != nil {
		return nil, storeErr(err)
	}
	if _, err := s.store.GetUser(ctx, c.Param("user_id")); err != nil {
		return nil, storeErr(err)
	}
	if err := s.store.AddUserToGroup(ctx, c.Param("group_id"), c.Param("user_id")); err != nil {
		return nil, storeErr(err)
	}
	return api.NoContent(), nil
}

func (s *Service) checkUserInGroup(c *gin.Context) (*api.Response, error) {
	in, err := s.store.IsUserInGroup(c.Request.Context(), c.Param("group_id"), c.Param("user_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	if !in {
		return nil, api.NotFound("User %s is not a member of group %s.", c.Param("user_id"), c.Param("group_id"))
	}
	return api.NoContent(), nil
}

func (s *Service) removeUserFromGroup(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	if err := s.store.RemoveUserFromGroup(ctx, c.Param("group_id"), c.Param("user_id")); err != nil {
		return nil, storeErr(err)
	}
	if err := s.revoke(ctx, token.Revocation{Kind: "user", UserID: c.Param("user_id")}); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}

// Roles.

func (s *Service) listRoles(c *gin.Context) (*api.Response, error) {
	rs, err := s.store.ListRoles(c.Request.Context(), store.RoleFilter{Name: c.Query("name"), DomainID: c.Query("domain_id")})
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]roleView, len(rs))
	for i, r := range rs {
		out[i] = s.roleView(r)
	}
	return api.OK(s.list(c, "roles", out)), nil
}

func (s *Service) createRole(c *gin.Context) (*api.Response, error) {
	var b roleBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Role == nil {
		return nil, api.BadRequest("Invalid input: 'role' is a required property.")
	}
	if err := required("name", b.Role.Name); err != nil {
		return nil, err
	}
	r := store.Role{ID: store.NewID(), Name: *b.Role.Name}
	set(&r.Description, b.Role.Description)
	set(&r.DomainID, b.Role.DomainID)
	if err := s.store.CreateRole(c.Request.Context(), &r); err != nil {
		return nil, storeErr(err)
	}
	return api.Created(gin.H{"role": s.roleView(r)}), nil
}

func (s *Service) getRole(c *gin.Context) (*api.Response, error) {
	r, err := s.store.GetRole(c.Request.Context(), c.Param("role_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"role": s.roleView(r)}), nil
}

func (s *Service) updateRole(c *gin.Context) (*api.Response, error) {
	var b roleBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.Role == nil {
		return nil, api.BadRequest("Invalid input: 'role' is a required property.")
	}
	ctx := c.Request.Context()
	r, err := s.store.GetRole(ctx, c.Param("role_id"))
	if err != nil {
		return nil, storeErr(err)
	}
	set(&r.Name, b.Role.Name)
	set(&r.Description, b.Role.Description)
	if err := s.store.UpdateRole(ctx, &r); err != nil {
		return nil, storeErr(err)
	}
	return api.OK(gin.H{"role": s.roleView(r)}), nil
}

func (s *Service) deleteRole(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	id := c.Param("role_id")
	if err := s.store.DeleteRole(ctx, id); err != nil {
		return nil, storeErr(err)
	}
	if err := s.revoke(ctx, token.Revocation{Kind: "role", RoleID: id}); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}
