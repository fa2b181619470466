package identity

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/token"
)

// Keystone's POST /v3/auth/tokens request.
type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User userRef `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
			AppCred *struct {
				ID     string   `json:"id"`
				Name   string   `json:"name"`
				Secret string   `json:"secret"`
				User   *userRef `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope *scopeRef `json:"scope"`
	} `json:"auth"`
}

type nameRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type userRef struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Domain   *nameRef `json:"domain"`
	Password string   `json:"password"`
}

type scopeRef struct {
	Project *struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		Domain *nameRef `json:"domain"`
	} `json:"project"`
	Domain *nameRef `json:"domain"`
	System *struct {
		All bool `json:"all"`
	} `json:"system"`
	Unscoped any `json:"unscoped"`
}

// errAuth is the one answer to every failed authentication, whatever failed,
// so that a caller cannot learn whether a user exists.
var errAuth = api.Unauthorized("The request you have made requires authentication.")

// authenticated is who authenticated and how, before scoping.
type authenticated struct {
	user          store.User
	methods       []string
	parentAuditID string
	parent        *token.Claims
	appCred       *store.AppCredential
}

func (s *Service) issueToken(c *gin.Context) (*api.Response, error) {
	var req authRequest
	if err := api.BindJSON(c, &req); err != nil {
		return nil, err
	}
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		return nil, api.BadRequest("Expecting to find identity methods in auth.")
	}
	ctx := c.Request.Context()
	var who authenticated
	var err error
	switch id.Methods[0] {
	case "password":
		if id.Password == nil {
			return nil, api.BadRequest("Expecting to find password in identity.")
		}
		who, err = s.authPassword(ctx, id.Password.User)
	case "token":
		if id.Token == nil || id.Token.ID == "" {
			return nil, api.BadRequest("Expecting to find token in identity.")
		}
		who, err = s.authToken(ctx, id.Token.ID)
	case "application_credential":
		if id.AppCred == nil || id.AppCred.Secret == "" {
			return nil, api.BadRequest("Expecting to find application_credential in identity.")
		}
		who, err = s.authAppCred(ctx, id.AppCred.ID, id.AppCred.Name, id.AppCred.User, id.AppCred.Secret)
	default:
		return nil, api.Unauthorized("Attempted to authenticate with an unsupported method.")
	}
	if err != nil {
		return nil, err
	}
	claims, err := s.scope(ctx, who, req.Auth.Scope)
	if err != nil {
		return nil, err
	}
	tok, err := s.codec.Issue(claims)
	if err != nil {
		return nil, api.Internal(err)
	}
	_, nocat := c.GetQuery("nocatalog") // present, with or without a value
	body, err := s.tokenBody(ctx, claims, !nocat)
	if err != nil {
		return nil, err
	}
	return api.Created(body).WithHeader(api.HeaderSubjectToken, tok), nil
}

// authPassword checks a user's password, with the same cost and answer
// whether or not the user exists, and counts failures for lockout.
func (s *Service) authPassword(ctx context.Context, ref userRef) (authenticated, error) {
	user, err := s.findUser(ctx, ref)
	if err != nil {
		verifySecret(dummyHash, ref.Password)
		return authenticated{}, errAuth
	}
	if user.LockedUntil != nil && time.Now().Before(*user.LockedUntil) {
		verifySecret(dummyHash, ref.Password)
		return authenticated{}, errAuth
	}
	if !verifySecret(user.PasswordHash, ref.Password) {
		if s.cfg.LockoutAttempts > 0 {
			if err := s.store.RecordLoginFailure(ctx, user.ID, s.cfg.LockoutAttempts, s.cfg.LockoutDuration); err != nil {
				s.log.Warn("recording a login failure", "user_id", user.ID, "error", err)
			}
		}
		return authenticated{}, errAuth
	}
	if !user.Enabled {
		return authenticated{}, errAuth
	}
	if user.FailedLogins > 0 {
		if err := s.store.ResetLoginFailures(ctx, user.ID); err != nil {
			s.log.Warn("resetting login failures", "user_id", user.ID, "error", err)
		}
	}
	if err := s.checkUserDomain(ctx, user); err != nil {
		return authenticated{}, err
	}
	return authenticated{user: user, methods: []string{"password"}}, nil
}

