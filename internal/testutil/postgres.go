package testutil

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/internal/db"
)

// Packages whose tests use Postgres or DB must stop the shared cluster when
// their tests end, with
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
//
// Postgres fails the test otherwise. If the test binary dies without running
// Main's cleanup (a panic, a -timeout), the postmaster still exits with it
// (Pdeathsig), leaving only a /tmp/kumo-pg-* directory.

// shared is the one cluster per test binary. It is package state because a
// test binary is one process and every test in it shares the cluster.
var shared struct {
	mu         sync.Mutex
	mainCalled bool
	cluster    *db.Cluster
	dir        string
	err        error // a failed start is not retried by later tests
	seq        atomic.Int64
}

// Main runs the tests and then stops the shared PostgreSQL cluster, if a test
// started one, and removes its directory. Call it from TestMain.
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.mainCalled = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := shared.cluster.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "testutil: stop postgres: %v\n", err)
		}
		cancel()
		shared.cluster = nil
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
		shared.dir = ""
	}
	return code
}

// Postgres returns the DSN of a new, empty database (created from template0)
// in the test binary's private cluster, which it starts on first use. The
// database is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	c := sharedCluster(t)
	name := databaseName(t.Name(), shared.seq.Add(1))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, c, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("testutil: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, c, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testutil: drop database %s: %v", name, err)
		}
	})
	return c.DSNFor(name)
}

// DB returns a gorm handle on a new database (see Postgres) with every
// service's migrations applied. The handle is closed when the test ends.
func DB(t testing.TB) *gorm.DB {
	t.Helper()
	dsn := Postgres(t)
	log := testLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gdb, err := db.Open(ctx, dsn, log)
	if err != nil {
		t.Fatalf("testutil: %v", err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		t.Fatalf("testutil: %v", err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	if _, err := db.MigrateAll(ctx, gdb, log); err != nil {
		t.Fatalf("testutil: %v", err)
	}
	return gdb
}

// sharedCluster starts the test binary's cluster on first use.
func sharedCluster(t testing.TB) *db.Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.mainCalled {
		t.Fatal("testutil: a test using PostgreSQL needs func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) } in its package, so the shared cluster is stopped")
	}
	if shared.cluster != nil {
		return shared.cluster
	}
	if shared.err != nil {
		t.Fatalf("testutil: postgres failed to start earlier: %v", shared.err)
	}
	dir, err := os.MkdirTemp("", "kumo-pg-")
	if err == nil {
		// MkdirTemp makes it 0700; the postgres user must traverse it.
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		shared.err = err
		t.Fatalf("testutil: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := db.StartCluster(ctx, db.ClusterConfig{Dir: dir, Log: testLogger(), Fast: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		shared.err = err
		t.Fatalf("testutil: %v", err)
	}
	shared.cluster, shared.dir = c, dir
	return c
}

func adminExec(ctx context.Context, c *db.Cluster, sql string) error {
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName makes a unique database name that still says which test
// owns it, within PostgreSQL's 63-byte identifier limit.
func databaseName(test string, seq int64) string {
	prefix := fmt.Sprintf("t%d_", seq)
	name := prefix + strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(test), "_"), "_")
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// testLogger reports warnings and errors (a postgres restart, a slow query)
// on stderr, where go test shows them.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
