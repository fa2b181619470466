package identity

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/token"
)

// Config tunes the identity service.
type Config struct {
	// PublicURL is the base URL clients reach kumo on ("http://127.0.0.1:8080").
	PublicURL string
	// StateDir receives clouds.yaml and openrc at bootstrap.
	StateDir string
	// TokenTTL is how long issued tokens live.
	TokenTTL time.Duration
	// LockoutAttempts locks a user after that many failed logins (0 = never)
	// for LockoutDuration.
	LockoutAttempts int
	LockoutDuration time.Duration
	// Argon2 is the password hashing cost.
	Argon2 Argon2Params
	// Region is the name of the region in the catalog.
	Region string
	// AppCredQuota is the default number of application credentials per
	// project (-1: unlimited).
	AppCredQuota int64
}

// Deps are what the identity service needs from the daemon.
type Deps struct {
	Store  *store.Store
	Bus    *bus.Bus
	Codec  *token.Codec
	Tokens api.TokenValidator
	// Revocations is this process's revocation list, updated at once when
	// identity revokes (other processes learn over NATS).
	Revocations *token.RevocationList
	Quota       *quota.Engine
	Log         *slog.Logger
}

// Service is the identity service.
type Service struct {
	cfg         Config
	store       *store.Store
	bus         *bus.Bus
	codec       *token.Codec
	tokens      api.TokenValidator
	revocations *token.RevocationList
	quota       *quota.Engine
	log         *slog.Logger
	// base is the public URL of the identity API ("http://host:port/identity").
	base string
}

// New builds the identity service.
func New(cfg Config, deps Deps) *Service {
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.Region == "" {
		cfg.Region = "RegionOne"
	}
	if cfg.LockoutDuration == 0 {
		cfg.LockoutDuration = 5 * time.Minute
	}
	return &Service{cfg: cfg, store: deps.Store, bus: deps.Bus, codec: deps.Codec, tokens: deps.Tokens,
		revocations: deps.Revocations, quota: deps.Quota, log: deps.Log.With("service", "identity"), base: cfg.PublicURL + Prefix}
}

// Prefix is where identity lives in all-in-one.
const Prefix = "/identity"

// Start bootstraps the first start (idempotent).
func (s *Service) Start(ctx context.Context) error { return s.Bootstrap(ctx) }

// Stop has nothing to stop: identity has no workers.
func (s *Service) Stop(context.Context) error { return nil }

