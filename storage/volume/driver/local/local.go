package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/storage/volume/driver"
)

// Name is the backend name (volume_backend_name) of this driver.
const Name = "local"

// Config configures the local driver.
type Config struct {
	// Dir is the directory the driver owns (kumod passes <state dir>/volumes).
	Dir string
	// URI is the libvirt connection (DefaultURI when empty).
	URI string
	// PoolName is the libvirt pool's name (DefaultPoolName(Dir) when empty).
	PoolName string
	// FullCopy makes volumes from images full copies of the cached image
	// instead of copy-on-write overlays on it (the default): slower to
	// create, independent of the cache.
	FullCopy bool
	// CopyTimeout bounds one data copy by qemu-img (default 30 minutes).
	CopyTimeout time.Duration
}

// Local is the driver on qcow2 files in a libvirt dir pool.
type Local struct {
	cfg   Config
	log   *slog.Logger
	conn  *conn
	locks keyLocks
}

var _ driver.Driver = (*Local)(nil)

// New prepares the driver's directories, defines, starts and refreshes its
// pool, and clears what a crash left behind (half-built files, image
// bases no volume uses). It is idempotent: starting again on the same
// directory finds everything in place. A libvirtd that is not reachable
// yet is not an error (calls fail until it is); a pool of the configured
// name on another directory is.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Local, error) {
	if cfg.Dir == "" {
		return nil, errors.New("local volume driver: no directory")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = filepath.Clean(dir)
	if cfg.URI == "" {
		cfg.URI = DefaultURI
	}
	if cfg.PoolName == "" {
		cfg.PoolName = DefaultPoolName(cfg.Dir)
	}
	if cfg.CopyTimeout <= 0 {
		cfg.CopyTimeout = 30 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Local{
		cfg:  cfg,
		log:  log.With("component", "volume-driver", "driver", Name, "pool", cfg.PoolName),
		conn: &conn{uri: cfg.URI},
	}
	for _, sub := range []string{d.poolDir(), d.imageDir(), d.tmpDir()} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, err
		}
	}
	if err := d.clearTmp(); err != nil {
		return nil, err
	}
	if err := d.EvictUnusedImages(ctx); err != nil {
		d.log.Warn("image cache cleanup failed", "error", err)
	}
	if _, err := d.conn.get(); err != nil {
		// libvirtd may come up later: every call sets the pool up again.
		d.log.Warn("libvirt not reachable yet; the pool is set up on first use", "error", err)
		return d, nil
	}
	p, err := d.pool()
	if err != nil {
		d.conn.close()
		return nil, err
	}
	defer p.Free()
	d.removeOrphanPools()
	if err := refresh(p); err != nil {
		d.conn.close()
		return nil, err
	}
	return d, nil
}

// Check reports the pool's state and space, for a readiness probe.
func (d *Local) Check(ctx context.Context) (map[string]any, error) {
	detail := map[string]any{"driver": Name, "pool": d.cfg.PoolName, "path": d.poolDir()}
	c, err := d.Capacity(ctx)
	if err != nil {
		return detail, err
	}
	detail["total_gib"], detail["free_gib"] = c.TotalGiB, c.FreeGiB
	return detail, nil
}

// Close closes the libvirt connection; the pool stays defined and running.
// It is safe to call twice.
func (d *Local) Close() { d.conn.close() }

// Name implements driver.Driver.
func (d *Local) Name() string { return Name }

// PoolName is the libvirt pool the driver keeps its volumes in.
func (d *Local) PoolName() string { return d.cfg.PoolName }

func (d *Local) poolDir() string  { return filepath.Join(d.cfg.Dir, "pool") }
func (d *Local) imageDir() string { return filepath.Join(d.cfg.Dir, "images") }
func (d *Local) tmpDir() string   { return filepath.Join(d.cfg.Dir, "tmp") }

