package db_test

import (
	"errors"
	"testing"

	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// TestWrapTranslatesPostgresErrors checks the sentinels against real
// constraint violations.
func TestWrapTranslatesPostgresErrors(t *testing.T) {
	g := testutil.DB(t)
	for _, stmt := range []string{
		`CREATE TABLE parents (id int PRIMARY KEY)`,
		`CREATE TABLE kids (id int PRIMARY KEY, parent int REFERENCES parents(id), n int CHECK (n >= 0))`,
		`INSERT INTO parents VALUES (1)`,
		`INSERT INTO kids VALUES (1, 1, 0)`,
	} {
		if err := g.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"missing row", func() error { var n int; return g.Raw(`SELECT id FROM kids WHERE id = 9`).Row().Scan(&n) }, nil},
		{"record not found", func() error { var k struct{ ID int }; return g.Table("kids").Where("id = 9").First(&k).Error }, db.ErrNotFound},
		{"duplicate", func() error { return g.Exec(`INSERT INTO kids VALUES (1, 1, 0)`).Error }, db.ErrConflict},
		{"dangling reference", func() error { return g.Exec(`INSERT INTO kids VALUES (2, 7, 0)`).Error }, db.ErrConflict},
		{"still referenced", func() error { return g.Exec(`DELETE FROM parents WHERE id = 1`).Error }, db.ErrConflict},
		{"check violation", func() error { return g.Exec(`INSERT INTO kids VALUES (3, 1, -1)`).Error }, db.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Wrap(tt.run(), "kid")
			if tt.want == nil {
				if err == nil || errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrConflict) || errors.Is(err, db.ErrInvalid) {
					t.Fatalf("a plain error must stay plain, got %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Wrap = %v, want %v", err, tt.want)
			}
		})
	}
	if err := db.Affected(g.Exec(`UPDATE kids SET n = 1 WHERE id = 9`), "kid 9"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("Affected on no rows = %v", err)
	}
	if err := db.Affected(g.Exec(`UPDATE kids SET n = 1 WHERE id = 1`), "kid 1"); err != nil {
		t.Fatalf("Affected on one row = %v", err)
	}
}
