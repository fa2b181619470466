package db

import "time"

// Test hooks, visible to package db_test.

// WithRestartDelay sets the supervisor's first restart delay, so a test can
// observe the outage before postgres comes back.
func WithRestartDelay(cfg ClusterConfig, d time.Duration) ClusterConfig {
	cfg.restartDelay = d
	return cfg
}

// Abandon stops supervising without stopping postgres, as if kumod had
// crashed and left its postmaster running.
func (c *Cluster) Abandon() {
	c.abandoned.Store(true)
	c.stopOnce.Do(func() {
		close(c.stopping)
		c.cancel()
	})
	<-c.done
}

// PostmasterPid returns the pid of the current postmaster.
func (c *Cluster) PostmasterPid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc.pid
}

// ClusterProcs lists the processes running on a data directory.
var ClusterProcs = clusterProcs

// FindBinDir finds the PostgreSQL server binaries.
var FindBinDir = findBinDir