// File names of volumes and snapshots in the pool.
func volName(id string) string  { return "volume-" + id + ".qcow2" }
func snapName(id string) string { return "snapshot-" + id + ".qcow2" }

// VolumePath is the file of volume id.
func (d *Local) VolumePath(id string) string { return filepath.Join(d.poolDir(), volName(id)) }

// SnapshotPath is the file of snapshot id.
func (d *Local) SnapshotPath(id string) string { return filepath.Join(d.poolDir(), snapName(id)) }

// checkID accepts only canonical UUIDs: IDs become file names.
func checkID(kind, id string) error {
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return fmt.Errorf("%s id %q is not a UUID", kind, id)
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// tmpFile returns a fresh path in tmp/ for building a file.
func (d *Local) tmpFile(kind string) string {
	return filepath.Join(d.tmpDir(), kind+"-"+uuid.NewString())
}

// clearTmp removes every file a crash left in tmp/.
func (d *Local) clearTmp() error {
	entries, err := os.ReadDir(d.tmpDir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(d.tmpDir(), e.Name())); err != nil {
			return err
		}
		d.log.Info("removed a half-built file", "file", e.Name())
	}
	return nil
}

// publish renames a complete file from tmp/ into the pool and tells
// libvirt. The rename is the commit point: until then the file is not
// there, after it the file is whole.
func (d *Local) publish(tmp, dst string) error {
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	syncDir(filepath.Dir(dst))
	p, err := d.pool()
	if err != nil {
		// The file is in place; libvirt finds it on its next refresh.
		d.log.Warn("pool refresh after a new file failed", "file", filepath.Base(dst), "error", err)
		return nil
	}
	defer p.Free()
	if err := refresh(p); err != nil {
		d.log.Warn("pool refresh after a new file failed", "file", filepath.Base(dst), "error", err)
	}
	return nil
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Capacity implements driver.Driver from the pool's info (the file
// system the pool directory is on).
func (d *Local) Capacity(ctx context.Context) (driver.Capacity, error) {
	if err := ctx.Err(); err != nil {
		return driver.Capacity{}, err
	}
	p, err := d.pool()
	if err != nil {
		return driver.Capacity{}, err
	}
	defer p.Free()
	if err := refresh(p); err != nil {
		return driver.Capacity{}, err
	}
	in, err := p.GetInfo()
	if err != nil {
		return driver.Capacity{}, fmt.Errorf("storage pool %s: %s", d.cfg.PoolName, message(err))
	}
	return driver.Capacity{
		TotalGiB: float64(in.Capacity) / float64(driver.GiB),
		FreeGiB:  float64(in.Available) / float64(driver.GiB),
	}, nil
}

// Connect implements driver.Driver: the volume is a qcow2 file on this
// host, which the compute host (the same host for a local driver) opens
// as a file disk.
func (d *Local) Connect(ctx context.Context, id string, c rpc.Connector) (rpc.ConnectionInfo, error) {
	if err := checkID("volume", id); err != nil {
		return rpc.ConnectionInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return rpc.ConnectionInfo{}, err
	}
	path := d.VolumePath(id)
	ok, err := exists(path)
	if err != nil {
		return rpc.ConnectionInfo{}, err
	}
	if !ok {
		return rpc.ConnectionInfo{}, fmt.Errorf("volume %s: %w", id, driver.ErrNotFound)
	}
	d.log.Debug("volume connected", "volume_id", id, "host", c.Host)
	return rpc.ConnectionInfo{
		DriverVolumeType: rpc.ConnFile,
		Data: rpc.ConnectionData{
			VolumeID:   id,
			DevicePath: path,
			Format:     "qcow2",
			AccessMode: "rw",
		},
	}, nil
}

// Disconnect implements driver.Driver: a local file needs no undoing.
func (d *Local) Disconnect(ctx context.Context, id string, c rpc.Connector) error {
	if err := checkID("volume", id); err != nil {
		return err
	}
	return ctx.Err()
}
