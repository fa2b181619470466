package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/services"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
)

// call sends a JSON request with a token and decodes the JSON answer.
func call(t *testing.T, method, url, tok string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestQuotaLastUnitRace is the quota acceptance test: 50 parallel requests
// that would each take the last unit of a project's quota (application
// credentials, limited to 1 through Keystone's /v3/limits) leave exactly one
// success.
func TestQuotaLastUnitRace(t *testing.T) {
	ctx := context.Background()
	c := sharedCloud(t)
	admin := c.AdminClient(t)
	id := c.Identity(t, admin)

	project, err := projects.Create(ctx, id, projects.CreateOpts{Name: "quota-race", DomainID: "default"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { projects.Delete(ctx, id, project.ID) })
	user, err := users.Create(ctx, id, users.CreateOpts{Name: "quota-racer", DomainID: "default", Password: "racer-pass-1"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Delete(ctx, id, user.ID) })
	member, err := roles.List(id, roles.ListOpts{Name: "member"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	memberRoles, _ := roles.ExtractRoles(member)
	if len(memberRoles) != 1 {
		t.Fatalf("member roles: %+v", memberRoles)
	}
	if err := roles.Assign(ctx, id, memberRoles[0].ID, roles.AssignOpts{UserID: user.ID, ProjectID: project.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	svcPages, err := services.List(id, services.ListOpts{ServiceType: "identity"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ := services.ExtractServices(svcPages)
	if len(svcs) != 1 {
		t.Fatalf("identity services: %+v", svcs)
	}

	base := c.AuthURL()
	code, body := call(t, "GET", base+"/registered_limits?resource_name=application_credentials", admin.Token(), nil)
	if code != 200 || len(body["registered_limits"].([]any)) != 1 {
		t.Fatalf("registered limits: %d %v", code, body)
	}
	code, body = call(t, "POST", base+"/limits", admin.Token(), map[string]any{"limits": []map[string]any{{
		"project_id": project.ID, "service_id": svcs[0].ID, "resource_name": "application_credentials", "resource_limit": 1,
	}}})
	if code != 201 {
		t.Fatalf("create limit: %d %v", code, body)
	}

	pc := c.Client(t, gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL(), UserID: user.ID, Password: "racer-pass-1",
		Scope: &gophercloud.AuthScope{ProjectID: project.ID}})
	const n = 50
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], _ = call(t, "POST", base+"/users/"+user.ID+"/application_credentials", pc.Token(),
				map[string]any{"application_credential": map[string]any{"name": fmt.Sprintf("racer-%d", i)}})
		}()
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	for _, code := range codes {
		counts[code]++
	}
	if counts[201] != 1 || counts[403] != n-1 {
		t.Fatalf("want exactly one 201 and %d 403s, got %v", n-1, counts)
	}
	code, body = call(t, "GET", base+"/users/"+user.ID+"/application_credentials", pc.Token(), nil)
	if code != 200 || len(body["application_credentials"].([]any)) != 1 {
		t.Fatalf("credentials after the race: %d %v", code, body)
	}
}