// API declares identity's routes.
func (s *Service) API() api.Service {
	G, P, H, D, U, A := http.MethodGet, http.MethodPost, http.MethodHead, http.MethodDelete, http.MethodPatch, http.MethodPut
	r := func(method, path, policy string, h api.Handler) api.Route {
		route := api.Route{Method: method, Path: path, Policy: policy, Handler: h}
		if policy != "" {
			route.Target = s.policyTarget
			// Reading something the caller may not see answers 404, as if
			// it did not exist.
			route.HideDenied = (method == G || method == H) && strings.Contains(path, ":")
		}
		return route
	}
	routes := []api.Route{
		r(G, "", "", s.versions),
		r(G, "/", "", s.versions),
		r(G, "/v3", "", s.version),
		r(G, "/v3/", "", s.version),

		// Tokens: POST is public; the others authenticate inside the handler
		// because the subject token matters as much as the caller's.
		r(P, "/v3/auth/tokens", "", s.issueToken),
		r(G, "/v3/auth/tokens", "identity:validate_token", s.validateToken),
		r(H, "/v3/auth/tokens", "identity:check_token", s.checkToken),
		r(D, "/v3/auth/tokens", "identity:revoke_token", s.revokeToken),
		r(G, "/v3/auth/catalog", "identity:get_auth_catalog", s.authCatalog),
		r(G, "/v3/auth/projects", "identity:get_auth_projects", s.authProjects),
		r(G, "/v3/auth/domains", "identity:get_auth_domains", s.authDomains),
		r(G, "/v3/auth/system", "identity:get_auth_system", s.authSystem),

		r(G, "/v3/domains", "identity:list_domains", s.listDomains),
		r(P, "/v3/domains", "identity:create_domain", s.createDomain),
		r(G, "/v3/domains/:domain_id", "identity:get_domain", s.getDomain),
		r(U, "/v3/domains/:domain_id", "identity:update_domain", s.updateDomain),
		r(D, "/v3/domains/:domain_id", "identity:delete_domain", s.deleteDomain),

		r(G, "/v3/projects", "identity:list_projects", s.listProjects),
		r(P, "/v3/projects", "identity:create_project", s.createProject),
		r(G, "/v3/projects/:project_id", "identity:get_project", s.getProject),
		r(U, "/v3/projects/:project_id", "identity:update_project", s.updateProject),
		r(D, "/v3/projects/:project_id", "identity:delete_project", s.deleteProject),

		r(G, "/v3/users", "identity:list_users", s.listUsers),
		r(P, "/v3/users", "identity:create_user", s.createUser),
		r(G, "/v3/users/:user_id", "identity:get_user", s.getUser),
		r(U, "/v3/users/:user_id", "identity:update_user", s.updateUser),
		r(D, "/v3/users/:user_id", "identity:delete_user", s.deleteUser),
		r(P, "/v3/users/:user_id/password", "identity:change_password", s.changePassword),
		r(G, "/v3/users/:user_id/projects", "identity:list_user_projects", s.listUserProjects),
		r(G, "/v3/users/:user_id/groups", "identity:list_groups_for_user", s.listUserGroups),

		r(G, "/v3/groups", "identity:list_groups", s.listGroups),
		r(P, "/v3/groups", "identity:create_group", s.createGroup),
		r(G, "/v3/groups/:group_id", "identity:get_group", s.getGroup),
		r(U, "/v3/groups/:group_id", "identity:update_group", s.updateGroup),
		r(D, "/v3/groups/:group_id", "identity:delete_group", s.deleteGroup),
		r(G, "/v3/groups/:group_id/users", "identity:list_users_in_group", s.listGroupUsers),
		r(A, "/v3/groups/:group_id/users/:user_id", "identity:add_user_to_group", s.addUserToGroup),
		r(H, "/v3/groups/:group_id/users/:user_id", "identity:check_user_in_group", s.checkUserInGroup),
		r(G, "/v3/groups/:group_id/users/:user_id", "identity:check_user_in_group", s.checkUserInGroup),
		r(D, "/v3/groups/:group_id/users/:user_id", "identity:remove_user_from_group", s.removeUserFromGroup),

		r(G, "/v3/roles", "identity:list_roles", s.listRoles),
		r(P, "/v3/roles", "identity:create_role", s.createRole),
		r(G, "/v3/roles/:role_id", "identity:get_role", s.getRole),
		r(U, "/v3/roles/:role_id", "identity:update_role", s.updateRole),
		r(D, "/v3/roles/:role_id", "identity:delete_role", s.deleteRole),
		r(G, "/v3/role_assignments", "identity:list_role_assignments", s.listRoleAssignments),
	}
	// Grants on projects, domains and the system, for users and groups.
	for _, target := range []string{"/v3/projects/:project_id", "/v3/domains/:domain_id", "/v3/system"} {
		for _, actor := range []string{"/users/:user_id", "/groups/:group_id"} {
			base := target + actor + "/roles"
			routes = append(routes,
				r(G, base, "identity:list_grants", s.listGrants),
				r(A, base+"/:role_id", "identity:create_grant", s.createGrant),
				r(H, base+"/:role_id", "identity:check_grant", s.checkGrant),
				r(G, base+"/:role_id", "identity:check_grant", s.checkGrant),
				r(D, base+"/:role_id", "identity:revoke_grant", s.revokeGrant),
			)
		}
	}
	routes = append(routes,
		r(G, "/v3/regions", "identity:list_regions", s.listRegions),
		r(P, "/v3/regions", "identity:create_region", s.createRegion),
		r(G, "/v3/regions/:region_id", "identity:get_region", s.getRegion),
		r(U, "/v3/regions/:region_id", "identity:update_region", s.updateRegion),
		r(D, "/v3/regions/:region_id", "identity:delete_region", s.deleteRegion),
		r(G, "/v3/services", "identity:list_services", s.listServices),
		r(P, "/v3/services", "identity:create_service", s.createService),
		r(G, "/v3/services/:service_id", "identity:get_service", s.getService),
		r(U, "/v3/services/:service_id", "identity:update_service", s.updateService),
		r(D, "/v3/services/:service_id", "identity:delete_service", s.deleteService),
		r(G, "/v3/endpoints", "identity:list_endpoints", s.listEndpoints),
		r(P, "/v3/endpoints", "identity:create_endpoint", s.createEndpoint),
		r(G, "/v3/endpoints/:endpoint_id", "identity:get_endpoint", s.getEndpoint),
		r(U, "/v3/endpoints/:endpoint_id", "identity:update_endpoint", s.updateEndpoint),
		r(D, "/v3/endpoints/:endpoint_id", "identity:delete_endpoint", s.deleteEndpoint),

		r(G, "/v3/users/:user_id/application_credentials", "identity:list_application_credentials", s.listAppCreds),
		r(P, "/v3/users/:user_id/application_credentials", "identity:create_application_credential", s.createAppCred),
		r(G, "/v3/users/:user_id/application_credentials/:cred_id", "identity:get_application_credential", s.getAppCred),
		r(D, "/v3/users/:user_id/application_credentials/:cred_id", "identity:delete_application_credential", s.deleteAppCred),

		r(G, "/v3/limits/model", "identity:get_limit_model", s.limitModel),
		r(G, "/v3/registered_limits", "identity:list_registered_limits", s.listRegisteredLimits),
		r(G, "/v3/limits", "identity:list_limits", s.listLimits),
		r(P, "/v3/limits", "identity:create_limits", s.createLimits),
		r(G, "/v3/limits/:limit_id", "identity:get_limit", s.getLimit),
		r(U, "/v3/limits/:limit_id", "identity:update_limit", s.updateLimit),
		r(D, "/v3/limits/:limit_id", "identity:delete_limit", s.deleteLimit),
	)
	return api.Service{Name: "identity", Prefix: Prefix, Dialect: api.DialectKeystone, Routes: routes}
}

// policyTarget names the objects of a request the way Keystone's policy
// rules expect: a path parameter project_id becomes target.project.id, and the
// subject token's owner is target.token.user_id.
func (s *Service) policyTarget(c *gin.Context, t policy.Target) error {
	for _, p := range c.Params {
		if kind, ok := strings.CutSuffix(p.Key, "_id"); ok {
			t["target."+kind+".id"] = p.Value
		}
	}
	if sub := c.GetHeader(api.HeaderSubjectToken); sub != "" {
		claims, err := s.tokens.Validate(sub)
		if err != nil {
			return api.NotFound("Could not find token: %s.", shorten(sub))
		}
		t["target.token.user_id"] = claims.UserID
	}
	return nil
}

// shorten keeps error messages short when they quote a token.
func shorten(tok string) string {
	if len(tok) > 12 {
		return tok[:12] + "..."
	}
	return tok
}
