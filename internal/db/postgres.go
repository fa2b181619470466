package db

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// superuser is the role initdb creates; the cluster trusts it over the
	// private unix socket, which only the owner can reach.
	superuser = "kumo"
	// database is the database created on first start for kumo's own tables.
	database = "kumo"
	// socketName is the socket postgres creates for the default port; the
	// port is never bound because listen_addresses is empty.
	socketName = ".s.PGSQL.5432"
	// startTimeout bounds how long a postmaster may take to accept
	// connections, including crash recovery.
	startTimeout = 30 * time.Second
	// stopTimeout is how long Stop waits for a fast shutdown when its
	// context carries no deadline.
	stopTimeout = 30 * time.Second
	// maxRestartDelay caps the supervisor's backoff.
	maxRestartDelay = 5 * time.Second
	// maxSocketPath is sun_path's size on Linux minus the terminating NUL.
	maxSocketPath = 107
)

// ClusterConfig says where a private PostgreSQL cluster lives and how it runs.
type ClusterConfig struct {
	// Dir holds the cluster: data/ (PGDATA), run/ (the unix socket) and
	// postgres.log, e.g. <state dir>/postgres.
	Dir string
	// Log receives lifecycle events; nil discards them.
	Log *slog.Logger
	// Fast turns off fsync, synchronous_commit and full_page_writes. It is
	// for tests only: a host crash can corrupt or lose the data.
	Fast bool

	// restartDelay is the supervisor's first backoff; tests raise it to
	// observe the outage deterministically.
	restartDelay time.Duration
}

// Cluster is a PostgreSQL cluster run as a supervised child process of kumod,
// reachable only through a unix socket in its own directory.
type Cluster struct {
	dir, dataDir, runDir, logPath string
	binDir                        string
	cred                          *syscall.Credential // nil when not root: postgres runs as us
	fast                          bool
	log                           *slog.Logger
	restartDelay                  time.Duration

	ctx    context.Context // cancelled by Stop; bounds restarts
	cancel context.CancelFunc

	mu   sync.Mutex
	proc *postmaster // the current incarnation

	alive     atomic.Bool
	abandoned atomic.Bool // test hook: stop supervising, leave postgres running
	stopping  chan struct{}
	kill      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	killOnce  sync.Once
}

// postmaster is one run of the postgres server process.
type postmaster struct {
	cmd     *exec.Cmd
	pid     int
	logFrom int64 // offset of postgres.log when it started, for error excerpts
	exited  chan struct{}
	err     error // cmd.Wait's result, valid once exited is closed
}

// StartCluster starts the private cluster in cfg.Dir, creating it on first
// use, and supervises it until Stop: if the postmaster dies it is restarted
// with backoff. A postgres left running on the same data directory by an
// earlier kumod is stopped first. StartCluster returns once the cluster accepts
// connections and database "kumo" exists.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("postgres: no cluster directory given")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c := &Cluster{
		dir:          dir,
		dataDir:      filepath.Join(dir, "data"),
		runDir:       filepath.Join(dir, "run"),
		logPath:      filepath.Join(dir, "postgres.log"),
		fast:         cfg.Fast,
		log:          cfg.Log,
		restartDelay: cfg.restartDelay,
		stopping:     make(chan struct{}),
		kill:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "postgres", "dir", dir)
	if c.restartDelay <= 0 {
		c.restartDelay = 200 * time.Millisecond
	}
	if n := len(filepath.Join(c.runDir, socketName)); n > maxSocketPath {
		return nil, fmt.Errorf("postgres: socket path %s is %d bytes, longer than the %d a unix socket allows; use a shorter state directory",
			filepath.Join(c.runDir, socketName), n, maxSocketPath)
	}
	if c.binDir, err = findBinDir(); err != nil {
		return nil, err
	}
	if err := c.prepareDirs(); err != nil {
		return nil, err
	}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	if err := c.clearStale(ctx); err != nil {
		return nil, err
	}

	c.ctx, c.cancel = context.WithCancel(context.Background())
	pm, err := c.launch(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	if err := c.ensureDatabase(ctx); err != nil {
		c.shutdown(pm, 5*time.Second)
		c.cancel()
		return nil, err
	}
	go c.supervise(pm)
	c.log.Info("postgres ready", "pid", pm.pid, "socket_dir", c.runDir)
	return c, nil
}

