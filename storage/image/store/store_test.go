package store_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/internal/testutil"
	"github.com/kumo-cloud/kumo/storage/image/store"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

func ids(imgs []store.Image) []string {
	out := []string{}
	for _, i := range imgs {
		out = append(out, i.ID)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestVisibility checks Glance's listing rules for owners, members in each
// status, strangers and admins.
func TestVisibility(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	mk := func(owner, vis string, hidden bool) string {
		img := store.Image{ID: uuid.NewString(), Owner: owner, Status: store.StatusQueued, Visibility: vis, OSHidden: hidden}
		if err := s.CreateImage(ctx, &img); err != nil {
			t.Fatal(err)
		}
		return img.ID
	}
	pub, priv, shared, comm := mk("a", "public", false), mk("a", "private", false), mk("a", "shared", false), mk("a", "community", false)
	pending := mk("a", "shared", false)
	hidden := mk("a", "public", true)
	if err := s.AddMember(ctx, &store.Member{ImageID: shared, Member: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetMemberStatus(ctx, shared, "b", store.MemberAccepted); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, &store.Member{ImageID: pending, Member: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, &store.Member{ImageID: pending, Member: "b"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second membership: %v, want ErrConflict", err)
	}
	yes := true
	for _, tc := range []struct {
		name string
		f    store.ListFilter
		want []string
	}{
		{"owner default", store.ListFilter{Project: "a"}, sorted(pub, priv, shared, comm, pending)},
		{"accepted member default", store.ListFilter{Project: "b"}, sorted(pub, shared)},
		{"member pending", store.ListFilter{Project: "b", MemberStatus: "pending"}, sorted(pub, pending)},
		{"member all", store.ListFilter{Project: "b", MemberStatus: "all"}, sorted(pub, shared, pending)},
		{"stranger default", store.ListFilter{Project: "c"}, sorted(pub)},
		{"stranger community", store.ListFilter{Project: "c", Visibility: "community"}, sorted(comm)},
		{"stranger private", store.ListFilter{Project: "c", Visibility: "private"}, []string{}},
		{"stranger shared", store.ListFilter{Project: "c", Visibility: "shared"}, []string{}},
		{"member shared", store.ListFilter{Project: "b", Visibility: "shared"}, sorted(shared)},
		{"stranger all", store.ListFilter{Project: "c", Visibility: "all"}, sorted(pub, comm)},
		{"hidden", store.ListFilter{Project: "c", Hidden: &yes}, sorted(hidden)},
		{"admin", store.ListFilter{Admin: true, Project: "z"}, sorted(pub, priv, shared, comm, pending)},
		{"admin private", store.ListFilter{Admin: true, Visibility: "private"}, sorted(priv)},
	} {
		got, err := s.ListImages(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, ids(got), tc.want)
		}
	}
	// Deleting an image deletes its memberships.
	if err := s.DeleteImage(ctx, shared); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMember(ctx, shared, "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("membership of a deleted image: %v", err)
	}
}

// TestPropertiesAndTags round-trips custom properties and tags and filters
// on them.
func TestPropertiesAndTags(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	name := "n"
	img := store.Image{ID: uuid.NewString(), Name: &name, Owner: "a", Status: store.StatusQueued, Visibility: "private",
		Properties: store.Props{"hw_disk_bus": "scsi", "os.distro": "debian"}, Tags: store.TextArray{"x", "y"}}
	if err := s.CreateImage(ctx, &img); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetImage(ctx, img.ID)
	if err != nil || got.Properties["os.distro"] != "debian" || !slices.Equal(got.Tags, []string{"x", "y"}) || *got.Name != "n" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	got.Tags = append(got.Tags, "z")
	delete(got.Properties, "hw_disk_bus")
	if err := s.SaveImage(ctx, &got); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    store.ListFilter
		want int
	}{
		{store.ListFilter{Project: "a", Tags: []string{"x", "z"}}, 1},
		{store.ListFilter{Project: "a", Tags: []string{"q"}}, 0},
		{store.ListFilter{Project: "a", Properties: map[string]string{"os.distro": "debian"}}, 1},
		{store.ListFilter{Project: "a", Properties: map[string]string{"hw_disk_bus": "scsi"}}, 0},
	} {
		list, err := s.ListImages(ctx, tc.f)
		if err != nil || len(list) != tc.want {
			t.Errorf("%+v: %d images (%v), want %d", tc.f, len(list), err, tc.want)
		}
	}
	if _, err := s.GetImage(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing image: %v", err)
	}
}

func TestResetStatus(t *testing.T) {
	ctx := t.Context()
	s := store.New(testutil.DB(t))
	saving := store.Image{ID: uuid.NewString(), Owner: "a", Status: store.StatusSaving, Visibility: "private"}
	active := store.Image{ID: uuid.NewString(), Owner: "a", Status: store.StatusActive, Visibility: "private"}
	for _, img := range []*store.Image{&saving, &active} {
		if err := s.CreateImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := s.ResetStatus(ctx, store.StatusSaving, store.StatusQueued)
	if err != nil || !slices.Equal(ids, []string{saving.ID}) {
		t.Fatalf("reset: %v %v", ids, err)
	}
	if got, _ := s.GetImage(ctx, saving.ID); got.Status != store.StatusQueued {
		t.Fatalf("status after reset: %s", got.Status)
	}
	if got, _ := s.GetImage(ctx, active.ID); got.Status != store.StatusActive {
		t.Fatalf("active image touched: %s", got.Status)
	}
}
