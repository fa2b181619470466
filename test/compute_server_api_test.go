package test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/hypervisors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/instanceactions"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servergroups"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/services"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/tags"
)

// noHostServer creates a server that cannot be placed (its flavor wants a
// million GB of disk): it goes ERROR with NoValidHost at once and holds
// nothing, which is all the API tests below need. opts.ImageRef must name
// an active image the caller sees.
func noHostServer(t *testing.T, cc *gophercloud.ServiceClient, flavorID string, opts servers.CreateOpts, hints servers.SchedulerHintOptsBuilder) *servers.Server {
	t.Helper()
	opts.FlavorRef, opts.Networks = flavorID, "none"
	if opts.Name == "" {
		opts.Name = uniq("nohost")
	}
	created, err := servers.Create(context.Background(), cc, opts, hints).Extract()
	if err != nil {
		t.Fatalf("create server: %v", err)
	}
	t.Cleanup(func() { deleteServer(t, cc, created.ID) })
	return waitStatus(t, cc, created.ID, "ERROR", time.Minute)
}

// deleteServer deletes a server (an admin client lifts locks) and waits
// until it is gone.
func deleteServer(t *testing.T, cc *gophercloud.ServiceClient, id string) {
	ctx := context.Background()
	if err := servers.Delete(ctx, cc, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("delete server %s: %v", id, err)
		return
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := servers.Get(ctx, cc, id).Extract(); gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("server %s not gone after 2m", id)
}

// novaError checks a Nova-shaped error body: {"<kind>": {"code", "message"}}.
func novaError(t *testing.T, what string, code int, body map[string]any, want int, kind, msg string) {
	t.Helper()
	inner, _ := body[kind].(map[string]any)
	if code != want || inner == nil || !strings.Contains(fmt.Sprint(inner["message"]), msg) {
		t.Errorf("%s: %d %v, want %d %s containing %q", what, code, body, want, kind, msg)
	}
}

// serverQuery is a raw server list query, for the filters gophercloud's
// ListOpts lacks (reservation_id, sort_key, sort_dir).
type serverQuery string

// ToServerListQuery implements servers.ListOptsBuilder.
func (q serverQuery) ToServerListQuery() (string, error) { return "?" + string(q), nil }

// events are an action's events (none when it has none).
func events(a instanceactions.InstanceActionDetail) []instanceactions.Event {
	if a.Events == nil {
		return nil
	}
	return *a.Events
}

func names(list []servers.Server) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

func listServers(t *testing.T, cc *gophercloud.ServiceClient, opts servers.ListOptsBuilder) []servers.Server {
	t.Helper()
	pages, err := servers.List(cc, opts).AllPages(context.Background())
	if err != nil {
		t.Fatalf("list servers: %v", err)
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestComputeServerAPI covers the server API around servers that need no
// host: update, description, lock, multi-create and reservations, list
// filters, instance actions of a failed build, validation, server groups
// and their quota, services (a disabled host schedules nothing) and
// hypervisors.
func TestComputeServerAPI(t *testing.T) {
	c := sharedCloud(t)
	apc := c.AdminClient(t)
	acc := compute(t, apc, "2.96")
	ctx := context.Background()
	m := newMember(t, c.Identity(t, apc))
	mpc := c.Client(t, m.authOpts(c, m.Project.ID))
	mcc := compute(t, mpc, "2.96")
	mtok := mpc.Token()
	base := c.URL + "/compute/v2.1"
	mv := func(v string) map[string]string { return map[string]string{"X-OpenStack-Nova-API-Version": v} }
	huge := testFlavor(t, acc, 128, 1, 1000000)
	imageID := tinyServerImage(t, c, apc)
	parent := t

	s := noHostServer(t, mcc, huge, servers.CreateOpts{Name: uniq("api"), ImageRef: imageID, Tags: []string{"red", "blue"},
		Metadata: map[string]string{"role": "db"}}, nil)
	if s.Tags == nil || !slices.Equal(*s.Tags, []string{"red", "blue"}) {
		t.Errorf("tags at create: %v", s.Tags)
	}
	if !strings.Contains(s.Fault.Message, "No valid host was found") {
		t.Errorf("fault: %+v", s.Fault)
	}

	t.Run("update", func(t *testing.T) {
		u, err := servers.Update(ctx, compute(t, mpc, ""), s.ID, servers.UpdateOpts{Name: s.Name + "-renamed"}).Extract()
		if err != nil || u.Name != s.Name+"-renamed" || u.ID != s.ID {
			t.Fatalf("rename: %+v %v", u, err)
		}
		code, _, body := rawCompute(t, "PUT", base+"/servers/"+s.ID, mtok, mv("2.19"),
			map[string]any{"server": map[string]any{"description": "the database"}})
		srv, _ := body["server"].(map[string]any)
		if code != 200 || srv["description"] != "the database" || srv["name"] != s.Name+"-renamed" {
			t.Errorf("description: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "GET", base+"/servers/"+s.ID, mtok, mv("2.18"), nil)
		if _, shown := body["server"].(map[string]any)["description"]; code != 200 || shown {
			t.Errorf("description shown at 2.18: %v", body)
		}
		code, _, body = rawCompute(t, "PUT", base+"/servers/"+s.ID, mtok, mv("2.18"),
			map[string]any{"server": map[string]any{"description": "x"}})
		novaError(t, "description at 2.18", code, body, 400, "badRequest", "description")
		code, _, body = rawCompute(t, "PUT", base+"/servers/"+s.ID, mtok, nil,
			map[string]any{"server": map[string]any{"name": strings.Repeat("n", 256)}})
		novaError(t, "name of 256", code, body, 400, "badRequest", "name")
		code, _, body = rawCompute(t, "PUT", base+"/servers/"+s.ID, mtok, mv("2.90"),
			map[string]any{"server": map[string]any{"hostname": "db-1"}})
		if srv, _ := body["server"].(map[string]any); code != 200 || srv["OS-EXT-SRV-ATTR:hostname"] != "db-1" {
			t.Errorf("hostname at 2.90: %d %v", code, body)
		}
	})

	t.Run("lock", func(t *testing.T) {
		code, _, body := rawCompute(t, "POST", base+"/servers/"+s.ID+"/action", mtok, mv("2.73"),
			map[string]any{"lock": map[string]any{"locked_reason": "maintenance"}})
		if code != 202 {
			t.Fatalf("lock: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "GET", base+"/servers/"+s.ID, mtok, mv("2.73"), nil)
		srv, _ := body["server"].(map[string]any)
		if srv["locked"] != true || srv["locked_reason"] != "maintenance" {
			t.Errorf("locked view: %d %v", code, srv)
		}
		code, _, body = rawCompute(t, "DELETE", base+"/servers/"+s.ID, mtok, nil, nil)
		novaError(t, "delete locked", code, body, 409, "conflictingRequest", "Instance "+s.ID+" is locked")
		code, _, body = rawCompute(t, "POST", base+"/servers/"+s.ID+"/action", mtok, nil, map[string]any{"os-stop": nil})
		novaError(t, "stop locked", code, body, 409, "conflictingRequest", "is locked")
		if err := servers.Unlock(ctx, mcc, s.ID).ExtractErr(); err != nil {
			t.Fatalf("unlock: %v", err)
		}
		got, err := servers.Get(ctx, mcc, s.ID).Extract()
		if err != nil || got.Locked == nil || *got.Locked {
			t.Errorf("after unlock: %v %v", got.Locked, err)
		}
		code, _, body = rawCompute(t, "POST", base+"/servers/"+s.ID+"/action", mtok, nil,
			map[string]any{"changePassword": map[string]any{"adminPass": "x"}})
		novaError(t, "changePassword on an ERROR server", code, body, 409, "conflictingRequest", "vm_state error")
		code, _, body = rawCompute(t, "POST", base+"/servers/"+s.ID+"/action", mtok, nil,
			map[string]any{"changePassword": map[string]any{}})
		novaError(t, "changePassword without adminPass", code, body, 400, "badRequest", "adminPass")
	})

	t.Run("instance actions", func(t *testing.T) {
		pages, err := instanceactions.List(mcc, s.ID, nil).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		acts, err := instanceactions.ExtractInstanceActions(pages)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range acts {
			got = append(got, a.Action)
		}
		if want := []string{"unlock", "lock", "create"}; !slices.Equal(got, want) {
			t.Fatalf("actions newest first: %v, want %v", got, want)
		}
		create := acts[2]
		if create.Message != "Error" || create.RequestID == "" || create.ProjectID != m.Project.ID {
			t.Errorf("create action: %+v", create)
		}
		// Members see the events from 2.51, without tracebacks.
		a, err := instanceactions.Get(ctx, mcc, s.ID, create.RequestID).Extract()
		if evs := events(a); err != nil || len(evs) != 1 || evs[0].Event != "conductor_schedule_and_build_instances" ||
			evs[0].Result != "Error" || evs[0].Traceback != "" {
			t.Errorf("member's view of the create action: %+v %v", a, err)
		}
		a, err = instanceactions.Get(ctx, acc, s.ID, create.RequestID).Extract()
		if evs := events(a); err != nil || len(evs) != 1 || !strings.Contains(evs[0].Traceback, "No valid host") {
			t.Errorf("admin's view of the create action: %+v %v", a, err)
		}
		code, _, body := rawCompute(t, "GET", base+"/servers/"+s.ID+"/os-instance-actions/"+create.RequestID, mtok, mv("2.50"), nil)
		if _, shown := body["instanceAction"].(map[string]any)["events"]; code != 200 || shown {
			t.Errorf("member sees events at 2.50: %v", body)
		}
		code, _, body = rawCompute(t, "GET", base+"/servers/"+s.ID+"/os-instance-actions?limit=1", mtok, mv("2.58"), nil)
		list, _ := body["instanceActions"].([]any)
		if code != 200 || len(list) != 1 || body["links"] == nil || list[0].(map[string]any)["updated_at"] == nil {
			t.Fatalf("limit=1 at 2.58: %d %v", code, body)
		}
		marker := list[0].(map[string]any)["request_id"]
		code, _, body = rawCompute(t, "GET", fmt.Sprintf("%s/servers/%s/os-instance-actions?marker=%v", base, s.ID, marker), mtok, mv("2.58"), nil)
		if list, _ := body["instanceActions"].([]any); code != 200 || len(list) != 2 {
			t.Errorf("after marker: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "GET", base+"/servers/"+s.ID+"/os-instance-actions/req-nope", mtok, nil, nil)
		novaError(t, "unknown action", code, body, 404, "itemNotFound", "req-nope")
	})

	t.Run("multi-create", func(t *testing.T) {
		name := uniq("multi")
		code, _, body := rawCompute(t, "POST", base+"/servers", mtok, nil, map[string]any{"server": map[string]any{
			"name": name, "imageRef": imageID, "flavorRef": huge, "networks": "none",
			"min_count": 2, "max_count": 3, "return_reservation_id": true}})
		resv, _ := body["reservation_id"].(string)
		if code != 202 || !strings.HasPrefix(resv, "r-") {
			t.Fatalf("multi-create: %d %v", code, body)
		}
		all := listServers(t, mcc, serverQuery("reservation_id="+resv))
		for _, srv := range all {
			// The list filters below use these servers too.
			parent.Cleanup(func() { deleteServer(parent, mcc, srv.ID) })
		}
		if got := names(all); !slices.Equal(got, []string{name + "-1", name + "-2", name + "-3"}) {
			t.Errorf("servers of %s: %v", resv, got)
		}
		adm, err := servers.Get(ctx, acc, all[0].ID).Extract()
		if err != nil || adm.ReservationID == nil || *adm.ReservationID != resv {
			t.Errorf("admin view reservation_id: %v %v", adm.ReservationID, err)
		}
		for _, bad := range []map[string]any{{"min_count": 3, "max_count": 2}, {"min_count": 0}, {"max_count": -1}, {"min_count": "x"}} {
			srv := map[string]any{"name": "x", "imageRef": imageID, "flavorRef": huge, "networks": "none"}
			for k, v := range bad {
				srv[k] = v
			}
			code, _, body := rawCompute(t, "POST", base+"/servers", mtok, nil, map[string]any{"server": srv})
			novaError(t, fmt.Sprintf("counts %v", bad), code, body, 400, "badRequest", "")
		}
		// The project has 10 instances: min_count 9 does not fit beside the 4.
		code, _, body = rawCompute(t, "POST", base+"/servers", mtok, nil, map[string]any{"server": map[string]any{
			"name": "x", "imageRef": imageID, "flavorRef": huge, "networks": "none",
			"min_count": 9, "max_count": 9}})
		novaError(t, "min_count over quota", code, body, 403, "forbidden", "Quota exceeded for instances")
		if n := len(listServers(t, mcc, nil)); n != 4 {
			t.Errorf("%d servers after the refused create, want 4", n)
		}
	})

	t.Run("list filters", func(t *testing.T) {
		cc26 := compute(t, mpc, "2.26")
		if got := listServers(t, cc26, servers.ListOpts{Tags: "red,blue"}); len(got) != 1 || got[0].ID != s.ID {
			t.Errorf("tags=red,blue: %v", names(got))
		}
		if got := listServers(t, cc26, servers.ListOpts{TagsAny: "red,green"}); len(got) != 1 {
			t.Errorf("tags-any: %v", names(got))
		}
		if got := listServers(t, cc26, servers.ListOpts{NotTags: "red"}); len(got) != 3 {
			t.Errorf("not-tags=red: %v", names(got))
		}
		if got := listServers(t, cc26, servers.ListOpts{NotTagsAny: "blue,green"}); len(got) != 3 {
			t.Errorf("not-tags-any: %v", names(got))
		}
		if got := listServers(t, mcc, servers.ListOpts{Flavor: huge}); len(got) != 4 {
			t.Errorf("flavor: %v", names(got))
		}
		if got := listServers(t, mcc, servers.ListOpts{Image: "00000000-0000-4000-8000-000000000002"}); len(got) != 0 {
			t.Errorf("other image: %v", names(got))
		}
		// No server has addresses yet, so an address filter matches none.
		if got := listServers(t, mcc, servers.ListOpts{IP: "10\\..*"}); len(got) != 0 {
			t.Errorf("ip: %v", names(got))
		}
		asc := listServers(t, mcc, serverQuery("sort_key=display_name&sort_dir=asc"))
		if got := []string{asc[0].Name, asc[3].Name}; !slices.IsSorted(got) || len(asc) != 4 {
			t.Errorf("sorted by name: %v", got)
		}
		since := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
		if got := listServers(t, mcc, servers.ListOpts{ChangesSince: since}); len(got) != 4 {
			t.Errorf("changes-since: %v", names(got))
		}
		code, _, body := rawCompute(t, "GET", base+"/servers?changes-before=2000-01-01T00:00:00Z", mtok, mv("2.66"), nil)
		if list, _ := body["servers"].([]any); code != 200 || len(list) != 0 {
			t.Errorf("changes-before 2000: %d %v", code, body)
		}
		for q, want := range map[string]int{"locked=false": 4, "locked=true": 0} {
			code, _, body := rawCompute(t, "GET", base+"/servers?"+q, mtok, mv("2.73"), nil)
			if list, _ := body["servers"].([]any); code != 200 || len(list) != want {
				t.Errorf("%s at 2.73: %d %v, want %d servers", q, code, body, want)
			}
		}
		for _, q := range []string{"sort_key=nope", "sort_dir=up", "changes-since=yesterday", "ip=(", "limit=-1"} {
			code, _, body := rawCompute(t, "GET", base+"/servers?"+q, mtok, nil, nil)
			novaError(t, q, code, body, 400, "badRequest", "")
		}
		code, _, body = rawCompute(t, "GET", base+"/servers/detail?changes-since=2000-01-01T00:00:00Z&changes-before=1999-01-01T00:00:00Z", mtok, mv("2.66"), nil)
		novaError(t, "changes-before before changes-since", code, body, 400, "badRequest", "changes-since")
	})

	t.Run("validation", func(t *testing.T) {
		valid := func(extra map[string]any) map[string]any {
			srv := map[string]any{"name": "v", "imageRef": imageID, "flavorRef": huge, "networks": "none"}
			for k, v := range extra {
				srv[k] = v
			}
			return map[string]any{"server": srv}
		}
		many := make([]string, 51)
		for i := range many {
			many[i] = fmt.Sprint("t", i)
		}
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"name of 256", valid(map[string]any{"name": strings.Repeat("a", 256)})},
			{"name with leading space", valid(map[string]any{"name": " a"})},
			{"malformed imageRef", valid(map[string]any{"imageRef": "1234"})},
			{"user_data over 64 KiB", valid(map[string]any{"user_data": base64.StdEncoding.EncodeToString(make([]byte, 50000))})},
			{"user_data not base64", valid(map[string]any{"user_data": "!!not base64!!"})},
			{"metadata key of 256", valid(map[string]any{"metadata": map[string]any{strings.Repeat("k", 256): "v"}})},
			{"metadata value not a string", valid(map[string]any{"metadata": map[string]any{"k": 1}})},
			{"tag with a slash", valid(map[string]any{"tags": []string{"a/b"}})},
			{"51 tags", valid(map[string]any{"tags": many})},
			{"description of 256", valid(map[string]any{"description": strings.Repeat("d", 256)})},
			{"group hint not a uuid", map[string]any{"server": valid(nil)["server"], "os:scheduler_hints": map[string]any{"group": "nope"}}},
			{"unknown group", map[string]any{"server": valid(nil)["server"], "os:scheduler_hints": map[string]any{"group": "00000000-0000-4000-8000-000000000003"}}},
		} {
			code, _, body := rawCompute(t, "POST", base+"/servers", mtok, mv("2.96"), tc.body)
			novaError(t, tc.name, code, body, 400, "badRequest", "")
		}
		code, _, body := rawCompute(t, "POST", base+"/servers", mtok, mv("2.51"), valid(map[string]any{"tags": []string{"a"}}))
		novaError(t, "tags at 2.51", code, body, 400, "badRequest", "tags")
		code, _, body = rawCompute(t, "GET", base+"/servers/not-a-uuid", mtok, nil, nil)
		novaError(t, "malformed server id", code, body, 404, "itemNotFound", "not-a-uuid")
	})

	t.Run("server groups", func(t *testing.T) {
		g, err := servergroups.Create(ctx, compute(t, mpc, ""), servergroups.CreateOpts{Name: uniq("grp"), Policies: []string{"anti-affinity"}}).Extract()
		if err != nil || len(g.Policies) != 1 || g.Policies[0] != "anti-affinity" || len(g.Members) != 0 {
			t.Fatalf("create at 2.1: %+v %v", g, err)
		}
		t.Cleanup(func() { _ = servergroups.Delete(ctx, mcc, g.ID).ExtractErr() })
		g64, err := servergroups.Create(ctx, mcc, servergroups.CreateOpts{Name: uniq("grp"), Policy: "anti-affinity",
			Rules: &servergroups.Rules{MaxServerPerHost: 2}}).Extract()
		if err != nil || g64.Policy == nil || *g64.Policy != "anti-affinity" || g64.Rules == nil || g64.Rules.MaxServerPerHost != 2 {
			t.Fatalf("create at 2.64: %+v %v", g64, err)
		}
		if err := servergroups.Delete(ctx, mcc, g64.ID).ExtractErr(); err != nil {
			t.Errorf("delete: %v", err)
		}
		for _, tc := range []struct {
			mv   string
			body map[string]any
		}{
			{"2.1", map[string]any{"name": "x", "policies": []string{"soft-affinity"}}},
			{"2.1", map[string]any{"name": "x", "policies": []string{"affinity", "anti-affinity"}}},
			{"2.64", map[string]any{"name": "x", "policy": "affinity", "rules": map[string]any{"max_server_per_host": 2}}},
			{"2.64", map[string]any{"name": "x", "policy": "anti-affinity", "rules": map[string]any{"max_server_per_host": 0}}},
			{"2.64", map[string]any{"name": "x", "policies": []string{"affinity"}}},
			{"2.64", map[string]any{"name": "", "policy": "affinity"}},
		} {
			code, _, body := rawCompute(t, "POST", base+"/os-server-groups", mtok, mv(tc.mv), map[string]any{"server_group": tc.body})
			novaError(t, fmt.Sprintf("%s %v", tc.mv, tc.body), code, body, 400, "badRequest", "")
		}
		// The admin sees the member's group with all_projects only.
		pages, err := servergroups.List(acc, servergroups.ListOpts{AllProjects: true}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := servergroups.ExtractServerGroups(pages)
		if !slices.ContainsFunc(all, func(x servergroups.ServerGroup) bool { return x.ID == g.ID }) {
			t.Errorf("all_projects does not list the member's group")
		}
		pages, _ = servergroups.List(acc, nil).AllPages(ctx)
		own, _ := servergroups.ExtractServerGroups(pages)
		if slices.ContainsFunc(own, func(x servergroups.ServerGroup) bool { return x.ID == g.ID }) {
			t.Errorf("the admin's own list shows the member's group")
		}
		other := newMember(t, c.Identity(t, apc))
		occ := compute(t, c.Client(t, other.authOpts(c, other.Project.ID)), "2.64")
		if _, err := servergroups.Get(ctx, occ, g.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("another project's group: %v, want 404", err)
		}

		// One member per group: the second server is refused.
		code, _, body := rawCompute(t, "PUT", base+"/os-quota-sets/"+m.Project.ID, apc.Token(), nil,
			map[string]any{"quota_set": map[string]any{"server_group_members": 1}})
		if code != 200 {
			t.Fatalf("set server_group_members: %d %v", code, body)
		}
		hint := servers.SchedulerHintOpts{Group: g.ID}
		first := noHostServer(t, mcc, huge, servers.CreateOpts{ImageRef: imageID}, hint)
		got, err := servergroups.Get(ctx, mcc, g.ID).Extract()
		if err != nil || !slices.Equal(got.Members, []string{first.ID}) {
			t.Errorf("members: %v %v", got.Members, err)
		}
		if first.ServerGroups == nil || !slices.Equal(*first.ServerGroups, []string{g.ID}) {
			t.Errorf("server_groups of the server at 2.71+: %v", first.ServerGroups)
		}
		_, err = servers.Create(ctx, mcc, servers.CreateOpts{Name: "second", ImageRef: imageID,
			FlavorRef: huge, Networks: "none"}, hint).Extract()
		if !gophercloud.ResponseCodeIs(err, http.StatusForbidden) || !strings.Contains(err.Error(), "too many servers in group") {
			t.Errorf("second member: %v, want 403", err)
		}
		deleteServer(t, mcc, first.ID)
		if got, err := servergroups.Get(ctx, mcc, g.ID).Extract(); err != nil || len(got.Members) != 0 {
			t.Errorf("members after the delete: %v %v", got.Members, err)
		}
	})

	t.Run("services and hypervisors", func(t *testing.T) {
		if _, err := services.List(mcc, nil).AllPages(ctx); !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
			t.Errorf("member lists services: %v, want 403", err)
		}
		pages, err := services.List(acc, services.ListOpts{Binary: "nova-compute"}).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		svcs, err := services.ExtractServices(pages)
		if err != nil || len(svcs) == 0 {
			t.Fatalf("compute services: %v %v", svcs, err)
		}
		var comp services.Service
		for _, sv := range svcs {
			if sv.State == "up" {
				comp = sv
			}
		}
		if comp.ID == "" || comp.Status != "enabled" || comp.Zone != "nova" {
			t.Fatalf("no enabled compute service up: %+v", svcs)
		}

		hpages, err := hypervisors.List(acc, nil).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hvs, err := hypervisors.ExtractHypervisors(hpages)
		if err != nil || len(hvs) == 0 {
			t.Fatalf("hypervisors: %v %v", hvs, err)
		}
		var hv hypervisors.Hypervisor
		for _, h := range hvs {
			if h.HypervisorHostname == comp.Host {
				hv = h
			}
		}
		if hv.State != "up" || hv.Service.ID != comp.ID || hv.HypervisorType != "QEMU" {
			t.Errorf("hypervisor of %s at 2.96: %+v", comp.Host, hv)
		}
		old := compute(t, apc, "2.87")
		h87, err := hypervisors.Get(ctx, old, hv.ID).Extract()
		if err != nil || h87.VCPUs < 1 || h87.MemoryMB < 1 || h87.LocalGB < 1 || h87.HypervisorVersion == 0 {
			t.Errorf("hypervisor at 2.87: %+v %v", h87, err)
		}
		st, err := hypervisors.GetStatistics(ctx, old).Extract()
		if err != nil || st.Count < 1 || st.VCPUs < h87.VCPUs {
			t.Errorf("statistics: %+v %v", st, err)
		}
		if _, err := hypervisors.GetStatistics(ctx, acc).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("statistics at 2.88: %v, want 404", err)
		}
		code, _, body := rawCompute(t, "GET", base+"/os-hypervisors", apc.Token(), nil, nil)
		list, _ := body["hypervisors"].([]any)
		if code != 200 || len(list) == 0 {
			t.Fatalf("hypervisors at 2.1: %d %v", code, body)
		}
		if _, isNumber := list[0].(map[string]any)["id"].(float64); !isNumber {
			t.Errorf("hypervisor id at 2.1 is not an integer: %v", list[0])
		}

		code, _, body = rawCompute(t, "GET", base+"/os-hypervisors/"+comp.Host+"/search", apc.Token(), nil, nil)
		if list, _ := body["hypervisors"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["hypervisor_hostname"] != comp.Host {
			t.Errorf("search at 2.1: %d %v", code, body)
		}
		code, _, _ = rawCompute(t, "GET", base+"/os-hypervisors/"+comp.Host+"/servers", apc.Token(), mv("2.53"), nil)
		if code != 404 {
			t.Errorf("servers of a hypervisor at 2.53: %d, want 404", code)
		}
		// A disabled compute service takes no new servers.
		small := testFlavor(t, acc, 64, 1, 1)
		upd, err := services.Update(ctx, acc, comp.ID, services.UpdateOpts{Status: services.ServiceDisabled, DisabledReason: "e2e"}).Extract()
		if err != nil || upd.Status != "disabled" || upd.DisabledReason != "e2e" {
			t.Fatalf("disable: %+v %v", upd, err)
		}
		enabled := false
		enable := func() {
			if enabled {
				return
			}
			enabled = true
			if _, err := services.Update(ctx, acc, comp.ID, services.UpdateOpts{Status: services.ServiceEnabled}).Extract(); err != nil {
				t.Errorf("enable: %v", err)
			}
		}
		t.Cleanup(enable)
		blocked := noHostServer(t, mcc, small, servers.CreateOpts{ImageRef: imageID}, nil)
		if !strings.Contains(blocked.Fault.Message, "ComputeFilter") {
			t.Errorf("fault on a disabled host: %+v", blocked.Fault)
		}
		code, _, body = rawCompute(t, "GET", base+"/os-hypervisors/"+hv.ID, apc.Token(), mv("2.53"), nil)
		if h, _ := body["hypervisor"].(map[string]any); code != 200 || h["status"] != "disabled" {
			t.Errorf("hypervisor of a disabled service: %d %v", code, body)
		}
		enable()
		// The legacy calls at 2.1 name the host and binary.
		code, _, body = rawCompute(t, "PUT", base+"/os-services/disable", apc.Token(), nil, map[string]any{"host": comp.Host, "binary": "nova-compute"})
		if sv, _ := body["service"].(map[string]any); code != 200 || sv["status"] != "disabled" {
			t.Errorf("legacy disable: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "PUT", base+"/os-services/enable", apc.Token(), nil, map[string]any{"host": comp.Host, "binary": "nova-compute"})
		if sv, _ := body["service"].(map[string]any); code != 200 || sv["status"] != "enabled" {
			t.Errorf("legacy enable: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "PUT", base+"/os-services/"+comp.ID, apc.Token(), mv("2.53"), map[string]any{"status": "enabled", "disabled_reason": "x"})
		novaError(t, "enabled with a reason", code, body, 400, "badRequest", "disabled_reason")
	})
}

// TestComputeServerAPIOnHost covers what needs a running server: metadata
// and tags (Nova refuses them on ERROR servers), lock against power
// actions, changePassword, the build's action events, and server group
// policies applied by the scheduler on this single host.
func TestComputeServerAPIOnHost(t *testing.T) {
	c := sharedCloud(t)
	apc := c.AdminClient(t)
	acc := compute(t, apc, "2.96")
	ctx := context.Background()
	m := newMember(t, c.Identity(t, apc))
	mpc := c.Client(t, m.authOpts(c, m.Project.ID))
	mcc := compute(t, mpc, "2.96")
	mtok := mpc.Token()
	base := c.URL + "/compute/v2.1"
	imageID := tinyServerImage(t, c, apc)
	flavorID := testFlavor(t, acc, 128, 1, 1)

	soft, err := servergroups.Create(ctx, mcc, servergroups.CreateOpts{Name: uniq("soft"), Policy: "soft-anti-affinity"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = servergroups.Delete(ctx, mcc, soft.ID).ExtractErr() })
	// Two members of a soft-anti-affinity group share the one host.
	code, _, body := rawCompute(t, "POST", base+"/servers", mtok, map[string]string{"X-OpenStack-Nova-API-Version": "2.96"}, map[string]any{
		"server": map[string]any{"name": "soft", "imageRef": imageID, "flavorRef": flavorID, "networks": "none",
			"min_count": 2, "max_count": 2, "return_reservation_id": true},
		"os:scheduler_hints": map[string]any{"group": soft.ID}})
	if code != 202 {
		t.Fatalf("create soft-anti-affinity pair: %d %v", code, body)
	}
	pair := listServers(t, mcc, serverQuery("reservation_id="+body["reservation_id"].(string)))
	if len(pair) != 2 {
		t.Fatalf("pair: %v", names(pair))
	}
	for _, s := range pair {
		t.Cleanup(func() { deleteServer(t, acc, s.ID) })
	}
	for _, s := range pair {
		waitStatus(t, mcc, s.ID, "ACTIVE", 4*time.Minute)
	}
	id := pair[0].ID

	t.Run("anti-affinity", func(t *testing.T) {
		g, err := servergroups.Create(ctx, mcc, servergroups.CreateOpts{Name: uniq("anti"), Policy: "anti-affinity"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = servergroups.Delete(ctx, mcc, g.ID).ExtractErr() })
		hint := servers.SchedulerHintOpts{Group: g.ID}
		first, err := servers.Create(ctx, mcc, servers.CreateOpts{Name: uniq("anti"), ImageRef: imageID, FlavorRef: flavorID, Networks: "none"}, hint).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteServer(t, acc, first.ID) })
		if s, err := servers.Get(ctx, acc, first.ID).Extract(); err != nil || s.Host == "" {
			t.Fatalf("first member is not placed: %v %v", s, err)
		}
		second := noHostServer(t, mcc, flavorID, servers.CreateOpts{ImageRef: imageID}, hint)
		if !strings.Contains(second.Fault.Message, "No valid host was found") || !strings.Contains(second.Fault.Message, "ServerGroupAntiAffinityFilter") {
			t.Errorf("second member's fault: %+v", second.Fault)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		md, err := servers.UpdateMetadata(ctx, mcc, id, servers.MetadataOpts{"a": "1", "b": "2"}).Extract()
		if err != nil || md["a"] != "1" || md["b"] != "2" {
			t.Fatalf("merge: %v %v", md, err)
		}
		md, err = servers.ResetMetadata(ctx, mcc, id, servers.MetadataOpts{"c": "3"}).Extract()
		if err != nil || len(md) != 1 || md["c"] != "3" {
			t.Fatalf("replace: %v %v", md, err)
		}
		if md, err := servers.Metadata(ctx, mcc, id).Extract(); err != nil || len(md) != 1 || md["c"] != "3" {
			t.Errorf("get all: %v %v", md, err)
		}
		if md, err := servers.CreateMetadatum(ctx, mcc, id, servers.MetadatumOpts{"d": "4"}).Extract(); err != nil || md["d"] != "4" {
			t.Errorf("set one: %v %v", md, err)
		}
		if md, err := servers.Metadatum(ctx, mcc, id, "d").Extract(); err != nil || md["d"] != "4" {
			t.Errorf("get one: %v %v", md, err)
		}
		if err := servers.DeleteMetadatum(ctx, mcc, id, "d").ExtractErr(); err != nil {
			t.Errorf("delete one: %v", err)
		}
		if _, err := servers.Metadatum(ctx, mcc, id, "d").Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("deleted item: %v, want 404", err)
		}
		if err := servers.DeleteMetadatum(ctx, mcc, id, "d").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete a missing item: %v, want 404", err)
		}
		code, _, body := rawCompute(t, "PUT", base+"/servers/"+id+"/metadata/x", mtok, nil, map[string]any{"meta": map[string]any{"y": "1"}})
		novaError(t, "key mismatch", code, body, 400, "badRequest", "Request body and URI mismatch")
		code, _, body = rawCompute(t, "PUT", base+"/servers/"+id+"/metadata/x", mtok, nil, map[string]any{"meta": map[string]any{"x": "1", "z": "2"}})
		novaError(t, "two items", code, body, 400, "badRequest", "too many items")
		code, _, body = rawCompute(t, "POST", base+"/servers/"+id+"/metadata", mtok, nil, map[string]any{"metadata": map[string]any{"k": strings.Repeat("v", 256)}})
		novaError(t, "value of 256", code, body, 400, "badRequest", "")
		code, _, body = rawCompute(t, "PUT", base+"/os-quota-sets/"+m.Project.ID, apc.Token(), nil,
			map[string]any{"quota_set": map[string]any{"metadata_items": 2}})
		if code != 200 {
			t.Fatalf("set metadata_items: %d %v", code, body)
		}
		code, _, body = rawCompute(t, "POST", base+"/servers/"+id+"/metadata", mtok, nil, map[string]any{"metadata": map[string]any{"e": "1", "f": "2"}})
		novaError(t, "over metadata_items", code, body, 403, "forbidden", "Maximum number of metadata items exceeds 2")
		if md, _ := servers.Metadata(ctx, mcc, id).Extract(); len(md) != 1 {
			t.Errorf("metadata after the refused change: %v", md)
		}
	})

	t.Run("tags", func(t *testing.T) {
		if err := tags.Add(ctx, mcc, id, "blue").ExtractErr(); err != nil {
			t.Fatalf("add: %v", err)
		}
		code, hdr, _ := rawCompute(t, "PUT", base+"/servers/"+id+"/tags/green", mtok, map[string]string{"X-OpenStack-Nova-API-Version": "2.26"}, nil)
		if code != 201 || !strings.HasSuffix(hdr.Get("Location"), "/servers/"+id+"/tags/green") {
			t.Errorf("add new tag: %d %v", code, hdr)
		}
		code, _, _ = rawCompute(t, "PUT", base+"/servers/"+id+"/tags/green", mtok, map[string]string{"X-OpenStack-Nova-API-Version": "2.26"}, nil)
		if code != 204 {
			t.Errorf("add an existing tag: %d, want 204", code)
		}
		if ok, err := tags.Check(ctx, mcc, id, "blue").Extract(); err != nil || !ok {
			t.Errorf("check blue: %v %v", ok, err)
		}
		if ok, _ := tags.Check(ctx, mcc, id, "nope").Extract(); ok {
			t.Errorf("check nope: present")
		}
		got, err := tags.ReplaceAll(ctx, mcc, id, tags.ReplaceAllOpts{Tags: []string{"x", "y"}}).Extract()
		if err != nil || !slices.Equal(got, []string{"x", "y"}) {
			t.Errorf("replace all: %v %v", got, err)
		}
		if err := tags.Delete(ctx, mcc, id, "x").ExtractErr(); err != nil {
			t.Errorf("delete: %v", err)
		}
		if err := tags.Delete(ctx, mcc, id, "x").ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			t.Errorf("delete a missing tag: %v, want 404", err)
		}
		if got, err := tags.List(ctx, mcc, id).Extract(); err != nil || !slices.Equal(got, []string{"y"}) {
			t.Errorf("list: %v %v", got, err)
		}
		many := make([]string, 50)
		for i := range many {
			many[i] = fmt.Sprint("t", i)
		}
		if _, err := tags.ReplaceAll(ctx, mcc, id, tags.ReplaceAllOpts{Tags: many}).Extract(); err != nil {
			t.Fatalf("50 tags: %v", err)
		}
		code, _, body := rawCompute(t, "PUT", base+"/servers/"+id+"/tags/one-more", mtok, map[string]string{"X-OpenStack-Nova-API-Version": "2.26"}, nil)
		novaError(t, "51st tag", code, body, 400, "badRequest", "per-server limit 50")
		code, _, body = rawCompute(t, "PUT", base+"/servers/"+id+"/tags/a,b", mtok, map[string]string{"X-OpenStack-Nova-API-Version": "2.26"}, nil)
		novaError(t, "tag with a comma", code, body, 400, "badRequest", "is invalid")
		if err := tags.DeleteAll(ctx, mcc, id).ExtractErr(); err != nil {
			t.Errorf("delete all: %v", err)
		}
		code, _, _ = rawCompute(t, "GET", base+"/servers/"+id+"/tags", mtok, map[string]string{"X-OpenStack-Nova-API-Version": "2.25"}, nil)
		if code != 404 {
			t.Errorf("tags at 2.25: %d, want 404", code)
		}
	})

	t.Run("lock and changePassword", func(t *testing.T) {
		if err := servers.Lock(ctx, mcc, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		if err := servers.Stop(ctx, mcc, id).ExtractErr(); !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
			t.Errorf("member stops a locked server: %v, want 409", err)
		}
		code, _, body := rawCompute(t, "POST", base+"/servers/"+id+"/metadata", mtok, nil, map[string]any{"metadata": map[string]any{"k": "v"}})
		novaError(t, "metadata of a locked server", code, body, 409, "conflictingRequest", "is locked")
		if err := servers.Unlock(ctx, mcc, id).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		err := servers.ChangeAdminPassword(ctx, mcc, id, "new-secret").ExtractErr()
		if !gophercloud.ResponseCodeIs(err, http.StatusConflict) || !strings.Contains(err.Error(), "QEMU guest agent is not enabled") {
			t.Errorf("changePassword: %v, want 409 QEMU guest agent is not enabled", err)
		}
	})

	t.Run("build events", func(t *testing.T) {
		pages, err := instanceactions.List(acc, id, nil).AllPages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		acts, _ := instanceactions.ExtractInstanceActions(pages)
		if len(acts) == 0 || acts[len(acts)-1].Action != "create" {
			t.Fatalf("actions: %+v", acts)
		}
		a, err := instanceactions.Get(ctx, acc, id, acts[len(acts)-1].RequestID).Extract()
		evs := events(a)
		if err != nil || len(evs) != 1 {
			t.Fatalf("create action: %+v %v", a, err)
		}
		ev := evs[0]
		if ev.Event != "compute__do_build_and_run_instance" || ev.Result != "Success" || ev.Host == nil || *ev.Host == "" || ev.FinishTime.IsZero() {
			t.Errorf("build event: %+v", ev)
		}
	})
}