// DSN returns the keyword/value connection string of database "kumo".
func (c *Cluster) DSN() string { return c.DSNFor(database) }

// DSNFor returns the keyword/value connection string of the named database
// in this cluster.
func (c *Cluster) DSNFor(dbname string) string {
	return fmt.Sprintf("host=%s user=%s dbname=%s sslmode=disable",
		quoteDSNValue(c.runDir), superuser, quoteDSNValue(dbname))
}

// Alive reports whether the postmaster is running and was last seen
// accepting connections.
func (c *Cluster) Alive() bool { return c.alive.Load() }

// Stop shuts the cluster down (fast shutdown: sessions are disconnected,
// transactions rolled back) and waits for it. When ctx expires first (30 s if
// it has no deadline) every process of the cluster is killed. Stop is safe to
// call twice and leaves no socket or lock file behind.
func (c *Cluster) Stop(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, stopTimeout)
		defer cancel()
	}
	c.stopOnce.Do(func() {
		close(c.stopping)
		c.cancel()
	})
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
	}
	c.log.Warn("postgres did not shut down in time; killing it")
	c.killOnce.Do(func() { close(c.kill) })
	<-c.done // killing is immediate; the wait is bounded by the kernel
	return nil
}

// supervise owns the postmaster until Stop: it restarts it whenever it dies.
func (c *Cluster) supervise(pm *postmaster) {
	defer close(c.done)
	for {
		select {
		case <-c.stopping:
			if !c.abandoned.Load() {
				c.shutdown(pm, 0)
			}
			return
		case <-pm.exited:
		}
		c.alive.Store(false)
		select {
		case <-c.stopping: // Stop raced with the exit: nothing to restart.
			if !c.abandoned.Load() {
				c.cleanupAfter(pm)
			}
			return
		default:
		}
		c.log.Error("postgres exited unexpectedly; restarting it", "pid", pm.pid, "err", pm.err,
			"log_tail", c.logTail(pm.logFrom))
		if pm = c.restart(pm); pm == nil {
			return
		}
		c.log.Info("postgres restarted", "pid", pm.pid)
	}
}

// restart brings a new postmaster up after old died, retrying with backoff
// until it succeeds or Stop is called (then it returns nil). Postgres refuses
// to start while backends of the dead postmaster still hold its shared memory,
// so those are killed first and failures are retried.
func (c *Cluster) restart(old *postmaster) *postmaster {
	delay := c.restartDelay
	for attempt := 1; ; attempt++ {
		select {
		case <-c.stopping:
			return nil
		case <-time.After(delay):
		}
		// Its backends run in their own sessions; clearStale kills those.
		killGroup(old.pid)
		err := c.clearStale(c.ctx)
		var pm *postmaster
		if err == nil {
			pm, err = c.launch(c.ctx)
		}
		if err == nil {
			return pm
		}
		if c.ctx.Err() != nil {
			return nil
		}
		c.log.Warn("postgres restart failed; retrying", "attempt", attempt, "err", err, "retry_in", min(2*delay, maxRestartDelay))
		delay = min(2*delay, maxRestartDelay)
	}
}