func (s *Service) findUser(ctx context.Context, ref userRef) (store.User, error) {
	if ref.ID != "" {
		return s.store.GetUser(ctx, ref.ID)
	}
	if ref.Name == "" || ref.Domain == nil {
		return store.User{}, errAuth
	}
	dom, err := s.findDomain(ctx, *ref.Domain)
	if err != nil {
		return store.User{}, err
	}
	return s.store.GetUserByName(ctx, dom.ID, ref.Name)
}

func (s *Service) findDomain(ctx context.Context, ref nameRef) (store.Domain, error) {
	if ref.ID != "" {
		return s.store.GetDomain(ctx, ref.ID)
	}
	return s.store.GetDomainByName(ctx, ref.Name)
}

func (s *Service) checkUserDomain(ctx context.Context, user store.User) error {
	dom, err := s.store.GetDomain(ctx, user.DomainID)
	if err != nil || !dom.Enabled {
		return errAuth
	}
	return nil
}

// authToken authenticates with an existing token (rescoping).
func (s *Service) authToken(ctx context.Context, tok string) (authenticated, error) {
	claims, err := s.tokens.Validate(tok)
	if err != nil {
		return authenticated{}, errAuth
	}
	if claims.AppCredID != "" {
		return authenticated{}, api.Forbidden("Cannot rescope a token issued from an application credential.")
	}
	user, err := s.store.GetUser(ctx, claims.UserID)
	if err != nil || !user.Enabled {
		return authenticated{}, errAuth
	}
	methods := append(slices.Clone(claims.Methods), "token")
	methods = slices.Compact(methods)
	parent := claims.ParentAuditID
	if parent == "" {
		parent = claims.AuditID
	}
	return authenticated{user: user, methods: methods, parentAuditID: parent, parent: &claims}, nil
}

// authAppCred authenticates with an application credential's secret.
func (s *Service) authAppCred(ctx context.Context, id, name string, ref *userRef, secret string) (authenticated, error) {
	var ac store.AppCredential
	var err error
	switch {
	case id != "":
		ac, err = s.store.GetAppCredential(ctx, id)
	case name != "" && ref != nil:
		var user store.User
		if user, err = s.findUser(ctx, *ref); err == nil {
			ac, err = s.store.GetAppCredentialByName(ctx, user.ID, name)
		}
	default:
		return authenticated{}, api.BadRequest("Expecting an application credential id, or a name and a user.")
	}
	if err != nil {
		verifySecret(dummyHash, secret)
		return authenticated{}, errAuth
	}
	if !verifySecret(ac.SecretHash, secret) || (ac.ExpiresAt != nil && time.Now().After(*ac.ExpiresAt)) {
		return authenticated{}, errAuth
	}
	user, err := s.store.GetUser(ctx, ac.UserID)
	if err != nil || !user.Enabled {
		return authenticated{}, errAuth
	}
	return authenticated{user: user, methods: []string{"application_credential"}, appCred: &ac}, nil
}

