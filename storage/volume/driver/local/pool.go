package local

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"
)

// DefaultURI is the libvirt connection the driver uses unless told
// otherwise (kumo's default, as internal/config's).
const DefaultURI = "qemu:///system"

// poolPrefix starts the name of every pool DefaultPoolName gives.
const poolPrefix = "kumo-volumes-"

// DefaultPoolName is the pool name for a directory: stable for the
// directory and distinct between directories, because libvirt refuses two
// dir pools on one target path.
func DefaultPoolName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return poolPrefix + hex.EncodeToString(sum[:])[:12]
}

// conn is a libvirt connection that reconnects when libvirtd went away.
type conn struct {
	uri  string
	mu   sync.Mutex
	conn *libvirt.Connect
}

func (c *conn) get() (*libvirt.Connect, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		if alive, err := c.conn.IsAlive(); err == nil && alive {
			return c.conn, nil
		}
		c.conn.Close()
		c.conn = nil
	}
	lc, err := libvirt.NewConnect(c.uri)
	if err != nil {
		return nil, fmt.Errorf("libvirt %s: %s", c.uri, message(err))
	}
	c.conn = lc
	return lc, nil
}

func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// message keeps libvirt's message and drops its code soup.
func message(err error) string {
	var le libvirt.Error
	if errors.As(err, &le) && le.Message != "" {
		return le.Message
	}
	return err.Error()
}

func isLibvirtCode(err error, code libvirt.ErrorNumber) bool {
	var le libvirt.Error
	return errors.As(err, &le) && le.Code == code
}

// pool returns the driver's storage pool, defining and starting it when
// needed: the pool is persistent and autostarted, and finding it defined,
// running or both is not an error, so every start (and every call after
// libvirtd lost it) converges on the same state.
func (d *Local) pool() (*libvirt.StoragePool, error) {
	lc, err := d.conn.get()
	if err != nil {
		return nil, err
	}
	p, err := lc.LookupStoragePoolByName(d.cfg.PoolName)
	if isLibvirtCode(err, libvirt.ERR_NO_STORAGE_POOL) {
		x, xerr := (&libvirtxml.StoragePool{
			Type:   "dir",
			Name:   d.cfg.PoolName,
			Target: &libvirtxml.StoragePoolTarget{Path: d.poolDir()},
		}).Marshal()
		if xerr != nil {
			return nil, xerr
		}
		p, err = lc.StoragePoolDefineXML(x, 0)
		if err == nil {
			d.log.Info("defined storage pool", "pool", d.cfg.PoolName, "path", d.poolDir())
			_ = p.SetAutostart(true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("storage pool %s: %s", d.cfg.PoolName, message(err))
	}
	if err := d.checkPoolTarget(p); err != nil {
		p.Free()
		return nil, err
	}
	active, err := p.IsActive()
	if err == nil && !active {
		if err = p.Create(0); err == nil {
			d.log.Info("started storage pool", "pool", d.cfg.PoolName)
		} else if isLibvirtCode(err, libvirt.ERR_OPERATION_INVALID) {
			err = nil // started meanwhile
		}
	}
	if err != nil {
		p.Free()
		return nil, fmt.Errorf("storage pool %s: %s", d.cfg.PoolName, message(err))
	}
	return p, nil
}

// checkPoolTarget refuses a pool of the configured name that serves
// another directory: its volumes are not this driver's.
func (d *Local) checkPoolTarget(p *libvirt.StoragePool) error {
	x, err := p.GetXMLDesc(0)
	if err != nil {
		return fmt.Errorf("storage pool %s: %s", d.cfg.PoolName, message(err))
	}
	var def libvirtxml.StoragePool
	if err := def.Unmarshal(x); err != nil {
		return fmt.Errorf("storage pool %s: %w", d.cfg.PoolName, err)
	}
	if def.Type != "dir" || def.Target == nil || def.Target.Path != d.poolDir() {
		path := ""
		if def.Target != nil {
			path = def.Target.Path
		}
		return fmt.Errorf("storage pool %s is a %s pool on %q, not a dir pool on %q", d.cfg.PoolName, def.Type, path, d.poolDir())
	}
	return nil
}

// refresh makes libvirt rescan the pool directory (after files were
// renamed into it). libvirt refuses a refresh while it builds a volume, so
// it retries for a while.
func refresh(p *libvirt.StoragePool) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = p.Refresh(0); err == nil || !strings.Contains(message(err), "asynchronous jobs") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("refresh storage pool: %s", message(err))
	}
	return nil
}

// lookupVol finds a pool volume by file name, refreshing the pool once
// when libvirt does not know it yet. It returns nil, nil when there is no
// such volume.
func lookupVol(p *libvirt.StoragePool, name string) (*libvirt.StorageVol, error) {
	for attempt := 0; ; attempt++ {
		v, err := p.LookupStorageVolByName(name)
		if err == nil {
			return v, nil
		}
		if !isLibvirtCode(err, libvirt.ERR_NO_STORAGE_VOL) {
			return nil, fmt.Errorf("storage volume %s: %s", name, message(err))
		}
		if attempt > 0 {
			return nil, nil
		}
		if err := refresh(p); err != nil {
			return nil, err
		}
	}
}

// removeOrphanPools destroys and undefines the kumo volume pools (named
// by DefaultPoolName) whose directory is gone, such as those of removed
// test state directories: they can hold no volume and libvirt could not
// start them again. A pool whose directory exists is never touched.
func (d *Local) removeOrphanPools() {
	lc, err := d.conn.get()
	if err != nil {
		return
	}
	pools, err := lc.ListAllStoragePools(0)
	if err != nil {
		d.log.Warn("list storage pools", "error", message(err))
		return
	}
	for i := range pools {
		p := &pools[i]
		if err := d.removeIfOrphan(p); err != nil {
			d.log.Warn("remove orphan storage pool", "error", err)
		}
		p.Free()
	}
}

func (d *Local) removeIfOrphan(p *libvirt.StoragePool) error {
	name, err := p.GetName()
	if err != nil || !strings.HasPrefix(name, poolPrefix) || name == d.cfg.PoolName {
		return nil
	}
	x, err := p.GetXMLDesc(0)
	if err != nil {
		return nil // gone meanwhile
	}
	var def libvirtxml.StoragePool
	if err := def.Unmarshal(x); err != nil || def.Type != "dir" || def.Target == nil || def.Target.Path == "" {
		return nil
	}
	if _, err := os.Stat(def.Target.Path); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if active, _ := p.IsActive(); active {
		if err := p.Destroy(); err != nil {
			return fmt.Errorf("pool %s: %s", name, message(err))
		}
	}
	if persistent, _ := p.IsPersistent(); persistent {
		if err := p.Undefine(); err != nil && !isLibvirtCode(err, libvirt.ERR_NO_STORAGE_POOL) {
			return fmt.Errorf("pool %s: %s", name, message(err))
		}
	}
	d.log.Info("removed a storage pool whose directory is gone", "orphan_pool", name, "path", def.Target.Path)
	return nil
}
