package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/internal/testutil"
)

// TestListVolumes checks the filters (project, name, status, bootable,
// metadata containment) and the sort order with its tie-breakers, on real
// PostgreSQL.
func TestListVolumes(t *testing.T) {
	ctx := t.Context()
	st := New(testutil.DB(t))
	def, err := st.GetTypeByName(ctx, DefaultTypeName)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := uuid.NewString(), uuid.NewString()
	add := func(project, name string, size int, bootable bool, meta Meta) Volume {
		t.Helper()
		v := Volume{ID: uuid.NewString(), ProjectID: project, Name: &name, Size: size, Status: StatusAvailable,
			VolumeTypeID: def.ID, AvailabilityZone: "nova", Host: "h", Bootable: bootable, Metadata: meta}
		if err := st.CreateVolume(ctx, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := add(p1, "a", 3, true, Meta{"tier": "gold", "zone": "x"})
	b := add(p1, "b", 1, false, Meta{"tier": "gold"})
	c := add(p1, "c", 2, false, nil)
	add(p2, "a", 1, true, Meta{"tier": "gold"})

	names := func(vs []Volume) string {
		s := ""
		for _, v := range vs {
			s += *v.Name
		}
		return s
	}
	tr := true
	gold := "a"
	for _, tc := range []struct {
		name string
		f    VolumeFilter
		want string
	}{
		{"newest first by default", VolumeFilter{ProjectID: p1}, "cba"},
		{"by size ascending", VolumeFilter{ProjectID: p1, Sort: []Sort{{Key: "size"}}}, "bca"},
		{"by name descending", VolumeFilter{ProjectID: p1, Sort: []Sort{{Key: "name", Desc: true}}}, "cba"},
		{"metadata containment", VolumeFilter{ProjectID: p1, Metadata: map[string]string{"tier": "gold"}, Sort: []Sort{{Key: "name"}}}, "ab"},
		{"two metadata pairs", VolumeFilter{ProjectID: p1, Metadata: map[string]string{"tier": "gold", "zone": "x"}}, "a"},
		{"bootable", VolumeFilter{ProjectID: p1, Bootable: &tr}, "a"},
		{"name across projects", VolumeFilter{Name: &gold}, "aa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := st.ListVolumes(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if names(got) != tc.want {
				t.Fatalf("got %s, want %s", names(got), tc.want)
			}
		})
	}

	if ok, err := st.SetVolumeStatus(ctx, b.ID, StatusDeleting, StatusInUse); ok || err != nil {
		t.Fatalf("a status change from the wrong state: %v %v", ok, err)
	}
	if ok, err := st.SetVolumeStatus(ctx, b.ID, StatusDeleting, StatusAvailable); !ok || err != nil {
		t.Fatalf("status change: %v %v", ok, err)
	}
	hosts, err := st.VolumeHosts(ctx)
	if err != nil || fmt.Sprint(hosts) != "[h]" {
		t.Fatalf("hosts %v %v", hosts, err)
	}
	// A type still used by a volume cannot go.
	vt := VolumeType{ID: uuid.NewString(), Name: "t-" + c.ID}
	if err := st.CreateType(ctx, &vt); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateVolume(ctx, a.ID, map[string]any{"volume_type_id": vt.ID}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteType(ctx, vt.ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete a type in use: %v", err)
	}
	if err := st.CreateType(ctx, &VolumeType{ID: uuid.NewString(), Name: vt.Name}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second type of the same name: %v", err)
	}
}