// scope resolves the requested scope and the roles the user holds there.
func (s *Service) scope(ctx context.Context, who authenticated, ref *scopeRef) (token.Claims, error) {
	now := time.Now().UTC()
	cl := token.Claims{
		UserID: who.user.ID, UserDomainID: who.user.DomainID, Methods: who.methods,
		AuditID: token.NewAuditID(), ParentAuditID: who.parentAuditID,
		IssuedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL),
	}
	if who.parent != nil && who.parent.ExpiresAt.Before(cl.ExpiresAt) {
		cl.ExpiresAt = who.parent.ExpiresAt // a rescoped token never outlives its parent
	}
	if who.appCred != nil {
		cl.AppCredID = who.appCred.ID
		if ac := who.appCred.ExpiresAt; ac != nil && ac.Before(cl.ExpiresAt) {
			cl.ExpiresAt = *ac
		}
		// An application credential is always scoped to its project.
		ref = &scopeRef{}
		ref.Project = &struct {
			ID     string   `json:"id"`
			Name   string   `json:"name"`
			Domain *nameRef `json:"domain"`
		}{ID: who.appCred.ProjectID}
	}
	if ref == nil && who.parent != nil {
		// Rescoping without a scope keeps the original token's scope.
		cl.ProjectID, cl.ProjectDomainID, cl.DomainID, cl.System = who.parent.ProjectID, who.parent.ProjectDomainID, who.parent.DomainID, who.parent.System
		if cl.ProjectID == "" && cl.DomainID == "" && !cl.System {
			return cl, nil
		}
		return s.withRoles(ctx, cl, who)
	}
	if ref == nil && who.user.DefaultProjectID != "" {
		// Keystone scopes to the default project when it is usable.
		if p, err := s.store.GetProject(ctx, who.user.DefaultProjectID); err == nil && p.Enabled {
			cl.ProjectID, cl.ProjectDomainID = p.ID, p.DomainID
			if scoped, err := s.withRoles(ctx, cl, who); err == nil {
				return scoped, nil
			}
			cl.ProjectID, cl.ProjectDomainID = "", ""
		}
		return cl, nil
	}
	if ref == nil || ref.Unscoped != nil {
		return cl, nil
	}
	switch {
	case ref.Project != nil:
		p, err := s.findProject(ctx, ref.Project.ID, ref.Project.Name, ref.Project.Domain)
		if err != nil {
			return cl, err
		}
		cl.ProjectID, cl.ProjectDomainID = p.ID, p.DomainID
	case ref.Domain != nil:
		d, err := s.findDomain(ctx, *ref.Domain)
		if err != nil || !d.Enabled {
			return cl, errAuth
		}
		cl.DomainID = d.ID
	case ref.System != nil && ref.System.All:
		cl.System = true
	default:
		return cl, api.BadRequest("Invalid scope.")
	}
	return s.withRoles(ctx, cl, who)
}

func (s *Service) findProject(ctx context.Context, id, name string, dom *nameRef) (store.Project, error) {
	var p store.Project
	var err error
	switch {
	case id != "":
		p, err = s.store.GetProject(ctx, id)
	case name != "" && dom != nil:
		var d store.Domain
		if d, err = s.findDomain(ctx, *dom); err == nil {
			p, err = s.store.GetProjectByName(ctx, d.ID, name)
		}
	default:
		return p, api.BadRequest("Expecting a project id, or a name and a domain, in the scope.")
	}
	if err != nil || !p.Enabled {
		return p, errAuth
	}
	if d, err := s.store.GetDomain(ctx, p.DomainID); err != nil || !d.Enabled {
		return p, errAuth
	}
	return p, nil
}

// withRoles fills the claims' roles for their scope; no role means no access.
func (s *Service) withRoles(ctx context.Context, cl token.Claims, who authenticated) (token.Claims, error) {
	kind, target := "project", cl.ProjectID
	switch {
	case cl.DomainID != "":
		kind, target = "domain", cl.DomainID
	case cl.System:
		kind, target = "system", "system"
	}
	ids, err := s.store.EffectiveRoleIDs(ctx, who.user.ID, kind, target)
	if err != nil {
		return cl, api.Internal(err)
	}
	if who.appCred != nil {
		// An application credential delegates at most the roles it names,
		// and only while the user still holds them.
		ids = slices.DeleteFunc(ids, func(id string) bool { return !slices.Contains(who.appCred.RoleIDs, id) })
	}
	if len(ids) == 0 {
		return cl, api.Unauthorized("User %s has no access to %s %s.", who.user.ID, kind, target)
	}
	roles, err := s.store.ListRoles(ctx, store.RoleFilter{})
	if err != nil {
		return cl, api.Internal(err)
	}
	for _, r := range roles {
		if slices.Contains(ids, r.ID) {
			cl.RoleIDs = append(cl.RoleIDs, r.ID)
			cl.Roles = append(cl.Roles, r.Name)
		}
	}
	return cl, nil
}

