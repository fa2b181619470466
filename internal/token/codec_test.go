package token

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2030, 5, 17, 9, 30, 15, 123456000, time.UTC)

// newTestCodec returns a codec on a fresh repository with a fake clock at t0.
func newTestCodec(t testing.TB) (*Codec, *KeyRepository, *fakeClock) {
	t.Helper()
	repo, err := OpenRepository(t.TempDir() + "/token-keys")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: t0}
	c, err := NewCodec(repo, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return c, repo, clock
}

// typical returns project-scoped claims shaped like a real password login.
func typical() Claims {
	return Claims{
		UserID:          "5d2f8a1c9e0b4f6a8c3d7e1f2a4b6c8d",
		UserDomainID:    "default",
		Methods:         []string{"password"},
		ProjectID:       "0b9c3e1d7f2a4c6e8a1b3d5f7c9e2a4b",
		ProjectDomainID: "default",
		Roles:           []string{"admin", "member", "reader"},
		RoleIDs:         []string{"1f3a5c7e9b2d4f6a8c0e1a3b5d7f9c2e", "2a4c6e8a0b1d3f5a7c9e1b3d5f7a9c0b", "3b5d7f9a1c2e4a6c8e0b2d4f6a8c1e3d"},
		AuditID:         NewAuditID(),
		IssuedAt:        t0,
		ExpiresAt:       t0.Add(time.Hour),
	}
}

func TestRoundTrip(t *testing.T) {
	c, _, _ := newTestCodec(t)
	tests := map[string]Claims{
		"project": typical(),
		"domain": {
			UserID: "u1", UserDomainID: "d0c5a7e3-1b2f-4c6d-8e9a-0b1c2d3e4f5a", Methods: []string{"password", "totp"},
			DomainID: "d0c5a7e3-1b2f-4c6d-8e9a-0b1c2d3e4f5a", Roles: []string{"admin"}, RoleIDs: []string{"r-admin"},
			AuditID: NewAuditID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Minute),
		},
		"system": {
			UserID: "admin-user", UserDomainID: "default", Methods: []string{"password"}, System: true,
			Roles: []string{"admin", "member", "reader"}, RoleIDs: []string{"a", "b", "c"},
			AuditID: NewAuditID(), IssuedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
		},
		"unscoped": {
			UserID: "u2", UserDomainID: "default", Methods: []string{"password"},
			AuditID: NewAuditID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
		},
		"rescoped from token": {
			UserID: "u3", UserDomainID: "default", Methods: []string{"password", "token"},
			ProjectID: "p3", ProjectDomainID: "Some Domain ✓", Roles: []string{"reader"}, RoleIDs: []string{"r"},
			AuditID: NewAuditID(), ParentAuditID: NewAuditID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
		},
		"application credential": {
			UserID: "u4", UserDomainID: "default", Methods: []string{"application_credential"},
			ProjectID: "p4", ProjectDomainID: "default", Roles: []string{"member", "reader"}, RoleIDs: []string{"m", "r"},
			AppCredID: "c6a1e4b3d2f5a7c9e0b8d1f3a5c7e9b2", AuditID: NewAuditID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
		},
		"odd strings": {
			UserID: strings.Repeat("x", 300), UserDomainID: "ABCDEF0123456789ABCDEF0123456789", // upper-case hex stays raw
			Methods: []string{"custom-method"}, ProjectID: "0B9C3E1D-7F2A-4C6E-8A1B-3D5F7C9E2A4B", ProjectDomainID: "default",
			Roles: []string{"weird role", ""}, RoleIDs: []string{"", "x"},
			AuditID: "not-an-audit-id", IssuedAt: t0, ExpiresAt: t0.Add(time.Microsecond),
		},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			tok, err := c.Issue(in)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			got, err := c.Parse(tok)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := in
			want.IssuedAt = in.IssuedAt.Truncate(time.Microsecond).UTC()
			want.ExpiresAt = in.ExpiresAt.Truncate(time.Microsecond).UTC()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse(Issue(c)) =\n%+v\nwant\n%+v", got, want)
			}
			if name != "odd strings" && len(tok) >= 500 {
				t.Errorf("token is %d bytes, want < 500", len(tok))
			}
			t.Logf("%d-byte token", len(tok))
		})
	}
}

func TestIssueFillsAndRefuses(t *testing.T) {
	c, _, clock := newTestCodec(t)
	in := typical()
	in.AuditID, in.IssuedAt = "", time.Time{}
	tok, err := c.Issue(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.AuditID) != 22 || !got.IssuedAt.Equal(clock.Now().Truncate(time.Microsecond)) {
		t.Fatalf("Issue filled AuditID %q IssuedAt %v", got.AuditID, got.IssuedAt)
	}

	bad := map[string]func(*Claims){
		"no user":            func(c *Claims) { c.UserID = "" },
		"no expiry":          func(c *Claims) { c.ExpiresAt = time.Time{} },
		"expires at issue":   func(c *Claims) { c.ExpiresAt = c.IssuedAt },
		"roles without ids":  func(c *Claims) { c.RoleIDs = c.RoleIDs[:1] },
		"two scopes":         func(c *Claims) { c.DomainID = "d" },
		"system and project": func(c *Claims) { c.System = true },
		"too many roles": func(c *Claims) {
			c.Roles = make([]string, 300)
			c.RoleIDs = make([]string, 300)
		},
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			cl := typical()
			mutate(&cl)
			if tok, err := c.Issue(cl); err == nil {
				t.Fatalf("Issue accepted bad claims: %s", tok)
			}
		})
	}
}

