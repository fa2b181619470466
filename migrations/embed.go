// Package migrations holds the numbered SQL migrations of every service, one
// directory per service, embedded into kumod. It holds no Go logic beyond
// exposing the files; internal/db applies them with goose, one version table
// per service (goose_db_version_<service>).
//
// Adding a service's migrations:
//
//  1. Create migrations/<service>/00001_<what>.sql with goose annotations
//     ("-- +goose Up" then "-- +goose Down"). Numbers are per service and
//     never reused; never edit a file that has been released, add a new one.
//  2. Add the directory to the //go:embed line below (go:embed fails on a
//     pattern that matches nothing, which is why absent services are not
//     listed there).
//
// Services lists the directories in the fixed order they are applied in
// (core, identity, compute, network, image, volume); a service whose
// directory is not embedded is skipped.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed core identity compute image placement network volume
var files embed.FS

// order is the order services are migrated in. A service's tables never
// reference another service's, so the order only matters for readability of
// logs and for core, which holds what every service may read.
var order = []string{"core", "identity", "compute", "placement", "network", "image", "volume"}

// FS returns the embedded migrations, one top-level directory per service.
func FS() fs.FS { return files }

// Services returns the services that have migrations, in the order they are
// applied.
func Services() []string {
	var out []string
	for _, s := range order {
		if fi, err := fs.Stat(files, s); err == nil && fi.IsDir() {
			out = append(out, s)
		}
	}
	return out
}
