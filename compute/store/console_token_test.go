package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// TestConsoleTokens checks a token is consumed once, an expired one is
// refused, and creating a token sweeps expired ones.
func TestConsoleTokens(t *testing.T) {
	ctx := t.Context()
	gdb := testutil.DB(t)
	s := store.New(gdb)
	in := store.Instance{UUID: uuid.NewString(), Name: "c", ProjectID: "p", UserID: "u", FlavorID: "1", VCPUs: 1,
		MemoryMB: 64, VMState: store.VMActive, Metadata: store.Specs{}, FlavorExtraSpecs: store.Specs{}}
	if err := s.CreateInstance(ctx, &in); err != nil {
		t.Fatal(err)
	}
	mk := func(token string, ttl time.Duration) {
		t.Helper()
		err := s.CreateConsoleToken(ctx, &store.ConsoleToken{TokenHash: store.HashConsoleToken(token), ConsoleType: "serial",
			Host: "h1", InstanceUUID: in.UUID, AccessURLBase: "ws://x/", Expires: time.Now().Add(ttl)})
		if err != nil {
			t.Fatal(err)
		}
	}
	mk("live", time.Minute)
	mk("old", -time.Second)

	got, err := s.ConsumeConsoleToken(ctx, store.HashConsoleToken("live"))
	if err != nil || got.InstanceUUID != in.UUID || got.Host != "h1" || got.ConsoleType != "serial" {
		t.Fatalf("consume = %+v, %v", got, err)
	}
	if _, err := s.ConsumeConsoleToken(ctx, store.HashConsoleToken("live")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second use: %v, want not found", err)
	}
	if _, err := s.ConsumeConsoleToken(ctx, store.HashConsoleToken("old")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired: %v, want not found", err)
	}
	if _, err := s.ConsumeConsoleToken(ctx, store.HashConsoleToken("bogus")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bogus: %v, want not found", err)
	}
	mk("other", time.Minute)
	mk("old2", -time.Second)
	mk("third", time.Minute) // sweeps old2
	var n int64
	if err := gdb.Raw("SELECT count(*) FROM console_auth_tokens WHERE expires <= now()").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d expired tokens left after a create", n)
	}
}