func TestTamperedTokensAreInvalid(t *testing.T) {
	c, _, _ := newTestCodec(t)
	tok, err := c.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

	t.Run("every character of the string", func(t *testing.T) {
		for i := range len(tok) {
			for j := range len(alphabet) {
				if alphabet[j] == tok[i] {
					continue
				}
				bad := tok[:i] + alphabet[j:j+1] + tok[i+1:]
				if _, err := c.Parse(bad); !errors.Is(err, ErrInvalid) {
					t.Fatalf("char %d changed to %q: Parse = %v, want ErrInvalid", i, alphabet[j], err)
				}
			}
		}
	})
	t.Run("every bit of the decoded bytes", func(t *testing.T) {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for bit := range 8 {
				b := append([]byte(nil), raw...)
				b[i] ^= 1 << bit
				if _, err := c.Parse(base64.RawURLEncoding.EncodeToString(b)); !errors.Is(err, ErrInvalid) {
					t.Fatalf("byte %d bit %d flipped: Parse = %v, want ErrInvalid", i, bit, err)
				}
			}
		}
	})
	t.Run("malformed", func(t *testing.T) {
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		cases := map[string]string{
			"empty":           "",
			"garbage":         "not a token at all!",
			"short base64":    "AQID",
			"truncated":       tok[:len(tok)-1],
			"truncated bytes": base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
			"header only":     base64.RawURLEncoding.EncodeToString(raw[:headerSize+16]),
			"padded":          base64.URLEncoding.EncodeToString(raw),
			"extended":        tok + "AAAA",
			"huge":            strings.Repeat("A", MaxTokenLen+4),
			"other version":   base64.RawURLEncoding.EncodeToString(append([]byte{2}, raw[1:]...)),
		}
		for name, s := range cases {
			if _, err := c.Parse(s); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Parse = %v, want ErrInvalid", name, err)
			}
		}
	})
	t.Run("another repository's key", func(t *testing.T) {
		other, _, _ := newTestCodec(t)
		if _, err := other.Parse(tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Parse with unrelated keys = %v, want ErrInvalid", err)
		}
	})
}

func TestExpiry(t *testing.T) {
	c, _, clock := newTestCodec(t)
	in := typical()
	tok, err := c.Issue(in)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Hour - time.Microsecond)
	if _, err := c.Parse(tok); err != nil {
		t.Fatalf("Parse a microsecond before expiry: %v", err)
	}
	clock.Add(time.Microsecond)
	if _, err := c.Parse(tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("Parse at expiry = %v, want ErrExpired", err)
	}
}

func TestRotation(t *testing.T) {
	c, repo, _ := newTestCodec(t)
	old, err := c.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	// With the default three active keys, the old primary survives one
	// rotation as a secondary and leaves at the second.
	if err := repo.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(old); err != nil {
		t.Fatalf("token from the old primary after one rotation: %v", err)
	}
	newer, err := c.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	if id := func(tok string) []byte { b, _ := base64.RawURLEncoding.DecodeString(tok); return b[1:5] }; string(id(old)) == string(id(newer)) {
		t.Fatal("token issued after rotation used the old primary's key id")
	}
	if err := repo.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(old); !errors.Is(err, ErrInvalid) {
		t.Fatalf("token whose key left the repository: Parse = %v, want ErrInvalid", err)
	}
	if _, err := c.Parse(newer); err != nil {
		t.Fatalf("token from the now secondary key: %v", err)
	}
}

func TestStagedKeyAcceptsPeersAfterTheirRotation(t *testing.T) {
	dir := t.TempDir()
	repoA, err := OpenRepository(dir)
	if err != nil {
		t.Fatal(err)
	}
	repoB, err := OpenRepository(dir) // another process on the same directory
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: t0}
	a, _ := NewCodec(repoA, WithClock(clock.Now))
	b, _ := NewCodec(repoB, WithClock(clock.Now))

	if err := repoA.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	// B has not reloaded, yet A's new primary is B's staged key.
	tok, err := a.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Parse(tok); err != nil {
		t.Fatalf("peer with the staged key: Parse = %v", err)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(repoA.Keys(), repoB.Keys()) {
		t.Fatalf("after Reload the repositories differ: %v vs %v", repoA.Keys(), repoB.Keys())
	}
	fromB, err := b.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Parse(fromB); err != nil {
		t.Fatalf("A parsing B's token after reload: %v", err)
	}
}

func TestCodecFromKeys(t *testing.T) {
	c, repo, clock := newTestCodec(t)
	raw, err := NewCodecFromKeys(repo.Keys(), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := raw.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Parse(tok); err != nil {
		t.Fatalf("repository codec parsing a raw-key codec's token: %v", err)
	}
	if err := raw.Reload(); err == nil {
		t.Fatal("Reload on a codec without a repository succeeded")
	}
	if _, err := NewCodecFromKeys(nil); err == nil {
		t.Fatal("NewCodecFromKeys(nil) succeeded")
	}
}

func TestKeyNeverPrintsSecret(t *testing.T) {
	k := Key{Index: 3}
	for i := range k.Secret {
		k.Secret[i] = 0xAB
	}
	for _, s := range []string{k.String(), k.GoString(), k.LogValue().String()} {
		if strings.Contains(strings.ToLower(s), "abab") || strings.Contains(s, "171") {
			t.Fatalf("key description leaks the secret: %s", s)
		}
	}
}
