package db_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// clusterDir returns a fresh directory the postgres user can traverse
// (t.TempDir's are 0700), removed after the test's clusters are stopped.
func clusterDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kumo-dbtest-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "postgres")
}

// startCluster starts a cluster in dir, stopped when the test ends.
func startCluster(t *testing.T, cfg db.ClusterConfig) *db.Cluster {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = testLog(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := db.StartCluster(ctx, cfg)
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Cleanup(func() { stopCluster(t, c) })
	return c
}

func stopCluster(t *testing.T, c *db.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// assertNoLeftovers checks that nothing of the cluster in dir is left: no
// process, no socket, no lock file.
func assertNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	if pids := db.ClusterProcs(filepath.Join(dir, "data")); len(pids) > 0 {
		t.Errorf("postgres processes left running: %v", pids)
	}
	for _, f := range []string{"data/postmaster.pid", "run/.s.PGSQL.5432", "run/.s.PGSQL.5432.lock"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (stat: %v)", f, err)
		}
	}
}

func exec1(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryMarkers(t *testing.T, dsn string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT v FROM marker ORDER BY v")
	if err != nil {
		t.Fatalf("query markers: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("query markers: %v", err)
	}
	return out
}

func writeMarker(t *testing.T, dsn, v string) {
	t.Helper()
	exec1(t, dsn, "CREATE TABLE IF NOT EXISTS marker (v text PRIMARY KEY)")
	exec1(t, dsn, "INSERT INTO marker (v) VALUES ($1)", v)
}

func assertMarkers(t *testing.T, dsn string, want ...string) {
	t.Helper()
	got := queryMarkers(t, dsn)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("markers = %v, want %v", got, want)
	}
}

func TestClusterStartStop(t *testing.T) {
	for _, fast := range []bool{false, true} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			t.Parallel()
			dir := clusterDir(t)
			start := time.Now()
			c := startCluster(t, db.ClusterConfig{Dir: dir, Fast: fast})
			t.Logf("cold start (initdb + start) took %s", time.Since(start).Round(time.Millisecond))
			if !c.Alive() {
				t.Error("Alive() = false after start")
			}
			exec1(t, c.DSN(), "SELECT 1")

			// No TCP: the only way in is the socket in run/.
			if got, want := c.DSN(), "host="+filepath.Join(dir, "run")+" user=kumo dbname=kumo sslmode=disable"; got != want {
				t.Errorf("DSN() = %q, want %q", got, want)
			}

			stopCluster(t, c)
			stopCluster(t, c) // safe twice
			if c.Alive() {
				t.Error("Alive() = true after Stop")
			}
			assertNoLeftovers(t, dir)
		})
	}
}

func TestClusterReusesData(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)
	c := startCluster(t, db.ClusterConfig{Dir: dir, Fast: true})
	writeMarker(t, c.DSN(), "first run")
	stopCluster(t, c)

	start := time.Now()
	c = startCluster(t, db.ClusterConfig{Dir: dir, Fast: true})
	t.Logf("warm start took %s", time.Since(start).Round(time.Millisecond))
	assertMarkers(t, c.DSN(), "first run")
	stopCluster(t, c)
	assertNoLeftovers(t, dir)
}

func TestClusterRestartsAfterKill(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)
	// Durable mode: with synchronous_commit off the last commit could
	// legitimately be lost by a kill -9.
	cfg := db.WithRestartDelay(db.ClusterConfig{Dir: dir}, 2*time.Second)
	c := startCluster(t, cfg)
	writeMarker(t, c.DSN(), "before kill")

	ctx := context.Background()
	gdb, err := db.Open(ctx, c.DSN(), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := gdb.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	// Fill the pool with several connections that will all be broken.
	runConcurrently(t, 5, func() error { return gdb.Exec("SELECT pg_sleep(0.05)").Error })
	if n := sqlDB.Stats().Idle; n < 2 {
		t.Fatalf("pool holds %d idle connections, want several", n)
	}

	for round := 1; round <= 2; round++ {
		old := c.PostmasterPid()
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 5*time.Second, func() error {
			if c.Alive() {
				return errors.New("cluster still reported alive")
			}
			return nil
		})

		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		start := time.Now()
		err := db.Ping(pctx, gdb)
		cancel()
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Fatalf("round %d: Ping took %s with postgres down", round, elapsed)
		}
		switch {
		case err == nil && c.PostmasterPid() == old:
			// A backend of a pooled connection outlives its killed
			// postmaster until it notices the death, and may answer
			// one more query: what matters is that Ping never hangs and
			// that the pool recovers below.
			t.Logf("round %d: an orphaned backend answered the Ping", round)
		case err == nil:
			// The supervisor restarted postgres before the Ping (a busy
			// machine stretches the gap between the checks): fine.
			t.Logf("round %d: postgres was already back when pinged", round)
		default:
			t.Logf("round %d: Ping with postgres down: %v", round, err)
		}

		testutil.WaitFor(t, 30*time.Second, func() error {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := db.Ping(pctx, gdb); err != nil {
				return err
			}
			if !c.Alive() {
				return errors.New("postgres answers but the cluster does not report alive yet")
			}
			return nil
		})
		if c.PostmasterPid() == old {
			t.Fatalf("round %d: postmaster pid still %d: not restarted", round, old)
		}
		// Every pooled connection was broken; queries must not see that.
		runConcurrently(t, 5, func() error {
			var n int
			return gdb.Raw("SELECT count(*) FROM marker").Scan(&n).Error
		})
		assertMarkers(t, c.DSN(), "before kill")
	}
	stopCluster(t, c)
	assertNoLeftovers(t, dir)
}