// launch starts a postmaster and waits until it accepts connections. On
// failure nothing of it is left running.
func (c *Cluster) launch(ctx context.Context) (*postmaster, error) {
	if err := c.ensureOwnedDir(c.runDir, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer logf.Close()
	var from int64
	if fi, err := logf.Stat(); err == nil {
		from = fi.Size()
	}

	args := []string{
		"-D", c.dataDir,
		"-k", c.runDir,
		"-c", "listen_addresses=",
		"-c", "unix_socket_permissions=0700",
		"-c", "cluster_name=kumo",
		"-c", "max_connections=200",
		"-c", "shared_buffers=128MB",
		"-c", "huge_pages=off",
		"-c", "TimeZone=UTC",
		"-c", "log_timezone=UTC",
		"-c", "log_checkpoints=off",
	}
	if c.fast {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "shared_buffers=32MB",
		)
	}
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Env = c.env()
	// A file, not a pipe: orphaned backends must not keep Wait from returning.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.cred,
		// Own process group: a terminal's ^C goes to kumod, which shuts
		// postgres down in order; and the whole cluster can be signalled.
		Setpgid: true,
		// Dies with kumod. Pdeathsig fires when the starting thread exits,
		// so the thread is locked around Start.
		Pdeathsig: syscall.SIGTERM,
	}
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("postgres: start %s: %w", cmd.Path, err)
	}
	pm := &postmaster{cmd: cmd, pid: cmd.Process.Pid, logFrom: from, exited: make(chan struct{})}
	go func() {
		pm.err = cmd.Wait()
		close(pm.exited)
	}()
	c.mu.Lock()
	c.proc = pm
	c.mu.Unlock()

	if err := c.waitReady(ctx, pm); err != nil {
		c.shutdown(pm, 5*time.Second)
		return nil, err
	}
	c.alive.Store(true)
	return pm, nil
}

// waitReady polls a connection until the postmaster accepts one.
func (c *Cluster) waitReady(ctx context.Context, pm *postmaster) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	dsn := c.DSNFor("postgres")
	var lastErr error
	for {
		select {
		case <-pm.exited:
			return fmt.Errorf("postgres exited during start-up (%v): %s", pm.err, c.logTail(pm.logFrom))
		default:
		}
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, dsn)
		ccancel()
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections on %s within %s (%v): %s",
				c.runDir, startTimeout, oneLine(lastErr.Error()), c.logTail(pm.logFrom))
		case <-pm.exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// shutdown stops pm with a fast shutdown, or kills its process group when
// Stop's deadline passes (or after grace, if grace > 0), then removes what a
// killed postmaster leaves behind.
func (c *Cluster) shutdown(pm *postmaster, grace time.Duration) {
	c.alive.Store(false)
	_ = pm.cmd.Process.Signal(syscall.SIGINT)
	var timeout <-chan time.Time
	if grace > 0 {
		timeout = time.After(grace)
	}
	select {
	case <-pm.exited:
	case <-c.kill:
	case <-timeout:
	}
	killGroup(pm.pid)
	<-pm.exited
	c.cleanupAfter(pm)
}

// cleanupAfter kills whatever pm left behind (backends orphaned by a killed
// postmaster) and removes stale lock and socket files.
func (c *Cluster) cleanupAfter(pm *postmaster) {
	killGroup(pm.pid)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.clearStale(ctx); err != nil {
		c.log.Warn("postgres left processes or files behind", "err", err)
	}
}

