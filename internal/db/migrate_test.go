package db_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/migrations"
)

func TestMigrate(t *testing.T) {
	demo := fstest.MapFS{
		"00001_widgets.sql":      {Data: []byte("-- +goose Up\nCREATE TABLE widgets (id bigserial PRIMARY KEY, name text NOT NULL);\n-- +goose Down\nDROP TABLE widgets;\n")},
		"00002_widget_color.sql": {Data: []byte("-- +goose Up\nALTER TABLE widgets ADD COLUMN color text;\n-- +goose Down\nALTER TABLE widgets DROP COLUMN color;\n")},
	}
	broken := fstest.MapFS{
		"00001_ok.sql":     {Data: []byte("-- +goose Up\nCREATE TABLE ok (id int);\n-- +goose Down\nDROP TABLE ok;\n")},
		"00002_broken.sql": {Data: []byte("-- +goose Up\nCREATE TABLE broken (id nosuchtype);\n-- +goose Down\nDROP TABLE broken;\n")},
	}
	cases := []struct {
		name      string
		service   string
		fsys      fs.FS
		wantFirst int
		wantErr   string
	}{
		{"two migrations", "demo", demo, 2, ""},
		{"empty directory", "empty", fstest.MapFS{}, 0, ""},
		{"failing migration keeps what applied", "broken", broken, 1, "nosuchtype"},
		{"invalid service name", "Bad-Name", demo, 0, "invalid service name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gdb := testutil.DB(t)
			ctx := context.Background()
			n, err := db.Migrate(ctx, gdb, tc.service, tc.fsys, testLog(t))
			if n != tc.wantFirst {
				t.Errorf("first Migrate applied %d, want %d", n, tc.wantFirst)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("first Migrate error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n, err = db.Migrate(ctx, gdb, tc.service, tc.fsys, testLog(t))
			if err != nil || n != 0 {
				t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
			}
			if tc.wantFirst > 0 {
				var versions int
				if err := gdb.Raw("SELECT count(*) FROM goose_db_version_" + tc.service + " WHERE version_id > 0").Scan(&versions).Error; err != nil {
					t.Fatal(err)
				}
				if versions != tc.wantFirst {
					t.Errorf("version table records %d migrations, want %d", versions, tc.wantFirst)
				}
			}
		})
	}
}

func TestMigrateAll(t *testing.T) {
	ctx := context.Background()
	gdb, err := db.Open(ctx, testutil.Postgres(t), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := gdb.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })

	want := 0
	for _, svc := range migrations.Services() {
		files, _ := fs.Glob(migrations.FS(), svc+"/*.sql")
		want += len(files)
	}
	n, err := db.MigrateAll(ctx, gdb, testLog(t))
	if err != nil || n != want || n == 0 {
		t.Fatalf("MigrateAll = %d, %v; want %d, nil", n, err, want)
	}
	n, err = db.MigrateAll(ctx, gdb, testLog(t))
	if err != nil || n != 0 {
		t.Fatalf("second MigrateAll = %d, %v; want 0, nil", n, err)
	}
	// Each service has its own version table.
	for _, svc := range migrations.Services() {
		if !gdb.Migrator().HasTable("goose_db_version_" + svc) {
			t.Errorf("no version table for %s", svc)
		}
	}
	// core's nodes table is usable as documented.
	if err := gdb.Exec(`INSERT INTO nodes (name, roles, virt_type, libvirt_uri, version, started_at)
		VALUES ('host1', '{compute,network}', 'qemu', 'qemu:///system', 'dev', now())`).Error; err != nil {
		t.Fatal(err)
	}
	var roles string
	if err := gdb.Raw("SELECT array_to_string(roles, ',') FROM nodes WHERE name = 'host1'").Scan(&roles).Error; err != nil || roles != "compute,network" {
		t.Fatalf("roles = %q, %v", roles, err)
	}
}
