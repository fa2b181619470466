package quota_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestReservations(t *testing.T) {
	deltas := map[string]int64{"volume.gigabytes": 100, "compute.instances": 1}
	tests := []struct {
		name      string
		settle    func(e *quota.Engine, id string) error
		wantInUse int64 // volume.gigabytes after settling
	}{
		{"commit", func(e *quota.Engine, id string) error { return e.Commit(context.Background(), id) }, 100},
		{"rollback", func(e *quota.Engine, id string) error { return e.Rollback(context.Background(), id) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, db := newEngine(t)
			ctx := context.Background()
			if err := e.SetLimit(ctx, "p", "volume.gigabytes", 150, false); err != nil {
				t.Fatal(err)
			}
			id, err := e.Reserve(ctx, "p", deltas, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := usage(t, e, "p", "volume.gigabytes"), (quota.Usage{Limit: 150, Reserved: 100}); got != want {
				t.Errorf("usage while reserved = %+v, want %+v", got, want)
			}

			// The reservation counts against Consume and other reservations.
			err = consume(t, e, db, "p", map[string]int64{"volume.gigabytes": 51})
			wantErr := quota.OverQuotaError{Resource: "volume.gigabytes", Limit: 150, Reserved: 100, Requested: 51}
			if oq := (*quota.OverQuotaError)(nil); !errors.As(err, &oq) || *oq != wantErr {
				t.Errorf("Consume over the reservation = %v, want %+v", err, wantErr)
			}
			if _, err := e.Reserve(ctx, "p", map[string]int64{"volume.gigabytes": 51}, time.Hour); !errors.Is(err, quota.ErrOverQuota) {
				t.Errorf("second Reserve = %v, want ErrOverQuota", err)
			}
			mustConsume(t, e, db, "p", map[string]int64{"volume.gigabytes": 50})

			if err := tt.settle(e, id); err != nil {
				t.Fatal(err)
			}
			want := quota.Usage{Limit: 150, InUse: 50 + tt.wantInUse}
			if got := usage(t, e, "p", "volume.gigabytes"); got != want {
				t.Errorf("usage after %s = %+v, want %+v", tt.name, got, want)
			}
			if got := usage(t, e, "p", "compute.instances"); got.Reserved != 0 || got.InUse != tt.wantInUse/100 {
				t.Errorf("compute.instances after %s = %+v", tt.name, got)
			}

			// A reservation settles once.
			for _, f := range []func(context.Context, string) error{e.Commit, e.Rollback} {
				if err := f(ctx, id); !errors.Is(err, quota.ErrReservationNotFound) {
					t.Errorf("settling again = %v, want ErrReservationNotFound", err)
				}
			}
		})
	}
}

func TestReservationExpiry(t *testing.T) {
	e, db := newEngine(t)
	ctx := context.Background()
	// other is taken first, so it expires no later than short.
	other, err := e.Reserve(ctx, "q", map[string]int64{"compute.cores": 2}, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	short, err := e.Reserve(ctx, "p", map[string]int64{"compute.cores": 4, "compute.instances": 1}, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	long, err := e.Reserve(ctx, "p", map[string]int64{"compute.cores": 3}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := usage(t, e, "p", "compute.cores").Reserved; got != 7 {
		t.Fatalf("reserved = %d, want 7", got)
	}

	// Wait, on the database's clock, until short has expired.
	testutil.WaitFor(t, 5*time.Second, func() error {
		var expired bool
		err := db.Raw(`SELECT expires_at <= now() FROM quota_reservations WHERE id = ? LIMIT 1`, short).Scan(&expired).Error
		if err != nil || !expired {
			return fmt.Errorf("reservation %s not expired yet (%v)", short, err)
		}
		return nil
	})
	// Expired but not yet swept: it can no longer be committed, and still holds its quota.
	if err := e.Commit(ctx, short); !errors.Is(err, quota.ErrReservationNotFound) {
		t.Fatalf("Commit of expired reservation = %v, want ErrReservationNotFound", err)
	}
	if got := usage(t, e, "p", "compute.cores").Reserved; got != 7 {
		t.Fatalf("reserved before the sweep = %d, want 7", got)
	}

	n, err := e.ExpireReservations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("ExpireReservations = %d, want 2", n)
	}
	if n, err := e.ExpireReservations(ctx); err != nil || n != 0 {
		t.Errorf("second ExpireReservations = %d, %v; want 0", n, err)
	}
	for _, c := range []struct {
		project, resource string
		want              quota.Usage
	}{
		{"p", "compute.cores", quota.Usage{Limit: 20, Reserved: 3}},
		{"p", "compute.instances", quota.Usage{Limit: 10}},
		{"q", "compute.cores", quota.Usage{Limit: 20}},
	} {
		if got := usage(t, e, c.project, c.resource); got != c.want {
			t.Errorf("%s %s after expiry = %+v, want %+v", c.project, c.resource, got, c.want)
		}
	}
	for _, id := range []string{short, other} {
		if err := e.Rollback(ctx, id); !errors.Is(err, quota.ErrReservationNotFound) {
			t.Errorf("Rollback of swept reservation = %v, want ErrReservationNotFound", err)
		}
	}
	if err := e.Commit(ctx, long); err != nil {
		t.Errorf("Commit of live reservation: %v", err)
	}
	if got, want := usage(t, e, "p", "compute.cores"), (quota.Usage{Limit: 20, InUse: 3}); got != want {
		t.Errorf("after commit = %+v, want %+v", got, want)
	}
}

func TestReserveErrors(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		deltas map[string]int64
		ttl    time.Duration
		want   error
	}{
		{"over quota", map[string]int64{"compute.cores": 21}, time.Hour, quota.ErrOverQuota},
		{"unknown resource", map[string]int64{"compute.gpus": 1}, time.Hour, quota.ErrUnknownResource},
		{"negative delta", map[string]int64{"compute.cores": -1}, time.Hour, nil},
		{"nothing", map[string]int64{"compute.cores": 0}, time.Hour, nil},
		{"no ttl", map[string]int64{"compute.cores": 1}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := e.Reserve(ctx, "p", tt.deltas, tt.ttl)
			if err == nil || id != "" || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Reserve = %q, %v; want an error (%v)", id, err, tt.want)
			}
		})
	}
	if got := usage(t, e, "p", "compute.cores"); got.Reserved != 0 {
		t.Errorf("reserved after failed calls = %d, want 0", got.Reserved)
	}
	for _, id := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
		if err := e.Commit(ctx, id); !errors.Is(err, quota.ErrReservationNotFound) {
			t.Errorf("Commit(%q) = %v, want ErrReservationNotFound", id, err)
		}
	}
}