// clearStale makes the data directory free for a new postmaster: it stops a
// postgres still running on it (left by a crashed kumod, or the backends of a
// killed postmaster) and removes lock and socket files nobody holds any more.
func (c *Cluster) clearStale(ctx context.Context) error {
	procs := clusterProcs(c.dataDir)
	if len(procs) > 0 {
		pid, _ := readPidFile(c.dataDir)
		if slices.Contains(procs, pid) {
			c.log.Warn("stopping a postgres left running on this data directory", "pid", pid)
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			out, err := c.command(cctx, "pg_ctl", "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "15").CombinedOutput()
			cancel()
			if err != nil {
				c.log.Warn("pg_ctl stop failed; killing the processes instead", "err", err, "output", oneLine(string(out)))
			}
		}
		if procs = clusterProcs(c.dataDir); len(procs) > 0 {
			c.log.Warn("killing leftover postgres processes", "pids", procs)
			for _, p := range procs {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		if err := waitGone(ctx, c.dataDir, procs); err != nil {
			return err
		}
	}
	reapOrphans()
	// No process uses the data directory, so nothing holds these.
	for _, f := range []string{
		filepath.Join(c.dataDir, "postmaster.pid"),
		filepath.Join(c.runDir, socketName),
		filepath.Join(c.runDir, socketName+".lock"),
	} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("postgres: remove stale %w", err)
		}
	}
	return nil
}

// waitGone waits until no process uses dataDir, then reaps the given pids.
func waitGone(ctx context.Context, dataDir string, pids []int) error {
	defer reap(pids, time.Second)
	for {
		left := clusterProcs(dataDir)
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres: processes %v still use %s", left, dataDir)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// killGroup kills what is left in a postmaster's process group. Backends
// are not in it (each calls setsid); clearStale finds those by their working
// directory.
func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// reap collects the exit status of those pids that are our children and
// have exited or exit within timeout; others are skipped (ECHILD).
func reap(pids []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, p := range pids {
		for {
			var ws syscall.WaitStatus
			got, err := syscall.Wait4(p, &ws, syscall.WNOHANG, nil)
			if got == p || err != nil || time.Now().After(deadline) {
				break // reaped, not our child (ECHILD), or out of time
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// reapOrphans reaps exited postgres backends that were re-parented to this
// process. When a postmaster dies, its backends go to the nearest child
// subreaper, or init; a kumod (or test binary) that is a subreaper must
// reap them or they remain zombies. Backends are told apart from the
// postmasters we start, which exec.Cmd reaps, by being session leaders:
// every postmaster child calls setsid, our postmasters do not.
func reapOrphans() {
	self := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...; comm may hold spaces.
		open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || closing < open {
			continue
		}
		comm := string(b[open+1 : closing])
		f := strings.Fields(string(b[closing+1:]))
		if len(f) < 4 || comm != "postgres" || f[0] != "Z" ||
			f[1] != strconv.Itoa(self) || f[3] != e.Name() {
			continue
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
}

// ensureDatabase creates database "kumo" if it does not exist yet.
func (c *Cluster) ensureDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSNFor("postgres"))
	if err != nil {
		return fmt.Errorf("postgres: connect: %s", oneLine(err.Error()))
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: create database %s: %w", database, err)
	}
	c.log.Info("created database", "database", database)
	return nil
}

// prepareDirs creates the cluster directory and, when kumod runs as root,
// resolves the postgres user and checks it can reach the directory.
func (c *Cluster) prepareDirs() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	// Postgres refuses to run as root.
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("postgres: kumod runs as root and postgres refuses to, but there is no postgres user to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	gids := []int{gid}
	groups := []uint32{uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && !slices.Contains(gids, g) {
				gids = append(gids, g)
				groups = append(groups, uint32(g))
			}
		}
	}
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}
	return checkTraversable(c.dir, uid, gids)
}

// checkTraversable returns an error naming the first directory on the way
// to dir that the user cannot enter.
func checkTraversable(dir string, uid int, gids []int) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		perm := fi.Mode().Perm()
		var can bool
		switch {
		case int(st.Uid) == uid:
			can = perm&0o100 != 0
		case slices.Contains(gids, int(st.Gid)):
			can = perm&0o010 != 0
		default:
			can = perm&0o001 != 0
		}
		if !can {
			return fmt.Errorf("postgres: the postgres user (uid %d) cannot enter %s (mode %v, owner %d:%d), so it cannot reach %s; allow it (chmod o+x %s) or choose a state directory it can reach",
				uid, p, perm, st.Uid, st.Gid, dir, p)
		}
		if p == "/" || p == "." {
			return nil
		}
	}
}

// ensureOwnedDir creates dir with mode perm, owned by the user postgres
// runs as.
func (c *Cluster) ensureOwnedDir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	if err := os.Chmod(dir, perm); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// initdb creates the data directory on first use. It initialises a scratch
// directory and renames it into place, so a crash half-way never leaves a
// data directory that looks usable.
func (c *Cluster) initdb(ctx context.Context) error {
	version, err := c.serverVersion(ctx)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		if have := strings.TrimSpace(string(b)); have != version {
			return fmt.Errorf("postgres: data directory %s was created by PostgreSQL %s but the server in %s is %s; upgrade it with pg_upgrade or install PostgreSQL %s",
				c.dataDir, have, c.binDir, version, have)
		}
		return c.checkOwner(c.dataDir)
	}
	if entries, err := os.ReadDir(c.dataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("postgres: %s exists but is not a PostgreSQL data directory (no PG_VERSION); move it away", c.dataDir)
	}
	start := time.Now()
	tmp := c.dataDir + ".init"
	var out []byte
	for _, locale := range []string{"C.UTF-8", "C"} {
		if err := os.RemoveAll(tmp); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if err := c.ensureOwnedDir(tmp, 0o700); err != nil {
			return err
		}
		args := []string{"-D", tmp, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=" + locale, "--no-instructions"}
		if c.fast {
			args = append(args, "--no-sync")
		}
		out, err = c.command(ctx, "initdb", args...).CombinedOutput()
		if err == nil {
			break
		}
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("postgres: initdb %s: %v: %s", c.dataDir, err, lastLines(string(out), 5))
	}
	_ = os.RemoveAll(c.dataDir) // empty, if it exists at all
	if err := os.Rename(tmp, c.dataDir); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	c.log.Info("initialised cluster", "version", version, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkOwner reports a data directory postgres would refuse because of its
// owner, naming the path.
func (c *Cluster) checkOwner(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	want := uint32(os.Geteuid())
	if c.cred != nil {
		want = c.cred.Uid
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != want {
		return fmt.Errorf("postgres: data directory %s is owned by uid %d but postgres runs as uid %d; chown -R it", dir, st.Uid, want)
	}
	return nil
}

// serverVersion returns the major version of the postgres binary.
func (c *Cluster) serverVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(c.binDir, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("postgres: %s --version: %w", filepath.Join(c.binDir, "postgres"), err)
	}
	// "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return "", fmt.Errorf("postgres: unexpected version %q", out)
	}
	major, _, _ := strings.Cut(f[2], ".")
	return major, nil
}

// command builds a command for one of the server tools, run as the postgres
// user when kumod is root.
func (c *Cluster) command(ctx context.Context, tool string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, tool), args...)
	cmd.Dir = c.dir
	cmd.Env = c.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

func (c *Cluster) env() []string {
	return []string{"PATH=" + c.binDir + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
}

// logTail returns the last lines postgres logged since offset, on one line.
func (c *Cluster) logTail(offset int64) string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > 4096 {
		offset = fi.Size() - 4096
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return lastLines(string(b), 5)
}

// findBinDir finds the PostgreSQL server binaries: on PATH, else the newest
// /usr/lib/postgresql/<version>/bin.
func findBinDir() (string, error) {
	has := func(dir string) bool {
		for _, tool := range []string{"postgres", "initdb", "pg_ctl"} {
			if fi, err := os.Stat(filepath.Join(dir, tool)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if dir, err := filepath.Abs(filepath.Dir(p)); err == nil && has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New("postgres: server binaries (postgres, initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; install the Debian package postgresql (deploy/host-setup.sh does)")
}

// readPidFile returns the postmaster pid recorded in dataDir.
func readPidFile(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// clusterProcs returns the live processes whose working directory is
// dataDir: postgres chdirs into its data directory, so these are exactly the
// postmaster and backends of that cluster, whatever their pid file says.
// Zombies have no working directory and are not listed.
func clusterProcs(dataDir string) []int {
	want, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// quoteDSNValue quotes a keyword/value connection string value if needed.
func quoteDSNValue(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\\\t\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// lastLines returns the last n non-empty lines of s joined on one line.
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range bytes.Split([]byte(s), []byte("\n")) {
		if t := strings.TrimSpace(string(l)); t != "" {
			lines = append(lines, t)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
