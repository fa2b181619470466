// Package node owns this host's row in the core nodes table: which kumod runs
// here, with which roles, libvirt URI and virt type. It must not read or write
// any service's tables.
package node

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Node is one kumod host as recorded in the nodes table.
type Node struct {
	Name       string
	Roles      []string
	VirtType   string
	LibvirtURI string
	Version    string
	StartedAt  time.Time
	UpdatedAt  time.Time
}

// Register records that this node has started, replacing an older record.
func Register(ctx context.Context, gdb *gorm.DB, n Node) error {
	return gdb.WithContext(ctx).Exec(`
INSERT INTO nodes (name, roles, virt_type, libvirt_uri, version, started_at, updated_at)
VALUES (?, string_to_array(?, ','), ?, ?, ?, now(), now())
ON CONFLICT (name) DO UPDATE SET roles = EXCLUDED.roles, virt_type = EXCLUDED.virt_type,
    libvirt_uri = EXCLUDED.libvirt_uri, version = EXCLUDED.version,
    started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at`,
		n.Name, strings.Join(n.Roles, ","), n.VirtType, n.LibvirtURI, n.Version).Error
}

// Get reads a node's record.
func Get(ctx context.Context, gdb *gorm.DB, name string) (Node, error) {
	var row struct {
		Name, Roles, VirtType, LibvirtURI, Version string
		StartedAt, UpdatedAt                       time.Time
	}
	err := gdb.WithContext(ctx).Raw(`
SELECT name, array_to_string(roles, ',') AS roles, virt_type, coalesce(libvirt_uri, '') AS libvirt_uri,
       coalesce(version, '') AS version, started_at, updated_at
FROM nodes WHERE name = ?`, name).Scan(&row).Error
	if err == nil && row.Name == "" {
		err = gorm.ErrRecordNotFound
	}
	n := Node{Name: row.Name, VirtType: row.VirtType, LibvirtURI: row.LibvirtURI, Version: row.Version,
		StartedAt: row.StartedAt, UpdatedAt: row.UpdatedAt}
	if row.Roles != "" {
		n.Roles = strings.Split(row.Roles, ",")
	}
	return n, err
}
