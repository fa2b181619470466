package identity

import (
	"errors"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/token"
)

type appCredBody struct {
	AppCred *struct {
		Name         *string   `json:"name"`
		Description  *string   `json:"description"`
		Secret       *string   `json:"secret"`
		ExpiresAt    *string   `json:"expires_at"`
		Roles        []nameRef `json:"roles"`
		Unrestricted *bool     `json:"unrestricted"`
		AccessRules  []any     `json:"access_rules"`
	} `json:"application_credential"`
}

func (s *Service) appCredView(ac store.AppCredential, roles []store.Role) appCredView {
	v := appCredView{ID: ac.ID, Name: ac.Name, Description: ac.Description, ProjectID: ac.ProjectID,
		ExpiresAt: optTimeNoZ(ac.ExpiresAt), Unrestricted: ac.Unrestricted, Roles: []appCredRole{}, AccessRules: []any{},
		Links: link{s.url("/users/" + ac.UserID + "/application_credentials/" + ac.ID)}}
	for _, r := range roles {
		if slices.Contains(ac.RoleIDs, r.ID) {
			v.Roles = append(v.Roles, appCredRole{ID: r.ID, Name: r.Name, DomainID: optString(r.DomainID)})
		}
	}
	return v
}

// createAppCred delegates (a subset of) the caller's roles on the project
// its token is scoped to, as Keystone does.
func (s *Service) createAppCred(c *gin.Context) (*api.Response, error) {
	var b appCredBody
	if err := api.BindJSON(c, &b); err != nil {
		return nil, err
	}
	if b.AppCred == nil {
		return nil, api.BadRequest("Invalid input: 'application_credential' is a required property.")
	}
	if err := required("name", b.AppCred.Name); err != nil {
		return nil, err
	}
	if len(b.AppCred.AccessRules) > 0 {
		return nil, api.BadRequest("Access rules are not supported.")
	}
	claims := api.Claims(c)
	if claims.ProjectID == "" {
		return nil, api.Forbidden("An application credential must be created with a project-scoped token.")
	}
	if claims.AppCredID != "" && (b.AppCred.Unrestricted == nil || !*b.AppCred.Unrestricted) {
		// Keystone: only an unrestricted credential may create another.
		if ac, err := s.store.GetAppCredential(c.Request.Context(), claims.AppCredID); err != nil || !ac.Unrestricted {
			return nil, api.Forbidden("Cannot create an application credential with a restricted application credential.")
		}
	}
	ctx := c.Request.Context()
	roles, err := s.store.ListRoles(ctx, store.RoleFilter{})
	if err != nil {
		return nil, api.Internal(err)
	}
	ac := store.AppCredential{ID: store.NewID(), Name: *b.AppCred.Name, UserID: c.Param("user_id"), ProjectID: claims.ProjectID}
	set(&ac.Description, b.AppCred.Description)
	set(&ac.Unrestricted, b.AppCred.Unrestricted)
	if len(b.AppCred.Roles) == 0 {
		ac.RoleIDs = slices.Clone(claims.RoleIDs)
	}
	for _, want := range b.AppCred.Roles {
		i := slices.IndexFunc(roles, func(r store.Role) bool { return r.ID == want.ID || (want.ID == "" && r.Name == want.Name) })
		if i < 0 || !slices.Contains(claims.RoleIDs, roles[i].ID) {
			return nil, api.BadRequest("Role %s%s is not held by the user on the project.", want.ID, want.Name)
		}
		ac.RoleIDs = append(ac.RoleIDs, roles[i].ID)
	}
	if b.AppCred.ExpiresAt != nil && *b.AppCred.ExpiresAt != "" {
		t, err := parseTime(*b.AppCred.ExpiresAt)
		if err != nil {
			return nil, api.BadRequest("Invalid expires_at: %v.", err)
		}
		if t.Before(time.Now()) {
			return nil, api.BadRequest("The expiration date is in the past.")
		}
		ac.ExpiresAt = &t
	}
	secret := randomSecret(48)
	if b.AppCred.Secret != nil && *b.AppCred.Secret != "" {
		secret = *b.AppCred.Secret
	}
	if ac.SecretHash, err = hashSecret(s.cfg.Argon2, secret); err != nil {
		return nil, api.Internal(err)
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateAppCredential(ctx, &ac); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, s.quota, ac.ProjectID, map[string]int64{ResourceAppCreds: 1})
	})
	if over := (*quota.OverQuotaError)(nil); errors.As(err, &over) {
		return nil, api.QuotaExceeded("Unable to create additional application credentials, maximum of %d already reached for project %s.", over.Limit, ac.ProjectID)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	v := s.appCredView(ac, roles)
	v.Secret = secret
	return api.Created(gin.H{"application_credential": v}), nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, api.BadRequest("unrecognised time %q", s)
}

func (s *Service) listAppCreds(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	acs, err := s.store.ListAppCredentials(ctx, c.Param("user_id"), c.Query("name"))
	if err != nil {
		return nil, storeErr(err)
	}
	roles, err := s.store.ListRoles(ctx, store.RoleFilter{})
	if err != nil {
		return nil, api.Internal(err)
	}
	out := make([]appCredView, len(acs))
	for i, ac := range acs {
		out[i] = s.appCredView(ac, roles)
	}
	return api.OK(s.list(c, "application_credentials", out)), nil
}

func (s *Service) getAppCred(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	ac, err := s.store.GetAppCredential(ctx, c.Param("cred_id"))
	if err != nil || ac.UserID != c.Param("user_id") {
		return nil, api.NotFound("Could not find application credential: %s.", c.Param("cred_id"))
	}
	roles, err := s.store.ListRoles(ctx, store.RoleFilter{})
	if err != nil {
		return nil, api.Internal(err)
	}
	return api.OK(gin.H{"application_credential": s.appCredView(ac, roles)}), nil
}

func (s *Service) deleteAppCred(c *gin.Context) (*api.Response, error) {
	ctx := c.Request.Context()
	ac, err := s.store.GetAppCredential(ctx, c.Param("cred_id"))
	if err != nil || ac.UserID != c.Param("user_id") {
		return nil, api.NotFound("Could not find application credential: %s.", c.Param("cred_id"))
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteAppCredential(ctx, ac.ID); err != nil {
			return err
		}
		return tx.ConsumeQuota(ctx, s.quota, ac.ProjectID, map[string]int64{ResourceAppCreds: -1})
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if err := s.revoke(ctx, token.Revocation{Kind: "app_cred", AppCredID: ac.ID}); err != nil {
		return nil, api.Internal(err)
	}
	return api.NoContent(), nil
}
