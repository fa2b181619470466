package token

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestRevocationKinds(t *testing.T) {
	before, after := t0.Add(-time.Second), t0.Add(time.Second)
	tok := typical() // user 5d2f..., project 0b9c..., domain "default", issued t0
	tok.ParentAuditID = NewAuditID()
	appTok := typical()
	appTok.AppCredID = "cred-1"
	domainTok := Claims{UserID: "u9", UserDomainID: "ldap", DomainID: "other", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}

	tests := []struct {
		name    string
		r       Revocation
		claims  Claims
		revoked bool
	}{
		{"audit id", Revocation{Kind: KindAudit, AuditID: tok.AuditID}, tok, true},
		{"parent audit id", Revocation{Kind: KindAudit, AuditID: tok.ParentAuditID}, tok, true},
		{"other audit id", Revocation{Kind: KindAudit, AuditID: NewAuditID()}, tok, false},
		{"user, issued before", Revocation{Kind: KindUser, UserID: tok.UserID, IssuedBefore: after}, tok, true},
		{"user, issued exactly at", Revocation{Kind: KindUser, UserID: tok.UserID, IssuedBefore: t0}, tok, true},
		{"user, issued after", Revocation{Kind: KindUser, UserID: tok.UserID, IssuedBefore: before}, tok, false},
		{"other user", Revocation{Kind: KindUser, UserID: "someone", IssuedBefore: after}, tok, false},
		{"project", Revocation{Kind: KindProject, ProjectID: tok.ProjectID, IssuedBefore: after}, tok, true},
		{"project, issued after", Revocation{Kind: KindProject, ProjectID: tok.ProjectID, IssuedBefore: before}, tok, false},
		{"project, unscoped token", Revocation{Kind: KindProject, ProjectID: tok.ProjectID, IssuedBefore: after}, domainTok, false},
		{"user and project", Revocation{Kind: KindUserProject, UserID: tok.UserID, ProjectID: tok.ProjectID, IssuedBefore: after}, tok, true},
		{"user and other project", Revocation{Kind: KindUserProject, UserID: tok.UserID, ProjectID: "p2", IssuedBefore: after}, tok, false},
		{"other user and project", Revocation{Kind: KindUserProject, UserID: "u2", ProjectID: tok.ProjectID, IssuedBefore: after}, tok, false},
		{"user and project, issued after", Revocation{Kind: KindUserProject, UserID: tok.UserID, ProjectID: tok.ProjectID, IssuedBefore: before}, tok, false},
		{"domain of the user", Revocation{Kind: KindDomain, DomainID: "ldap", IssuedBefore: after}, domainTok, true},
		{"domain scope", Revocation{Kind: KindDomain, DomainID: "other", IssuedBefore: after}, domainTok, true},
		{"domain of the project", Revocation{Kind: KindDomain, DomainID: "pd", IssuedBefore: after}, func() Claims { c := tok; c.ProjectDomainID = "pd"; return c }(), true},
		{"domain, issued after", Revocation{Kind: KindDomain, DomainID: "ldap", IssuedBefore: before}, domainTok, false},
		{"unrelated domain", Revocation{Kind: KindDomain, DomainID: "nope", IssuedBefore: after}, domainTok, false},
		{"app cred", Revocation{Kind: KindAppCred, AppCredID: "cred-1"}, appTok, true},
		{"app cred, token without one", Revocation{Kind: KindAppCred, AppCredID: "cred-1"}, tok, false},
		{"other app cred", Revocation{Kind: KindAppCred, AppCredID: "cred-2"}, appTok, false},
		{"role", Revocation{Kind: KindRole, RoleID: tok.RoleIDs[2], IssuedBefore: after}, tok, true},
		{"role, issued after", Revocation{Kind: KindRole, RoleID: tok.RoleIDs[2], IssuedBefore: before}, tok, false},
		{"role not held", Revocation{Kind: KindRole, RoleID: "r-x", IssuedBefore: after}, tok, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewRevocationList()
			if got := l.IsRevoked(tt.claims); got {
				t.Fatal("revoked by an empty list")
			}
			if err := l.Add(tt.r); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if got := l.IsRevoked(tt.claims); got != tt.revoked {
				t.Fatalf("IsRevoked = %v, want %v", got, tt.revoked)
			}
		})
	}
}

func TestRevocationValidate(t *testing.T) {
	now := time.Now()
	bad := []Revocation{
		{},
		{Kind: "bogus", AuditID: "a"},
		{Kind: KindAudit},
		{Kind: KindUser, UserID: "u"}, // no IssuedBefore
		{Kind: KindUser, IssuedBefore: now},
		{Kind: KindUserProject, UserID: "u", IssuedBefore: now},
		{Kind: KindProject, IssuedBefore: now},
		{Kind: KindDomain, IssuedBefore: now},
		{Kind: KindAppCred},
		{Kind: KindRole, IssuedBefore: now},
	}
	l := NewRevocationList()
	for _, r := range bad {
		if err := l.Add(r); err == nil {
			t.Errorf("Add(%+v) accepted an invalid revocation", r)
		}
	}
	if l.Len() != 0 {
		t.Fatalf("Len = %d after only invalid adds", l.Len())
	}
}

