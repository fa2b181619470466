package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestFollowReplaysThenFollows(t *testing.T) {
	_, url := testutil.NATS(t)
	identity := testutil.Connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	future := time.Now().Add(time.Hour)

	// History: revocations interleaved with other services' events, an
	// expired revocation and a malformed one.
	const past = 200
	for i := range past {
		r := Revocation{Kind: KindAudit, AuditID: fmt.Sprintf("past-%d", i), ExpiresAt: future}
		if err := PublishRevocation(ctx, identity, r); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if err := bus.PublishEvent(ctx, identity, bus.Event{Service: "compute", Resource: "server", Action: "created"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	expired := Revocation{Kind: KindAudit, AuditID: "expired", ExpiresAt: time.Now().Add(-time.Minute)}
	if err := PublishRevocation(ctx, identity, expired); err != nil {
		t.Fatal(err)
	}
	junk := bus.Event{Service: EventService, Resource: EventResource, Action: EventAction, Payload: json.RawMessage(`{"kind":"nonsense"}`)}
	if err := bus.PublishEvent(ctx, identity, junk); err != nil {
		t.Fatal(err)
	}
	last := Revocation{Kind: KindUser, UserID: "u-last", IssuedBefore: t0, ExpiresAt: future}
	if err := PublishRevocation(ctx, identity, last); err != nil {
		t.Fatal(err)
	}

	// Two services start; each is consistent the moment Follow returns.
	lists := []*RevocationList{NewRevocationList(), NewRevocationList()}
	for i, l := range lists {
		svc := testutil.Connect(t, url)
		stop, err := Follow(ctx, svc, l, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("Follow %d: %v", i, err)
		}
		defer stop()
		if got := l.Len(); got != past+1 {
			t.Fatalf("service %d: %d entries right after Follow, want %d", i, got, past+1)
		}
		if !l.IsRevoked(Claims{UserID: "u-last", IssuedAt: t0}) || !l.IsRevoked(Claims{UserID: "x", AuditID: "past-0"}) {
			t.Fatalf("service %d: replayed revocations not in force", i)
		}
		if l.IsRevoked(Claims{UserID: "x", AuditID: "expired"}) {
			t.Fatalf("service %d: expired revocation applied", i)
		}
	}

	// Live: a new revocation reaches both within the 2 s budget.
	for n := range 5 {
		audit := NewAuditID()
		claims := Claims{UserID: "x", AuditID: audit}
		start := time.Now()
		if err := PublishRevocation(ctx, identity, Revocation{Kind: KindAudit, AuditID: audit, ExpiresAt: future}); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 2*time.Second, func() error {
			for i, l := range lists {
				if !l.IsRevoked(claims) {
					return fmt.Errorf("service %d has not applied revocation %d", i, n)
				}
			}
			return nil
		})
		t.Logf("revocation %d reached both services in %s", n, time.Since(start))
	}
}

func TestFollowEmptyStreamAndStop(t *testing.T) {
	b := testutil.Bus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := NewRevocationList()
	start := time.Now()
	stop, err := Follow(ctx, b, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Follow on an empty stream took %s", d)
	}
	if err := PublishRevocation(ctx, b, Revocation{Kind: KindAppCred, AppCredID: "c1"}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 2*time.Second, func() error {
		if !l.IsRevoked(Claims{AppCredID: "c1"}) {
			return errors.New("app cred revocation not applied")
		}
		return nil
	})
	// Ending ctx ends following; stop still returns, and twice is fine.
	cancel()
	stop()
	stop()
}

func TestFollowGivesUpWithContext(t *testing.T) {
	b := testutil.Bus(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if stop, err := Follow(ctx, b, NewRevocationList(), nil); err == nil {
		stop()
		t.Fatal("Follow with a cancelled context succeeded")
	}
}

func TestPublishRevocationRefusesInvalid(t *testing.T) {
	b := testutil.Bus(t)
	if err := PublishRevocation(context.Background(), b, Revocation{Kind: KindUser, UserID: "u"}); err == nil {
		t.Fatal("PublishRevocation accepted a user revocation without issued_before")
	}
}