func runConcurrently(t *testing.T, n int, fn func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- fn() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestClusterClearsStaleState(t *testing.T) {
	binDir, err := db.FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	// Each case leaves the directory as a crashed kumod might and returns
	// the pids it expects the new cluster to have stopped.
	cases := []struct {
		name  string
		crash func(t *testing.T, dir string) []int
	}{
		{"abandoned cluster still running", func(t *testing.T, dir string) []int {
			c := startCluster(t, db.ClusterConfig{Dir: dir, Fast: true})
			writeMarker(t, c.DSN(), "kept")
			// Hold a session open, so there is a backend as well.
			conn, err := pgx.Connect(context.Background(), c.DSN())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close(context.Background()) })
			pid := c.PostmasterPid()
			c.Abandon()
			return []int{pid}
		}},
		{"postmaster started outside kumo", func(t *testing.T, dir string) []int {
			c := startCluster(t, db.ClusterConfig{Dir: dir, Fast: true})
			writeMarker(t, c.DSN(), "kept")
			stopCluster(t, c)
			cmd := exec.Command(filepath.Join(binDir, "pg_ctl"), "start", "-w",
				"-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "data", "outside.log"),
				"-o", "-k "+filepath.Join(dir, "run")+" -c listen_addresses=''")
			cmd.Dir = dir
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: postgresCred(t)}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("pg_ctl start: %v: %s", err, out)
			}
			pid := pidFile(t, dir)
			return []int{pid}
		}},
		{"pid file of a dead process", func(t *testing.T, dir string) []int {
			c := startCluster(t, db.ClusterConfig{Dir: dir, Fast: true})
			writeMarker(t, c.DSN(), "kept")
			stopCluster(t, c)
			dead := exec.Command("true")
			if err := dead.Run(); err != nil {
				t.Fatal(err)
			}
			writeLockFiles(t, dir, dead.Process.Pid)
			return nil
		}},
		{"pid file naming a live process that is not postgres", func(t *testing.T, dir string) []int {
			c := startCluster(t, db.ClusterConfig{Dir: dir, Fast: true})
			writeMarker(t, c.DSN(), "kept")
			stopCluster(t, c)
			other := exec.Command("sleep", "300")
			if err := other.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
			writeLockFiles(t, dir, other.Process.Pid)
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := clusterDir(t)
			stale := tc.crash(t, dir)

			c := startCluster(t, db.ClusterConfig{Dir: dir, Fast: true})
			for _, pid := range stale {
				if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
					t.Errorf("stale postmaster %d still running", pid)
				}
			}
			assertMarkers(t, c.DSN(), "kept")
			stopCluster(t, c)
			assertNoLeftovers(t, dir)
		})
	}
}

func TestClusterUntraversableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs postgres as another user")
	}
	parent, err := os.MkdirTemp("", "kumo-dbtest-") // 0700: postgres cannot enter
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	_, err = db.StartCluster(context.Background(), db.ClusterConfig{Dir: filepath.Join(parent, "postgres")})
	if err == nil {
		t.Fatal("StartCluster succeeded in a directory postgres cannot reach")
	}
	if !containsAll(err.Error(), parent, "cannot enter") {
		t.Errorf("error %q does not name %s", err, parent)
	}
}

func postgresCred(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func pidFile(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(b), "%d", &pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// writeLockFiles leaves the files a killed postmaster with this pid leaves.
func writeLockFiles(t *testing.T, dir string, pid int) {
	t.Helper()
	data := filepath.Join(dir, "data")
	run := filepath.Join(dir, "run")
	pidFile := fmt.Sprintf("%d\n%s\n%d\n5432\n%s\n\n  5432001         0\nready   \n", pid, data, time.Now().Unix(), run)
	if err := os.WriteFile(filepath.Join(data, "postmaster.pid"), []byte(pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	lock := fmt.Sprintf("%d\n%s\n%d\n5432\n%s\n", pid, data, time.Now().Unix(), run)
	if err := os.WriteFile(filepath.Join(run, ".s.PGSQL.5432.lock"), []byte(lock), 0o600); err != nil {
		t.Fatal(err)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] == 'Z'
		}
	}
	return false
}
