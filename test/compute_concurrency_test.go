package test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// hostCPUs is the host's CPU count as libvirt reports it (what the agent
// registers as VCPU total).
func hostCPUs(t *testing.T) int {
	t.Helper()
	out, err := virsh("nodeinfo")
	if err != nil {
		t.Fatalf("virsh nodeinfo: %v %s", err, out)
	}
	m := regexp.MustCompile(`(?m)^CPU\(s\):\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no CPU count in virsh nodeinfo:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// placementGet reads a placement API document as the admin.
func placementGet(t *testing.T, c *Cloud, tok, path string) map[string]any {
	t.Helper()
	code, _, body := rawCompute(t, "GET", c.URL+"/placement"+path, tok, map[string]string{"OpenStack-API-Version": "placement 1.10"}, nil)
	if code != 200 {
		t.Fatalf("GET /placement%s: %d %v", path, code, body)
	}
	return body
}

// TestComputeConcurrentCreates is the concurrency acceptance test: 20
// simultaneous creates against a host with room for exactly 5 (VCPU
// capacity set with --reserved-host-cpus and --cpu-allocation-ratio) end
// with exactly 5 ACTIVE and 15 ERROR with a NoValidHost fault, placement
// allocations that match the running domains, and nothing left once all
// are deleted.
func TestComputeConcurrentCreates(t *testing.T) {
	const room, total = 5, 20
	cpus := hostCPUs(t)
	var ids []string
	var cc *gophercloud.ServiceClient
	c := startPrivateCloud(t, func() { deleteServers(t, cc, ids...) },
		"--reserved-host-cpus", strconv.Itoa(cpus-1), "--cpu-allocation-ratio", strconv.Itoa(room))
	pc := c.AdminClient(t)
	cc = compute(t, pc, "")
	ctx := context.Background()
	tok := pc.Token()

	rps := placementGet(t, c.Cloud, tok, "/resource_providers")["resource_providers"].([]any)
	if len(rps) != 1 {
		t.Fatalf("resource providers: %v", rps)
	}
	rp := rps[0].(map[string]any)["uuid"].(string)
	vcpu := placementGet(t, c.Cloud, tok, "/resource_providers/"+rp+"/inventories")["inventories"].(map[string]any)["VCPU"].(map[string]any)
	if vcpu["total"] != float64(cpus) || vcpu["reserved"] != float64(cpus-1) || vcpu["allocation_ratio"] != float64(room) {
		t.Fatalf("VCPU inventory %v, want total %d reserved %d ratio %d", vcpu, cpus, cpus-1, room)
	}

	if _, err := quotasets.Update(ctx, cc, adminProjectID(t, c.Cloud), quotasets.UpdateOpts{
		Instances: ptr(total), Cores: ptr(total), RAM: ptr(total * 128)}).Extract(); err != nil {
		t.Fatalf("raise quota: %v", err)
	}
	imageID := tinyServerImage(t, c.Cloud, pc)
	flavorID := testFlavor(t, cc, 96, 1, 1)

	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := servers.Create(ctx, cc, servers.CreateOpts{Name: fmt.Sprintf("%s-%d", tinyName("race"), i), ImageRef: imageID,
				FlavorRef: flavorID, Networks: "none"}, nil).Extract()
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			ids = append(ids, s.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("create: %v", err)
	}
	if len(ids) != total {
		t.Fatalf("%d of %d creates accepted", len(ids), total)
	}

	status := map[string]string{}
	waitFor(t, 5*time.Minute, "all servers out of BUILD", func() error {
		building := 0
		for _, id := range ids {
			if status[id] == "ACTIVE" || status[id] == "ERROR" {
				continue
			}
			s, err := servers.Get(ctx, cc, id).Extract()
			if err != nil {
				return err
			}
			status[id] = s.Status
			if s.Status == "ERROR" && !strings.Contains(s.Fault.Message, "No valid host was found") {
				t.Fatalf("server %s: fault %+v, want NoValidHost", id, s.Fault)
			}
			if s.Status != "ACTIVE" && s.Status != "ERROR" {
				building++
			}
		}
		if building > 0 {
			return fmt.Errorf("%d still building", building)
		}
		return nil
	})
	var active, failed []string
	for _, id := range ids {
		if status[id] == "ACTIVE" {
			active = append(active, id)
		} else {
			failed = append(failed, id)
		}
	}
	t.Logf("%d creates: %d ACTIVE, %d ERROR after %s", total, len(active), len(failed), time.Since(start).Round(100*time.Millisecond))
	if len(active) != room || len(failed) != total-room {
		t.Fatalf("%d ACTIVE and %d ERROR, want %d and %d", len(active), len(failed), room, total-room)
	}

	// The five are real guests: each boots to its ready line.
	for _, id := range active {
		waitFor(t, 3*time.Minute, "server "+id+" boots", func() error {
			out, err := servers.ShowConsoleOutput(ctx, cc, id, servers.ShowConsoleOutputOpts{}).Extract()
			if err != nil || !strings.Contains(out, "KUMO-TINY READY") {
				return fmt.Errorf("console: %v", err)
			}
			return nil
		})
	}
	t.Logf("all %d guests ready after %s", len(active), time.Since(start).Round(100*time.Millisecond))

	// Placement holds exactly the running domains' resources.
	running := 0
	for _, id := range ids {
		st, _ := virsh("domstate", id)
		allocs := placementGet(t, c.Cloud, tok, "/allocations/"+id)["allocations"].(map[string]any)
		if status[id] == "ERROR" {
			if domainDefined(id) {
				t.Errorf("server %s in ERROR has a domain (%s)", id, st)
			}
			if len(allocs) != 0 {
				t.Errorf("server %s in ERROR holds allocations %v", id, allocs)
			}
			continue
		}
		if st == "running" {
			running++
		}
		res, _ := allocs[rp].(map[string]any)["resources"].(map[string]any)
		if len(allocs) != 1 || res["VCPU"] != float64(1) || res["MEMORY_MB"] != float64(96) || res["DISK_GB"] != float64(1) {
			t.Errorf("allocations of %s: %v", id, allocs)
		}
	}
	usages := placementGet(t, c.Cloud, tok, "/resource_providers/"+rp+"/usages")["usages"].(map[string]any)
	if running != room || usages["VCPU"] != float64(running) || usages["MEMORY_MB"] != float64(96*running) || usages["DISK_GB"] != float64(running) {
		t.Errorf("%d running domains, provider usages %v", running, usages)
	}

	deleteServers(t, cc, ids...)
	usages = placementGet(t, c.Cloud, tok, "/resource_providers/"+rp+"/usages")["usages"].(map[string]any)
	for rc, v := range usages {
		if v != float64(0) {
			t.Errorf("usage of %s after deleting everything: %v", rc, v)
		}
	}
	noLeftovers(t, c.StateDir, nil, ids...)
	ids = nil
	t.Logf("whole run: %s", time.Since(start).Round(100*time.Millisecond))
}
