package quota_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/internal/quota"
)

func TestConsume(t *testing.T) {
	tests := []struct {
		name       string
		limit      int64 // for compute.cores, set before the test
		before     int64 // cores in use before
		deltas     map[string]int64
		wantErr    *quota.OverQuotaError
		wantInUse  int64 // cores in use after
		wantOthers map[string]int64
	}{
		{name: "within limit", limit: 20, deltas: map[string]int64{"compute.cores": 4, "compute.instances": 1},
			wantInUse: 4, wantOthers: map[string]int64{"compute.instances": 1}},
		{name: "up to the limit exactly", limit: 20, before: 16, deltas: map[string]int64{"compute.cores": 4}, wantInUse: 20},
		{name: "over limit", limit: 20, before: 18, deltas: map[string]int64{"compute.cores": 4, "compute.instances": 1},
			wantErr:   &quota.OverQuotaError{Resource: "compute.cores", Limit: 20, InUse: 18, Requested: 4},
			wantInUse: 18, wantOthers: map[string]int64{"compute.instances": 0}},
		{name: "zero limit", limit: 0, deltas: map[string]int64{"compute.cores": 1},
			wantErr: &quota.OverQuotaError{Resource: "compute.cores", Limit: 0, Requested: 1}},
		{name: "unlimited", limit: quota.Unlimited, before: 5, deltas: map[string]int64{"compute.cores": 1 << 40}, wantInUse: 5 + 1<<40},
		{name: "release", limit: 20, before: 10, deltas: map[string]int64{"compute.cores": -4}, wantInUse: 6},
		{name: "release never below zero", limit: 20, before: 3, deltas: map[string]int64{"compute.cores": -5}, wantInUse: 0},
		{name: "release while over a lowered limit", limit: 2, before: 10, deltas: map[string]int64{"compute.cores": -1}, wantInUse: 9},
		{name: "mixed grow and shrink", limit: 20, before: 20, deltas: map[string]int64{"compute.cores": -2, "volume.gigabytes": 100},
			wantInUse: 18, wantOthers: map[string]int64{"volume.gigabytes": 100}},
		{name: "zero delta is a no-op", limit: 0, deltas: map[string]int64{"compute.cores": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, db := newEngine(t)
			ctx := context.Background()
			if tt.before > 0 {
				mustConsume(t, e, db, "p", map[string]int64{"compute.cores": tt.before})
			}
			if err := e.SetLimit(ctx, "p", "compute.cores", tt.limit, true); err != nil {
				t.Fatal(err)
			}

			err := consume(t, e, db, "p", tt.deltas)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Consume: %v", err)
				}
			} else {
				var over *quota.OverQuotaError
				if !errors.As(err, &over) || !errors.Is(err, quota.ErrOverQuota) {
					t.Fatalf("Consume = %v, want an *OverQuotaError matching ErrOverQuota", err)
				}
				if *over != *tt.wantErr {
					t.Errorf("Consume error = %+v, want %+v", *over, *tt.wantErr)
				}
			}
			if got := usage(t, e, "p", "compute.cores").InUse; got != tt.wantInUse {
				t.Errorf("compute.cores in use = %d, want %d", got, tt.wantInUse)
			}
			for r, want := range tt.wantOthers {
				if got := usage(t, e, "p", r).InUse; got != want {
					t.Errorf("%s in use = %d, want %d", r, got, want)
				}
			}
			// Another project is untouched.
			if got := usage(t, e, "q", "compute.cores").InUse; got != 0 {
				t.Errorf("project q compute.cores in use = %d, want 0", got)
			}
		})
	}
}

func TestConsumeErrors(t *testing.T) {
	e, db := newEngine(t)
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"unknown resource", func() error {
			return consume(t, e, db, "p", map[string]int64{"compute.cores": 1, "compute.gpus": 1})
		}, quota.ErrUnknownResource},
		{"outside a transaction", func() error {
			return e.Consume(db, "p", map[string]int64{"compute.cores": 1})
		}, nil},
		{"empty project", func() error {
			return consume(t, e, db, "", map[string]int64{"compute.cores": 1})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("got %v, want an error (%v)", err, tt.want)
			}
		})
	}
	if got := usage(t, e, "p", "compute.cores").InUse; got != 0 {
		t.Errorf("in use after failed calls = %d, want 0", got)
	}
}

