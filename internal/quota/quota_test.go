package quota_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/internal/quota"
)

func TestLimitsDefaultsAndOverrides(t *testing.T) {
	e, _ := newEngine(t)
	ctx := context.Background()
	e.Register(quota.Defaults{"image.images": 5})

	if err := e.SetLimit(ctx, "p1", "compute.cores", 64, false); err != nil {
		t.Fatal(err)
	}
	if err := e.SetLimit(ctx, "p1", "volume.gigabytes", quota.Unlimited, false); err != nil {
		t.Fatal(err)
	}

	want := maps.Clone(map[string]int64(defaults))
	want["image.images"] = 5
	wantP1 := maps.Clone(want)
	wantP1["compute.cores"] = 64
	wantP1["volume.gigabytes"] = quota.Unlimited

	tests := []struct {
		project string
		want    map[string]int64
	}{
		{"p1", wantP1},
		{"p2", want}, // another project keeps the defaults
	}
	for _, tt := range tests {
		t.Run(tt.project, func(t *testing.T) {
			got, err := e.Limits(ctx, tt.project)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Limits(%s) = %v, want %v", tt.project, got, tt.want)
			}
		})
	}

	t.Run("DeleteLimits", func(t *testing.T) {
		if err := e.DeleteLimits(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		got, err := e.Limits(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("Limits after DeleteLimits = %v, want defaults %v", got, want)
		}
	})
}

func TestSetLimit(t *testing.T) {
	e, db := newEngine(t)
	ctx := context.Background()
	mustConsume(t, e, db, "p", map[string]int64{"compute.cores": 8})
	if _, err := e.Reserve(ctx, "p", map[string]int64{"compute.cores": 4}, time.Hour); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		resource  string
		limit     int64
		force     bool
		wantErr   error
		wantLimit int64
	}{
		{"below in use refused", "compute.cores", 7, false, quota.ErrBelowUsage, 20},
		{"below in use plus reserved refused", "compute.cores", 11, false, quota.ErrBelowUsage, 20},
		{"equal to usage allowed", "compute.cores", 12, false, nil, 12},
		{"below usage with force", "compute.cores", 2, true, nil, 2},
		{"unlimited", "compute.cores", quota.Unlimited, false, nil, quota.Unlimited},
		{"zero with nothing used", "compute.instances", 0, false, nil, 0},
		{"below -1 invalid", "compute.cores", -2, true, quota.ErrInvalidLimit, quota.Unlimited},
		{"unknown resource", "compute.corez", 5, false, quota.ErrUnknownResource, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.SetLimit(ctx, "p", tt.resource, tt.limit, tt.force)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("SetLimit(%s, %d, force=%v) = %v, want %v", tt.resource, tt.limit, tt.force, err, tt.wantErr)
			}
			if tt.wantErr == quota.ErrUnknownResource {
				return
			}
			if got := usage(t, e, "p", tt.resource).Limit; got != tt.wantLimit {
				t.Errorf("limit = %d, want %d", got, tt.wantLimit)
			}
		})
	}
}
