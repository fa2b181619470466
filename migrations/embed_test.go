package migrations

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestServices(t *testing.T) {
	got := Services()
	if len(got) == 0 || got[0] != "core" {
		t.Fatalf("Services() = %v, want core first", got)
	}
	// Services must be a subsequence of the fixed order.
	i := 0
	for _, s := range got {
		j := slices.Index(order[i:], s)
		if j < 0 {
			t.Fatalf("Services() = %v is not in the order %v", got, order)
		}
		i += j + 1
	}
}

func TestFilesAreGooseMigrations(t *testing.T) {
	for _, svc := range Services() {
		t.Run(svc, func(t *testing.T) {
			names, err := fs.Glob(FS(), svc+"/*.sql")
			if err != nil {
				t.Fatal(err)
			}
			if len(names) == 0 {
				t.Fatalf("no .sql files under %s", svc)
			}
			for _, n := range names {
				b, err := fs.ReadFile(FS(), n)
				if err != nil {
					t.Fatal(err)
				}
				s := string(b)
				if !strings.Contains(s, "-- +goose Up") || !strings.Contains(s, "-- +goose Down") {
					t.Errorf("%s: missing -- +goose Up/Down annotations", n)
				}
			}
		})
	}
}