func TestConsumeRollsBackWithCallersTransaction(t *testing.T) {
	e, db := newEngine(t)
	createThings(t, db)
	errBoom := errors.New("boom: creating the resource failed after Consume")

	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO things (project_id) VALUES ('p')`).Error; err != nil {
			return err
		}
		if err := e.Consume(tx, "p", map[string]int64{"compute.instances": 1, "compute.cores": 2}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("transaction = %v, want %v", err, errBoom)
	}
	for _, r := range []string{"compute.instances", "compute.cores"} {
		if got := usage(t, e, "p", r).InUse; got != 0 {
			t.Errorf("%s in use after rollback = %d, want 0", r, got)
		}
	}
	if n := countThings(t, db, "p"); n != 0 {
		t.Errorf("things after rollback = %d, want 0", n)
	}

	// The same work committed is counted.
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO things (project_id) VALUES ('p')`).Error; err != nil {
			return err
		}
		return e.Consume(tx, "p", map[string]int64{"compute.instances": 1, "compute.cores": 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := usage(t, e, "p", "compute.cores").InUse; got != 2 {
		t.Errorf("compute.cores in use after commit = %d, want 2", got)
	}
}

// TestConsumeRace is the acceptance test: many transactions racing for the
// last unit of a quota, each also creating its resource row, leave exactly
// one winner.
func TestConsumeRace(t *testing.T) {
	const (
		racers = 50
		// rounds repeats the race on fresh projects: the window a missing
		// lock opens is short, and one round does not always hit it.
		rounds = 4
	)
	tests := []struct {
		name   string
		limit  int64
		before int64 // units consumed before the race; 0 leaves no usage row
	}{
		{name: "first unit, no usage row yet", limit: 1},
		{name: "last unit of many", limit: 7, before: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, db := newEngine(t)
			ctx := context.Background()
			createThings(t, db)
			for round := range rounds {
				project := fmt.Sprintf("p%d", round)
				if err := e.SetLimit(ctx, project, "compute.instances", tt.limit, false); err != nil {
					t.Fatal(err)
				}
				if tt.before > 0 {
					mustConsume(t, e, db, project, map[string]int64{"compute.instances": tt.before})
				}

				start := make(chan struct{})
				errs := make([]error, racers)
				var wg sync.WaitGroup
				for i := range racers {
					wg.Go(func() {
						<-start
						errs[i] = db.Transaction(func(tx *gorm.DB) error {
							if err := tx.Exec(`INSERT INTO things (project_id) VALUES (?)`, project).Error; err != nil {
								return err
							}
							if err := e.Consume(tx, project, map[string]int64{"compute.instances": 1}); err != nil {
								return err
							}
							// The caller's further work keeps the
							// transaction, and the winner's locks, open.
							return tx.Exec(`SELECT pg_sleep(0.05)`).Error
						})
					})
				}
				close(start)
				wg.Wait()

				var ok, over int
				for i, err := range errs {
					var oq *quota.OverQuotaError
					switch {
					case err == nil:
						ok++
					case errors.As(err, &oq) && errors.Is(err, quota.ErrOverQuota):
						over++
						want := quota.OverQuotaError{Resource: "compute.instances", Limit: tt.limit, InUse: tt.limit, Requested: 1}
						if *oq != want {
							t.Errorf("round %d racer %d: error %+v, want %+v", round, i, *oq, want)
						}
					default:
						t.Errorf("round %d racer %d: unexpected error: %v", round, i, err)
					}
				}
				if ok != 1 || over != racers-1 {
					t.Errorf("round %d: %d successes and %d OverQuota errors, want 1 and %d", round, ok, over, racers-1)
				}
				if got := usage(t, e, project, "compute.instances").InUse; got != tt.limit {
					t.Errorf("round %d: in use = %d, want %d", round, got, tt.limit)
				}
				if n := countThings(t, db, project); n != 1 {
					t.Errorf("round %d: things created = %d, want 1", round, n)
				}
			}
		})
	}
}

// createThings creates the table standing in for a service's resources.
func createThings(t *testing.T, db *gorm.DB) {
	t.Helper()
	if err := db.Exec(`CREATE TABLE things (id bigserial PRIMARY KEY, project_id text NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
}

// countThings counts the project's things.
func countThings(t *testing.T, db *gorm.DB, project string) int64 {
	t.Helper()
	var n int64
	if err := db.Raw(`SELECT count(*) FROM things WHERE project_id = ?`, project).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
