package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Revocation kinds, each naming the claims a Revocation matches.
const (
	// KindAudit revokes the token with AuditID and every token issued from
	// it (ParentAuditID), whenever issued.
	KindAudit = "audit"
	// KindUser revokes UserID's tokens issued at or before IssuedBefore.
	KindUser = "user"
	// KindProject revokes tokens scoped to ProjectID issued at or before
	// IssuedBefore.
	KindProject = "project"
	// KindUserProject revokes UserID's tokens scoped to ProjectID issued at
	// or before IssuedBefore.
	KindUserProject = "user_project"
	// KindDomain revokes tokens of users in DomainID or scoped to it
	// (directly or through a project) issued at or before IssuedBefore.
	KindDomain = "domain"
	// KindAppCred revokes tokens issued from application credential
	// AppCredID, whenever issued.
	KindAppCred = "app_cred"
	// KindRole revokes tokens carrying role RoleID issued at or before
	// IssuedBefore.
	KindRole = "role"
)

// Revocation describes a set of tokens that must no longer validate.
type Revocation struct {
	// Kind is one of the Kind* constants and says which fields are used.
	Kind string `json:"kind"`
	// AuditID, UserID, ProjectID, DomainID, AppCredID and RoleID identify
	// what is revoked; each kind uses the ones its constant names.
	AuditID   string `json:"audit_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	ProjectID string `json:"project_id,omitempty"`
	DomainID  string `json:"domain_id,omitempty"`
	AppCredID string `json:"app_cred_id,omitempty"`
	RoleID    string `json:"role_id,omitempty"`
	// IssuedBefore limits every kind but audit and app_cred to tokens
	// issued at or before it.
	IssuedBefore time.Time `json:"issued_before,omitzero"`
	// ExpiresAt is when no token the revocation matches can still be valid
	// (IssuedBefore plus the longest token lifetime); the entry is pruned
	// after it. Zero keeps the entry forever.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Validate reports whether r has the fields its kind needs.
func (r Revocation) Validate() error {
	need := func(fields ...string) error {
		for i := 0; i < len(fields); i += 2 {
			if fields[i+1] == "" {
				return fmt.Errorf("token: %s revocation without %s", r.Kind, fields[i])
			}
		}
		return nil
	}
	needTime := func() error {
		if r.IssuedBefore.IsZero() {
			return fmt.Errorf("token: %s revocation without issued_before", r.Kind)
		}
		return nil
	}
	switch r.Kind {
	case KindAudit:
		return need("audit_id", r.AuditID)
	case KindAppCred:
		return need("app_cred_id", r.AppCredID)
	case KindUser:
		return errors.Join(need("user_id", r.UserID), needTime())
	case KindProject:
		return errors.Join(need("project_id", r.ProjectID), needTime())
	case KindUserProject:
		return errors.Join(need("user_id", r.UserID, "project_id", r.ProjectID), needTime())
	case KindDomain:
		return errors.Join(need("domain_id", r.DomainID), needTime())
	case KindRole:
		return errors.Join(need("role_id", r.RoleID), needTime())
	default:
		return fmt.Errorf("token: unknown revocation kind %q", r.Kind)
	}
}

// entry is what a revocation index keeps for one key: the latest
// IssuedBefore (an earlier one is implied by it) and the latest expiry.
type entry struct {
	issuedBefore time.Time // zero for kinds that ignore issue time
	expiresAt    time.Time // zero for never
}

// matches reports whether a token issued at issued is revoked by e.
func (e entry) matches(issued time.Time) bool {
	return e.issuedBefore.IsZero() || !issued.After(e.issuedBefore)
}

func (e entry) merge(o entry) entry {
	if o.issuedBefore.IsZero() || (!e.issuedBefore.IsZero() && o.issuedBefore.After(e.issuedBefore)) {
		e.issuedBefore = o.issuedBefore
	}
	if e.expiresAt.IsZero() || o.expiresAt.IsZero() {
		e.expiresAt = time.Time{}
	} else if o.expiresAt.After(e.expiresAt) {
		e.expiresAt = o.expiresAt
	}
	return e
}

type userProject struct{ user, project string }

// RevocationList holds the revocations in force, indexed by kind so that
// IsRevoked costs a handful of map lookups however many entries there are.
// It is safe for concurrent use.
type RevocationList struct {
	mu          sync.RWMutex
	n           int
	audit       map[string]entry
	user        map[string]entry
	project     map[string]entry
	userProject map[userProject]entry
	domain      map[string]entry
	appCred     map[string]entry
	role        map[string]entry
}

// NewRevocationList returns an empty list.
func NewRevocationList() *RevocationList {
	return &RevocationList{
		audit:       map[string]entry{},
		user:        map[string]entry{},
		project:     map[string]entry{},
		userProject: map[userProject]entry{},
		domain:      map[string]entry{},
		appCred:     map[string]entry{},
		role:        map[string]entry{},
	}
}

// Add puts r in force; adding a revocation twice is harmless.
func (l *RevocationList) Add(r Revocation) error {
	if err := r.Validate(); err != nil {
		return err
	}
	e := entry{issuedBefore: r.IssuedBefore, expiresAt: r.ExpiresAt}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r.Kind {
	case KindAudit:
		e.issuedBefore = time.Time{}
		put(l, l.audit, r.AuditID, e)
	case KindAppCred:
		e.issuedBefore = time.Time{}
		put(l, l.appCred, r.AppCredID, e)
	case KindUser:
		put(l, l.user, r.UserID, e)
	case KindProject:
		put(l, l.project, r.ProjectID, e)
	case KindUserProject:
		put(l, l.userProject, userProject{r.UserID, r.ProjectID}, e)
	case KindDomain:
		put(l, l.domain, r.DomainID, e)
	case KindRole:
		put(l, l.role, r.RoleID, e)
	}
	return nil
}

func put[K comparable](l *RevocationList, m map[K]entry, k K, e entry) {
	if old, ok := m[k]; ok {
		m[k] = old.merge(e)
		return
	}
	m[k] = e
	l.n++
}

// Len returns the number of entries in the list (revocations of the same
// kind and key count once).
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.n
}

// IsRevoked reports whether any revocation in force matches c.
func (l *RevocationList) IsRevoked(c Claims) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.n == 0 {
		return false
	}
	at := c.IssuedAt
	if hit(l.audit, c.AuditID, at) || hit(l.audit, c.ParentAuditID, at) ||
		hit(l.user, c.UserID, at) || hit(l.project, c.ProjectID, at) ||
		hit(l.appCred, c.AppCredID, at) ||
		hit(l.domain, c.UserDomainID, at) || hit(l.domain, c.DomainID, at) ||
		(c.ProjectDomainID != c.UserDomainID && hit(l.domain, c.ProjectDomainID, at)) {
		return true
	}
	if c.ProjectID != "" && len(l.userProject) > 0 {
		if e, ok := l.userProject[userProject{c.UserID, c.ProjectID}]; ok && e.matches(at) {
			return true
		}
	}
	if len(l.role) > 0 {
		for _, id := range c.RoleIDs {
			if hit(l.role, id, at) {
				return true
			}
		}
	}
	return false
}

func hit(m map[string]entry, k string, issued time.Time) bool {
	if k == "" || len(m) == 0 {
		return false
	}
	e, ok := m[k]
	return ok && e.matches(issued)
}

// Prune removes the entries whose ExpiresAt is at or before now and returns
// how many it removed.
func (l *RevocationList) Prune(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	removed := prune(l.audit, now) + prune(l.user, now) + prune(l.project, now) +
		prune(l.userProject, now) + prune(l.domain, now) + prune(l.appCred, now) + prune(l.role, now)
	l.n -= removed
	return removed
}

func prune[K comparable](m map[K]entry, now time.Time) int {
	n := 0
	for k, e := range m {
		if !e.expiresAt.IsZero() && !e.expiresAt.After(now) {
			delete(m, k)
			n++
		}
	}
	return n
}

// RunPruner calls Prune every interval until ctx is done; run it in a
// goroutine the caller waits for.
func (l *RevocationList) RunPruner(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.Prune(now)
		}
	}
}