func TestRevocationMergeAndPrune(t *testing.T) {
	l := NewRevocationList()
	tok := typical()
	add := func(r Revocation) {
		t.Helper()
		if err := l.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	// A later IssuedBefore for the same user widens the entry; an earlier
	// one does not narrow it.
	add(Revocation{Kind: KindUser, UserID: tok.UserID, IssuedBefore: t0.Add(-time.Minute), ExpiresAt: t0.Add(time.Hour)})
	if l.IsRevoked(tok) {
		t.Fatal("token issued after the revocation is revoked")
	}
	add(Revocation{Kind: KindUser, UserID: tok.UserID, IssuedBefore: t0, ExpiresAt: t0.Add(2 * time.Hour)})
	add(Revocation{Kind: KindUser, UserID: tok.UserID, IssuedBefore: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)})
	if !l.IsRevoked(tok) {
		t.Fatal("widened user revocation does not revoke")
	}
	add(Revocation{Kind: KindAudit, AuditID: "a", ExpiresAt: t0.Add(30 * time.Minute)})
	add(Revocation{Kind: KindAppCred, AppCredID: "c"}) // never expires
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want 3", l.Len())
	}
	if n := l.Prune(t0.Add(30 * time.Minute)); n != 1 {
		t.Fatalf("Prune removed %d, want the audit entry", n)
	}
	if n := l.Prune(t0.Add(90 * time.Minute)); n != 0 {
		t.Fatalf("Prune removed %d, want 0: the merged user entry lives 2h", n)
	}
	if !l.IsRevoked(tok) {
		t.Fatal("user revocation pruned too early")
	}
	if n := l.Prune(t0.Add(1000 * time.Hour)); n != 1 || l.Len() != 1 || l.IsRevoked(tok) {
		t.Fatalf("Prune at +1000h removed %d, Len %d", n, l.Len())
	}
}

// fillRevocations adds n revocations spread over every kind, none matching
// typical().
func fillRevocations(t testing.TB, l *RevocationList, n int) {
	t.Helper()
	kinds := []string{KindAudit, KindUser, KindProject, KindUserProject, KindDomain, KindAppCred, KindRole}
	for i := range n {
		id := fmt.Sprintf("%032x", i+1)
		r := Revocation{Kind: kinds[i%len(kinds)], IssuedBefore: t0.Add(time.Hour), ExpiresAt: t0.Add(2 * time.Hour)}
		switch r.Kind {
		case KindAudit:
			r.AuditID = id
		case KindUser:
			r.UserID = id
		case KindProject:
			r.ProjectID = id
		case KindUserProject:
			r.UserID, r.ProjectID = typical().UserID, id
		case KindDomain:
			r.DomainID = id
		case KindAppCred:
			r.AppCredID = id
		case KindRole:
			r.RoleID = id
		}
		if err := l.Add(r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIsRevokedCostIndependentOfSize(t *testing.T) {
	tok := typical()
	small, big := NewRevocationList(), NewRevocationList()
	fillRevocations(t, small, 14) // every map non-empty
	start := time.Now()
	fillRevocations(t, big, 10000)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("adding 10,000 revocations took %s", d)
	}
	if small.IsRevoked(tok) || big.IsRevoked(tok) {
		t.Fatal("filler revocations revoke the token")
	}
	if a := testing.AllocsPerRun(100, func() { big.IsRevoked(tok) }); a != 0 {
		t.Errorf("IsRevoked allocates %v times", a)
	}
	// Median of several rounds each, so a descheduled round cannot decide.
	measure := func(l *RevocationList) time.Duration {
		var rounds []time.Duration
		for range 9 {
			start := time.Now()
			for range 20000 {
				l.IsRevoked(tok)
			}
			rounds = append(rounds, time.Since(start)/20000)
		}
		sort.Slice(rounds, func(i, j int) bool { return rounds[i] < rounds[j] })
		return rounds[len(rounds)/2]
	}
	s, b := measure(small), measure(big)
	t.Logf("IsRevoked: %v with 14 entries, %v with 10,000", s, b)
	if b > 3*s+200*time.Nanosecond {
		t.Fatalf("IsRevoked with 10,000 entries costs %v against %v with 14", b, s)
	}
}

func TestRevocationListConcurrent(t *testing.T) {
	l := NewRevocationList()
	tok := typical()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				_ = l.Add(Revocation{Kind: KindAudit, AuditID: fmt.Sprintf("g%d-%d", g, i), ExpiresAt: t0})
				l.IsRevoked(tok)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			l.Prune(t0)
		}
	})
	wg.Wait()
	l.Prune(t0)
	if l.Len() != 0 {
		t.Fatalf("Len = %d after pruning everything", l.Len())
	}
}

func TestValidator(t *testing.T) {
	c, _, clock := newTestCodec(t)
	l := NewRevocationList()
	v := NewValidator(c, l)
	in := typical()
	tok, err := c.Issue(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Validate(tok); err != nil || got.AuditID != in.AuditID {
		t.Fatalf("Validate = %+v, %v", got, err)
	}
	if err := l.Add(Revocation{Kind: KindAudit, AuditID: in.AuditID}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(tok); err != ErrRevoked {
		t.Fatalf("Validate revoked token = %v, want ErrRevoked", err)
	}
	clock.Add(2 * time.Hour)
	if _, err := v.Validate(tok); err != ErrExpired {
		t.Fatalf("Validate expired token = %v, want ErrExpired", err)
	}
	if _, err := v.Validate("junk"); err != ErrInvalid {
		t.Fatalf("Validate junk = %v, want ErrInvalid", err)
	}
}
