package api

import (
	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api/policy"
	"github.com/kumo-cloud/kumo/internal/token"
)

// HeaderAuthToken carries the caller's token; HeaderSubjectToken the token
// being issued or validated.
const (
	HeaderAuthToken    = "X-Auth-Token"
	HeaderSubjectToken = "X-Subject-Token"
)

const (
	ctxClaims      = "kumo.claims"
	ctxCredentials = "kumo.credentials"
	ctxEnforcer    = "kumo.enforcer"
)

// TokenValidator validates a token locally (decrypt, expiry, revocations).
type TokenValidator interface {
	Validate(tok string) (token.Claims, error)
}

// TokenAuth is the Authorizer every service shares: it validates the
// X-Auth-Token locally and checks the route's policy rule with a target made
// of the path parameters and, by default, the caller's own project.
type TokenAuth struct {
	Tokens   TokenValidator
	Enforcer *policy.Enforcer
}

// Authorize implements Authorizer.
func (a *TokenAuth) Authorize(c *gin.Context, svc *Service, route *Route) error {
	claims, err := a.Authenticate(c)
	if err != nil {
		return err
	}
	cred := Credentials(c)
	target := policy.Target{"project_id": claims.ProjectID, "user_id": claims.UserID, "domain_id": claims.DomainID}
	for _, p := range c.Params {
		target[p.Key] = p.Value
	}
	if route.Target != nil {
		if err := route.Target(c, target); err != nil {
			return err
		}
	}
	if !a.Enforcer.Enforce(route.Policy, cred, target) {
		if route.HideDenied {
			return NotFound("Could not find the requested resource.")
		}
		return Forbidden("You are not authorized to perform the requested action: %s.", route.Policy)
	}
	return nil
}

// Authenticate validates the caller's token and records its claims on the
// request; handlers of public routes may call it themselves.
func (a *TokenAuth) Authenticate(c *gin.Context) (token.Claims, error) {
	if v, ok := c.Get(ctxClaims); ok {
		return v.(token.Claims), nil
	}
	tok := c.GetHeader(HeaderAuthToken)
	if tok == "" {
		return token.Claims{}, Unauthorized("The request you have made requires authentication.")
	}
	claims, err := a.Tokens.Validate(tok)
	if err != nil {
		// Expired, tampered and revoked tokens all look the same to the caller.
		return token.Claims{}, &Error{Kind: KindUnauthorized, Message: "The request you have made requires authentication.", Err: err}
	}
	c.Set(ctxClaims, claims)
	c.Set(ctxCredentials, CredentialsOf(claims))
	c.Set(ctxEnforcer, a.Enforcer)
	return claims, nil
}

// CredentialsOf turns token claims into policy credentials.
func CredentialsOf(cl token.Claims) policy.Credentials {
	return policy.Credentials{
		UserID: cl.UserID, UserDomainID: cl.UserDomainID,
		ProjectID: cl.ProjectID, ProjectDomainID: cl.ProjectDomainID,
		DomainID: cl.DomainID, Roles: cl.Roles, System: cl.System,
	}
}

// Claims returns the validated claims of the caller.
func Claims(c *gin.Context) token.Claims {
	v, _ := c.Get(ctxClaims)
	cl, _ := v.(token.Claims)
	return cl
}

// Token returns the caller's own token, for a service that acts on another
// service on the caller's behalf (as Nova passes its request context to
// Glance).
func Token(c *gin.Context) string { return c.GetHeader(HeaderAuthToken) }

// Credentials returns the caller's policy credentials.
func Credentials(c *gin.Context) policy.Credentials {
	v, _ := c.Get(ctxCredentials)
	cr, _ := v.(policy.Credentials)
	return cr
}

// Allowed evaluates a policy rule against an object-level target for the
// caller of an authenticated route.
func Allowed(c *gin.Context, rule string, target policy.Target) bool {
	v, ok := c.Get(ctxEnforcer)
	if !ok {
		return false
	}
	return v.(*policy.Enforcer).Enforce(rule, Credentials(c), target)
}
