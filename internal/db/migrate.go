package db

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/migrations"
)

var serviceName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Migrate applies the pending migrations in fsys (numbered goose SQL files at
// its root) for one service, and returns how many it applied. Each service
// keeps its own version table, goose_db_version_<service>, and takes its own
// advisory lock, so several kumod processes may start against one database.
func Migrate(ctx context.Context, gdb *gorm.DB, service string, fsys fs.FS, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !serviceName.MatchString(service) {
		return 0, fmt.Errorf("migrate: invalid service name %q", service)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", service, err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID(service)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", service, err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithTableName("goose_db_version_"+service),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)), // we log what was applied ourselves
	)
	if errors.Is(err, goose.ErrNoMigrations) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", service, err)
	}
	// Not p.Close: it would close the caller's pool.
	results, err := p.Up(ctx)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = partial.Applied
	}
	for _, r := range results {
		log.Info("applied migration", "service", service, "version", r.Source.Version,
			"file", path.Base(r.Source.Path), "duration", r.Duration.Round(time.Microsecond))
	}
	if err != nil {
		return len(results), fmt.Errorf("migrate %s: %w", service, err)
	}
	return len(results), nil
}

// MigrateAll applies every service's migrations embedded in kumod, in the
// order of migrations.Services, and returns how many it applied in total.
func MigrateAll(ctx context.Context, gdb *gorm.DB, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	total := 0
	for _, svc := range migrations.Services() {
		sub, err := fs.Sub(migrations.FS(), svc)
		if err != nil {
			return total, fmt.Errorf("migrate %s: %w", svc, err)
		}
		n, err := Migrate(ctx, gdb, svc, sub, log)
		total += n
		if err != nil {
			return total, err
		}
	}
	log.Info("database migrated", "applied", total, "services", migrations.Services(),
		"duration", time.Since(start).Round(time.Millisecond))
	return total, nil
}

// lockID derives a per-service advisory lock key, so services migrate
// independently.
func lockID(service string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("kumo.migrate." + service))
	return int64(h.Sum64() >> 1)
}