// tokenBody renders a token as Keystone does.
func (s *Service) tokenBody(ctx context.Context, cl token.Claims, withCatalog bool) (gin.H, error) {
	user, err := s.store.GetUser(ctx, cl.UserID)
	if err != nil {
		return nil, api.NotFound("Could not find user: %s.", cl.UserID)
	}
	udom, err := s.store.GetDomain(ctx, user.DomainID)
	if err != nil {
		return nil, api.Internal(err)
	}
	audit := []string{cl.AuditID}
	if cl.ParentAuditID != "" {
		audit = append(audit, cl.ParentAuditID)
	}
	t := gin.H{
		"methods":    cl.Methods,
		"user":       gin.H{"id": user.ID, "name": user.Name, "domain": gin.H{"id": udom.ID, "name": udom.Name}, "password_expires_at": optTimeNoZ(user.PasswordExpiresAt)},
		"audit_ids":  audit,
		"issued_at":  formatTime(cl.IssuedAt),
		"expires_at": formatTime(cl.ExpiresAt),
	}
	scoped := cl.ProjectID != "" || cl.DomainID != "" || cl.System
	if scoped {
		roles := make([]gin.H, len(cl.Roles))
		for i := range cl.Roles {
			roles[i] = gin.H{"id": cl.RoleIDs[i], "name": cl.Roles[i]}
		}
		t["roles"] = roles
	}
	switch {
	case cl.ProjectID != "":
		p, err := s.store.GetProject(ctx, cl.ProjectID)
		if err != nil {
			return nil, api.NotFound("Could not find project: %s.", cl.ProjectID)
		}
		pdom, err := s.store.GetDomain(ctx, p.DomainID)
		if err != nil {
			return nil, api.Internal(err)
		}
		t["project"] = gin.H{"id": p.ID, "name": p.Name, "domain": gin.H{"id": pdom.ID, "name": pdom.Name}}
		t["is_domain"] = false
	case cl.DomainID != "":
		d, err := s.store.GetDomain(ctx, cl.DomainID)
		if err != nil {
			return nil, api.NotFound("Could not find domain: %s.", cl.DomainID)
		}
		t["domain"] = gin.H{"id": d.ID, "name": d.Name}
	case cl.System:
		t["system"] = gin.H{"all": true}
	}
	if cl.AppCredID != "" {
		ac, err := s.store.GetAppCredential(ctx, cl.AppCredID)
		if err == nil {
			t["application_credential"] = gin.H{"id": ac.ID, "name": ac.Name, "restricted": !ac.Unrestricted}
		}
	}
	if withCatalog && scoped {
		cat, err := s.catalog(ctx, cl.ProjectID)
		if err != nil {
			return nil, err
		}
		t["catalog"] = cat
	}
	return gin.H{"token": t}, nil
}

// subject validates the X-Subject-Token of a token request.
func (s *Service) subject(c *gin.Context) (string, token.Claims, error) {
	sub := c.GetHeader(api.HeaderSubjectToken)
	if sub == "" {
		return "", token.Claims{}, api.BadRequest("Expecting the X-Subject-Token header.")
	}
	claims, err := s.tokens.Validate(sub)
	if err != nil {
		return "", token.Claims{}, api.NotFound("Could not find token: %s.", shorten(sub))
	}
	return sub, claims, nil
}

func (s *Service) validateToken(c *gin.Context) (*api.Response, error) {
	sub, claims, err := s.subject(c)
	if err != nil {
		return nil, err
	}
	_, nocat := c.GetQuery("nocatalog")
	body, err := s.tokenBody(c.Request.Context(), claims, !nocat)
	if err != nil {
		return nil, err
	}
	return api.OK(body).WithHeader(api.HeaderSubjectToken, sub), nil
}

