package policy

import "strings"

// Credentials describe who is asking, as established by the token issuer.
//
// Roles are role names in lower case, with implied roles already expanded
// (admin implies member implies reader); the engine does not expand them.
type Credentials struct {
	UserID          string
	UserDomainID    string
	ProjectID       string
	ProjectDomainID string
	DomainID        string
	// Roles are the role names granted on the token's scope, lower-case.
	Roles []string
	// System is true for a token scoped to the whole deployment (system scope "all").
	System bool
}

// HasRole reports whether the credentials carry the named role, ignoring case.
func (c Credentials) HasRole(name string) bool {
	for _, r := range c.Roles {
		if r == name || strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

// Target describes the object acted on, keyed as oslo.policy targets are:
// "project_id", "user_id", "domain_id", "target.project.domain_id", ...
type Target map[string]string
