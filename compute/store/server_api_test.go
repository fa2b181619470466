package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// TestServerAPIStore covers what the server API keeps beside instances:
// tags and metadata changes, the list filters and sort orders, action
// events, server groups and compute services.
func TestServerAPIStore(t *testing.T) {
	ctx := t.Context()
	gdb := testutil.DB(t)
	s := store.New(gdb)
	q := quota.New(gdb, quota.Defaults{store.QuotaInstances: 100, store.QuotaCores: 100, store.QuotaRAM: 100000})
	t0 := time.Now().UTC().Add(-time.Hour).Round(time.Microsecond)
	mk := func(i int, tags ...string) store.Instance {
		t.Helper()
		host := "h" + strconv.Itoa(i%2)
		in := store.Instance{UUID: uuid.NewString(), Name: fmt.Sprintf("srv-%d", i), ProjectID: "p", UserID: "u",
			FlavorID: strconv.Itoa(i % 3), ImageRef: "img-" + strconv.Itoa(i%2), VCPUs: 1, MemoryMB: 64,
			VMState: store.VMActive, Host: &host, Tags: tags, ReservationID: "r-" + strconv.Itoa(i/3),
			Metadata: store.Specs{}, FlavorExtraSpecs: store.Specs{}, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if err := s.Tx(ctx, func(tx *store.Store) error {
			if err := tx.ConsumeQuota(ctx, q, "p", store.InstanceQuota(in)); err != nil {
				return err
			}
			if err := tx.CreateInstance(ctx, &in); err != nil {
				return err
			}
			return tx.AddInstanceAction(ctx, &store.InstanceAction{InstanceUUID: in.UUID, Action: "create", RequestID: "req-" + in.UUID, UserID: "u", ProjectID: "p"})
		}); err != nil {
			t.Fatal(err)
		}
		return in
	}
	var ins []store.Instance
	for i := range 6 {
		tags := []string{"all"}
		if i%2 == 0 {
			tags = append(tags, "even")
		}
		ins = append(ins, mk(i, tags...))
	}
	list := func(f store.InstanceFilter) []string {
		t.Helper()
		f.Project = "p"
		got, err := s.ListInstances(ctx, f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		out := []string{}
		for _, in := range got {
			out = append(out, in.Name)
		}
		return out
	}

	t.Run("tags and metadata", func(t *testing.T) {
		got, err := s.UpdateTags(ctx, ins[1].UUID, func(cur []string) ([]string, error) { return append(cur, "odd"), nil })
		if err != nil || !slices.Equal(got, []string{"all", "odd"}) {
			t.Fatalf("add tag: %v %v", got, err)
		}
		refuse := errors.New("refused")
		if _, err := s.UpdateTags(ctx, ins[1].UUID, func([]string) ([]string, error) { return nil, refuse }); !errors.Is(err, refuse) {
			t.Errorf("refused change: %v", err)
		}
		md, err := s.UpdateMetadata(ctx, ins[1].UUID, func(cur store.Specs) (store.Specs, error) { cur["k"] = "v"; return cur, nil })
		if err != nil || md["k"] != "v" {
			t.Fatalf("metadata: %v %v", md, err)
		}
		in, _ := s.GetInstance(ctx, ins[1].UUID)
		if !slices.Equal(in.Tags, []string{"all", "odd"}) || in.Metadata["k"] != "v" {
			t.Errorf("stored: %v %v", in.Tags, in.Metadata)
		}
		if err := s.UpdateInstance(ctx, ins[1].UUID, map[string]any{"user_data": "ZWNobw=="}); err != nil {
			t.Fatal(err)
		}
		for _, without := range []bool{false, true} {
			got, err := s.ListInstances(ctx, store.InstanceFilter{Project: "p", WithoutUserData: without, NameRegex: "^srv-1$"})
			if err != nil || len(got) != 1 || (got[0].UserData == nil) != without {
				t.Errorf("WithoutUserData %v: %+v %v", without, got, err)
			}
		}
		if _, err := s.UpdateTags(ctx, uuid.NewString(), func(c []string) ([]string, error) { return c, nil }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown instance: %v", err)
		}
	})

	t.Run("filters and sorting", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			f    store.InstanceFilter
			want []string
		}{
			{"default newest first", store.InstanceFilter{}, []string{"srv-5", "srv-4", "srv-3", "srv-2", "srv-1", "srv-0"}},
			{"tags", store.InstanceFilter{Tags: []string{"all", "even"}}, []string{"srv-4", "srv-2", "srv-0"}},
			{"tags-any", store.InstanceFilter{TagsAny: []string{"odd", "none"}}, []string{"srv-1"}},
			{"not-tags", store.InstanceFilter{NotTags: []string{"all", "even"}}, []string{"srv-5", "srv-3", "srv-1"}},
			{"not-tags-any", store.InstanceFilter{NotTagsAny: []string{"even", "odd"}}, []string{"srv-5", "srv-3"}},
			{"image and flavor", store.InstanceFilter{ImageRef: "img-0", FlavorID: "1"}, []string{"srv-4"}},
			{"reservation", store.InstanceFilter{ReservationID: "r-1"}, []string{"srv-5", "srv-4", "srv-3"}},
			{"match none", store.InstanceFilter{MatchNone: true}, []string{}},
			{"host desc, name asc", store.InstanceFilter{Sort: []store.SortKey{{Key: "host", Desc: true}, {Key: "display_name"}}},
				[]string{"srv-1", "srv-3", "srv-5", "srv-0", "srv-2", "srv-4"}},
			{"after a marker in a mixed order", store.InstanceFilter{Sort: []store.SortKey{{Key: "host", Desc: true}, {Key: "display_name"}},
				Marker: ins[5].UUID, Limit: 2}, []string{"srv-0", "srv-2"}},
		} {
			if got := list(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		if _, err := s.ListInstances(ctx, store.InstanceFilter{Project: "p", Sort: []store.SortKey{{Key: "user_data"}}}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("unknown sort key: %v", err)
		}
		if _, err := s.ListInstances(ctx, store.InstanceFilter{Project: "p", Marker: uuid.NewString()}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("unknown marker: %v", err)
		}
		// changes-since lists deleted instances too; deleted lists only them.
		since := time.Now().UTC().Add(-time.Minute)
		if err := s.DeleteInstance(ctx, q, ins[0].UUID); err != nil {
			t.Fatal(err)
		}
		got := list(store.InstanceFilter{ChangesSince: &since})
		if !slices.Contains(got, "srv-0") || !slices.Contains(got, "srv-1") {
			t.Errorf("changes-since: %v", got)
		}
		if got := list(store.InstanceFilter{Deleted: true}); !slices.Equal(got, []string{"srv-0"}) {
			t.Errorf("deleted: %v", got)
		}
		before := since.Add(-2 * time.Hour)
		if got := list(store.InstanceFilter{ChangesBefore: &before}); len(got) != 0 {
			t.Errorf("changes-before: %v", got)
		}
	})

	t.Run("action events", func(t *testing.T) {
		id := ins[2].UUID
		if err := s.AddInstanceAction(ctx, &store.InstanceAction{InstanceUUID: id, Action: "stop", RequestID: "req-stop", UserID: "u", ProjectID: "p"}); err != nil {
			t.Fatal(err)
		}
		ev, err := s.StartActionEvent(ctx, id, "", "compute_stop_instance", "h0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishActionEvent(ctx, ev, errors.New("guest hung")); err != nil {
			t.Fatal(err)
		}
		build, err := s.StartActionEvent(ctx, id, "req-"+id, "compute__do_build_and_run_instance", "h0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishActionEvent(ctx, build, nil); err != nil {
			t.Fatal(err)
		}
		acts, err := s.ListInstanceActions(ctx, id, store.ActionFilter{})
		if err != nil || len(acts) != 2 || acts[0].Action != "stop" || acts[1].Action != "create" {
			t.Fatalf("actions newest first: %+v %v", acts, err)
		}
		if acts[0].Message == nil || *acts[0].Message != store.EventError || acts[1].Message != nil {
			t.Errorf("messages: %v %v", acts[0].Message, acts[1].Message)
		}
		a, evs, err := s.GetInstanceAction(ctx, id, "req-stop")
		if err != nil || a.Action != "stop" || len(evs) != 1 || *evs[0].Result != store.EventError || *evs[0].Traceback != "guest hung" || evs[0].FinishTime == nil {
			t.Errorf("stop action: %+v %+v %v", a, evs, err)
		}
		_, evs, _ = s.GetInstanceAction(ctx, id, "req-"+id)
		if len(evs) != 1 || *evs[0].Result != store.EventSuccess || evs[0].Traceback != nil {
			t.Errorf("build events: %+v", evs)
		}
		page, err := s.ListInstanceActions(ctx, id, store.ActionFilter{Marker: "req-stop", Limit: 5})
		if err != nil || len(page) != 1 || page[0].Action != "create" {
			t.Errorf("after marker: %+v %v", page, err)
		}
		if _, err := s.ListInstanceActions(ctx, id, store.ActionFilter{Marker: "req-nope"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("unknown marker: %v", err)
		}
		if _, err := s.StartActionEvent(ctx, uuid.NewString(), "", "x", "h0"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("event of an unknown instance: %v", err)
		}
	})

	t.Run("server groups", func(t *testing.T) {
		g := store.ServerGroup{UUID: uuid.NewString(), Name: "g", ProjectID: "p", UserID: "u", Policy: "anti-affinity",
			Rules: store.Specs{"max_server_per_host": "2"}}
		if err := s.CreateServerGroup(ctx, &g); err != nil {
			t.Fatal(err)
		}
		for i, in := range ins[1:4] {
			var n int
			err := s.Tx(ctx, func(tx *store.Store) (err error) { n, err = tx.AddServerGroupMember(ctx, g.UUID, in.UUID); return err })
			if err != nil || n != i+1 {
				t.Fatalf("add member %d: %d %v", i, n, err)
			}
		}
		got, hosts, ok, err := s.InstanceGroup(ctx, ins[1].UUID)
		slices.Sort(hosts)
		if err != nil || !ok || got.UUID != g.UUID || got.Rules["max_server_per_host"] != "2" || !slices.Equal(hosts, []string{"h0", "h1"}) {
			t.Errorf("group of srv-1: %+v %v %v %v", got, hosts, ok, err)
		}
		if _, _, ok, err := s.InstanceGroup(ctx, ins[5].UUID); ok || err != nil {
			t.Errorf("srv-5 has a group: %v %v", ok, err)
		}
		if err := s.DeleteInstance(ctx, q, ins[3].UUID); err != nil {
			t.Fatal(err)
		}
		gs, err := s.ListServerGroups(ctx, "p", 0, 0)
		if err != nil || len(gs) != 1 || !slices.Equal(gs[0].Members, []string{ins[1].UUID, ins[2].UUID}) {
			t.Errorf("groups after deleting srv-3: %+v %v", gs, err)
		}
		if gs, _ := s.ListServerGroups(ctx, "other", 0, 0); len(gs) != 0 {
			t.Errorf("another project's groups: %+v", gs)
		}
		// The group lock serialises: a second holder waits for the first.
		unlock, err := s.LockServerGroup(ctx, g.UUID)
		if err != nil {
			t.Fatal(err)
		}
		got2 := make(chan time.Time)
		go func() {
			u2, err := s.LockServerGroup(ctx, g.UUID)
			if err == nil {
				u2()
			}
			got2 <- time.Now()
		}()
		time.Sleep(200 * time.Millisecond)
		released := time.Now()
		unlock()
		if at := <-got2; at.Before(released) {
			t.Errorf("the second lock was granted while the first was held")
		}
		if err := s.DeleteServerGroup(ctx, g.UUID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetServerGroup(ctx, g.UUID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted group: %v", err)
		}
	})

	t.Run("services", func(t *testing.T) {
		pairs := [][2]string{{"h0", "nova-compute"}, {"h1", "nova-compute"}, {"ctl", "nova-scheduler"}}
		svcs, err := s.EnsureServices(ctx, pairs)
		if err != nil || len(svcs) != 3 {
			t.Fatalf("ensure: %+v %v", svcs, err)
		}
		again, err := s.EnsureServices(ctx, pairs)
		if err != nil || len(again) != 3 || again[0].UUID != svcs[0].UUID {
			t.Errorf("ensure again: %+v %v", again, err)
		}
		if _, err := s.UpdateService(ctx, svcs[0].ID, map[string]any{"disabled": true, "disabled_reason": "maintenance"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateService(ctx, svcs[1].ID, map[string]any{"forced_down": true}); err != nil {
			t.Fatal(err)
		}
		disabled, down, err := s.ComputeHostStates(ctx)
		if err != nil || !disabled["h0"] || disabled["h1"] || !down["h1"] || down["h0"] {
			t.Errorf("host states: %v %v %v", disabled, down, err)
		}
		byUUID, err := s.GetService(ctx, svcs[0].UUID)
		byID, err2 := s.GetService(ctx, strconv.Itoa(svcs[0].ID))
		if err != nil || err2 != nil || byUUID.ID != byID.ID || *byUUID.DisabledReason != "maintenance" {
			t.Errorf("get by uuid and id: %+v %+v %v %v", byUUID, byID, err, err2)
		}
		if _, err := s.FindService(ctx, "h9", "nova-compute"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown service: %v", err)
		}
	})
}