func (s *Service) checkToken(c *gin.Context) (*api.Response, error) {
	if _, _, err := s.subject(c); err != nil {
		return nil, err
	}
	return &api.Response{Status: http.StatusOK}, nil
}

func (s *Service) revokeToken(c *gin.Context) (*api.Response, error) {
	_, claims, err := s.subject(c)
	if err != nil {
		return nil, err
	}
	if err := s.revoke(c.Request.Context(), token.Revocation{Kind: "audit", AuditID: claims.AuditID}); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}

func (s *Service) authCatalog(c *gin.Context) (*api.Response, error) {
	cat, err := s.catalog(c.Request.Context(), api.Claims(c).ProjectID)
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"catalog": cat, "links": listLinks{Self: s.url("/auth/catalog")}}), nil
}

func (s *Service) authProjects(c *gin.Context) (*api.Response, error) {
	projects, err := s.store.ProjectsForUser(c.Request.Context(), api.Claims(c).UserID)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := make([]projectView, 0, len(projects))
	for _, p := range projects {
		if p.Enabled {
			out = append(out, s.projectView(p))
		}
	}
	return api.OK(s.list(c, "projects", out)), nil
}

func (s *Service) authDomains(c *gin.Context) (*api.Response, error) {
	domains, err := s.store.DomainsForUser(c.Request.Context(), api.Claims(c).UserID)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := make([]domainView, 0, len(domains))
	for _, d := range domains {
		if d.Enabled {
			out = append(out, s.domainView(d))
		}
	}
	return api.OK(s.list(c, "domains", out)), nil
}

func (s *Service) authSystem(c *gin.Context) (*api.Response, error) {
	ids, err := s.store.EffectiveRoleIDs(c.Request.Context(), api.Claims(c).UserID, "system", "system")
	if err != nil {
		return nil, api.Internal(err)
	}
	system := []gin.H{}
	if len(ids) > 0 {
		system = append(system, gin.H{"all": true})
	}
	return api.OK(gin.H{"system": system, "links": listLinks{Self: s.url("/auth/system")}}), nil
}

// revoke records a revocation, applies it here at once and tells every other
// service over NATS.
func (s *Service) revoke(ctx context.Context, r token.Revocation) error {
	now := time.Now().UTC()
	if r.IssuedBefore.IsZero() {
		r.IssuedBefore = now
	}
	r.ExpiresAt = now.Add(s.cfg.TokenTTL)
	if err := s.store.AddRevocation(ctx, &store.RevocationRecord{
		Kind: r.Kind, AuditID: r.AuditID, UserID: r.UserID, ProjectID: r.ProjectID, DomainID: r.DomainID,
		AppCredID: r.AppCredID, RoleID: r.RoleID, IssuedBefore: r.IssuedBefore, ExpiresAt: r.ExpiresAt,
	}); err != nil {
		return err
	}
	if s.revocations != nil {
		if err := s.revocations.Add(r); err != nil {
			return err
		}
	}
	return token.PublishRevocation(ctx, s.bus, r)
}

// storeErr maps store errors to API errors.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return api.NotFound("Could not find %s.", trimErr(err))
	case errors.Is(err, store.ErrConflict):
		return api.Conflict("Conflict occurred attempting to store %s.", trimErr(err))
	case errors.Is(err, store.ErrInvalid):
		return api.BadRequest("Invalid input: %s.", trimErr(err))
	default:
		return api.Internal(err)
	}
}

// trimErr keeps the entity part of a store error ("project abc").
func trimErr(err error) string {
	msg := err.Error()
	for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict, store.ErrInvalid} {
		if i := len(msg) - len(sentinel.Error()) - 2; i > 0 && msg[i:] == ": "+sentinel.Error() {
			return msg[:i]
		}
	}
	return msg
}
