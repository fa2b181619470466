package quota

import (
	"context"
	"testing"

	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestOverrides(t *testing.T) {
	ctx := context.Background()
	e := New(testutil.DB(t), Defaults{"svc.a": 5, "svc.b": 2})
	if d := e.Defaults(); d["svc.a"] != 5 || d["svc.b"] != 2 || len(d) != 2 {
		t.Fatalf("defaults = %v", d)
	}
	for _, o := range []Override{{"p1", "svc.a", 7}, {"p2", "svc.a", 1}, {"p2", "svc.b", 9}} {
		if err := e.SetLimit(ctx, o.ProjectID, o.Resource, o.Limit, false); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, project, resource string
		want                    int
	}{
		{"all", "", "", 3},
		{"one project", "p2", "", 2},
		{"one resource", "", "svc.a", 2},
		{"both", "p1", "svc.a", 1},
		{"none", "p3", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Overrides(ctx, tt.project, tt.resource)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %+v, want %d rows", got, tt.want)
			}
		})
	}
	if ok, err := e.DeleteLimit(ctx, "p2", "svc.a"); err != nil || !ok {
		t.Fatalf("delete = %v, %v", ok, err)
	}
	if ok, _ := e.DeleteLimit(ctx, "p2", "svc.a"); ok {
		t.Fatal("second delete found a row")
	}
	if l, _ := e.Limits(ctx, "p2"); l["svc.a"] != 5 || l["svc.b"] != 9 {
		t.Fatalf("limits after delete = %v", l)
	}
}
