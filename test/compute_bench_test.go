package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	tokens3 "github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/nats-io/nats.go"
)

// fakeHypervisorCloud starts a private all-in-one whose compute agent
// drives libvirt's test:///default driver, so the hypervisor costs nothing
// and what is measured is kumo's control plane. It returns the cloud and
// its NATS address.
//
// The compute benchmarks never reset their timer: setup counts, so one
// iteration already exceeds -benchtime and the expensive setup is not
// repeated by the b.N sweep; they report their own figures.
func fakeHypervisorCloud(b *testing.B) (*Cloud, string) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := startPrivateCloud(b, func() {}, "--libvirt-uri", "test:///default", "--virt-type", "qemu", "--nats-listen", addr, "--log-level", "warn")
	return p.Cloud, addr
}

// projectOf is the project a provider's token is scoped to.
func projectOf(b testing.TB, pc *gophercloud.ProviderClient) string {
	b.Helper()
	r, ok := pc.GetAuthResult().(tokens3.CreateResult)
	if !ok {
		b.Fatalf("auth result %T", pc.GetAuthResult())
	}
	p, err := r.ExtractProject()
	if err != nil || p == nil {
		b.Fatalf("token project: %v", err)
	}
	return p.ID
}

// unlimitedQuota lifts the instance, core and RAM limits of the
// provider's project.
func unlimitedQuota(b testing.TB, pc *gophercloud.ProviderClient) {
	b.Helper()
	cc := compute(b, pc, "")
	if _, err := quotasets.Update(context.Background(), cc, projectOf(b, pc),
		quotasets.UpdateOpts{Instances: ptr(-1), Cores: ptr(-1), RAM: ptr(-1)}).Extract(); err != nil {
		b.Fatalf("quota: %v", err)
	}
}

// smallImage uploads an empty 64 MiB qcow2 as a public image.
func smallImage(b testing.TB, pc *gophercloud.ProviderClient) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "small.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, "64M").CombinedOutput(); err != nil {
		b.Fatalf("qemu-img: %v: %s", err, out)
	}
	ic := imageClient(b, pc)
	img := createImage(b, ic, images.CreateOpts{ContainerFormat: "bare", DiskFormat: "qcow2"})
	if err := uploadFile(b, ic, img.ID, path); err != nil {
		b.Fatal(err)
	}
	return img.ID
}

// percentile is the p-th percentile (0..1) of sorted durations, in seconds.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))].Seconds()
}

// BenchmarkComputeControlPlane measures, on the test:///default hypervisor,
// the time from sending POST /servers to the compute agent's "active"
// event (published right after the domain-create call returned and the
// state was stored): API, quota, scheduling, placement claim, the durable
// hand-off to the agent, the disk overlay, the config drive and the
// define+start calls. It reports p50-ms and p99-ms over 60 servers created
// one at a time (each deleted before the next).
func BenchmarkComputeControlPlane(b *testing.B) {
	c, natsAddr := fakeHypervisorCloud(b)
	pc := c.AdminClient(b)
	cc := compute(b, pc, "")
	imageID := smallImage(b, pc)
	flavorID := testFlavor(b, cc, 64, 1, 1)
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	events := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe("kumo.events.compute.server.*", events)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx := context.Background()
	wait := func(id, action string) error {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case m := <-events:
				if strings.HasSuffix(m.Subject, "."+action) && strings.Contains(string(m.Data), id) {
					return nil
				}
				if strings.HasSuffix(m.Subject, ".error") && strings.Contains(string(m.Data), id) {
					s, _ := servers.Get(ctx, cc, id).Extract()
					return fmt.Errorf("server %s went to ERROR: %+v", id, s)
				}
			case <-timeout:
				s, err := servers.Get(ctx, cc, id).Extract()
				return fmt.Errorf("no %s event for %s (server %+v, %v)\n%s", action, id, s, err, c.k.stderr)
			}
		}
	}
	const n = 60
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		lat = lat[:0]
		for j := 0; j < n; j++ {
			start := time.Now()
			s, err := servers.Create(ctx, cc, servers.CreateOpts{Name: fmt.Sprintf("cp-%d", j), ImageRef: imageID,
				FlavorRef: flavorID, Networks: "none"}, nil).Extract()
			if err != nil {
				b.Fatal(err)
			}
			if err := wait(s.ID, "active"); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
			if err := servers.Delete(ctx, cc, s.ID).ExtractErr(); err != nil {
				b.Fatal(err)
			}
			if err := wait(s.ID, "delete"); err != nil {
				b.Fatal(err)
			}
		}
	}
	p50, p99 := percentile(lat, 0.5)*1000, percentile(lat, 0.99)*1000
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	b.Logf("BENCH compute control plane (POST /servers to domain created, test:///default, n=%d): p50 %.1f ms, p99 %.1f ms", n, p50, p99)
}

// BenchmarkComputeServersDetail1000 times GET /servers/detail with 1,000
// servers of the project in the database (they failed scheduling, so they
// hold no host resources; the view is the same). It reports p50-ms and
// p95-ms over 50 requests.
func BenchmarkComputeServersDetail1000(b *testing.B) {
	c, _ := fakeHypervisorCloud(b)
	pc := c.AdminClient(b)
	unlimitedQuota(b, pc)
	cc := compute(b, pc, "")
	tok := pc.Token()
	url := c.URL + "/compute/v2.1/servers/detail"
	_, _, body := rawCompute(b, "GET", url+"?limit=1000", tok, nil, nil)
	have := len(body["servers"].([]any))
	if have < 1000 {
		imageID := smallImage(b, pc)
		flavorID := testFlavor(b, cc, 64, 1, 1000000)
		ctx := context.Background()
		work := make(chan int)
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range work {
					_, err := servers.Create(ctx, cc, servers.CreateOpts{Name: fmt.Sprintf("detail-%04d", j), ImageRef: imageID,
						FlavorRef: flavorID, Networks: "none", Metadata: map[string]string{"k": "v"}}, nil).Extract()
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			}()
		}
		start := time.Now()
		for j := have; j < 1000; j++ {
			work <- j
		}
		close(work)
		wg.Wait()
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
		b.Logf("created %d servers in %s", 1000-have, time.Since(start).Round(time.Millisecond))
	}
	const gets = 50
	var lat, raw []time.Duration
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Auth-Token", tok)
	for i := 0; i < b.N; i++ {
		for j := 0; j < gets; j++ {
			start := time.Now()
			code, _, out := rawCompute(b, "GET", url, tok, nil, nil)
			lat = append(lat, time.Since(start))
			if list, _ := out["servers"].([]any); code != 200 || len(list) != 1000 {
				b.Fatalf("GET /servers/detail: %d, %d servers", code, len(list))
			}
			// The same request with the body read but not decoded: the
			// server's time plus the transfer.
			start = time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			raw = append(raw, time.Since(start))
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("GET /servers/detail: %d %v", resp.StatusCode, err)
			}
		}
	}
	p50, p95 := percentile(lat, 0.5)*1000, percentile(lat, 0.95)*1000
	r50, r95 := percentile(raw, 0.5)*1000, percentile(raw, 0.95)*1000
	b.ReportMetric(r50, "p50-ms")
	b.ReportMetric(r95, "p95-ms")
	b.ReportMetric(p50, "decoded-p50-ms")
	b.Logf("BENCH GET /servers/detail with 1000 servers: response read p50 %.1f ms, p95 %.1f ms; with the client's JSON decode into maps p50 %.1f ms, p95 %.1f ms",
		r50, r95, p50, p95)
}

// BenchmarkComputeBootDelete boots and deletes real kumo-tiny VMs under
// TCG on the shared cloud, at concurrency 1 (3 VMs) and 4 (8 VMs), and
// reports median and p95 seconds from POST to ACTIVE, to the guest's
// READY line, and for the whole boot-and-delete (POST to 404 after
// DELETE, as Rally's boot-and-delete scenario times it).
func BenchmarkComputeBootDelete(b *testing.B) {
	c := sharedCloud(b)
	pc := c.AdminClient(b)
	cc := compute(b, pc, "")
	imageID := tinyServerImage(b, c, pc)
	flavorID := testFlavor(b, cc, 128, 1, 1)
	ctx := context.Background()
	type sample struct{ active, ready, total time.Duration }
	one := func(name string) (sample, error) {
		var s sample
		start := time.Now()
		srv, err := servers.Create(ctx, cc, servers.CreateOpts{Name: name, ImageRef: imageID, FlavorRef: flavorID, Networks: "none"}, nil).Extract()
		if err != nil {
			return s, err
		}
		defer servers.Delete(context.WithoutCancel(ctx), cc, srv.ID)
		for s.active == 0 || s.ready == 0 {
			if time.Since(start) > 4*time.Minute {
				return s, fmt.Errorf("%s not ready after 4 minutes", name)
			}
			if s.active == 0 {
				got, err := servers.Get(ctx, cc, srv.ID).Extract()
				if err != nil {
					return s, err
				}
				if got.Status == "ERROR" {
					return s, fmt.Errorf("%s: ERROR %+v", name, got.Fault)
				}
				if got.Status == "ACTIVE" {
					s.active = time.Since(start)
				}
			} else {
				out, err := servers.ShowConsoleOutput(ctx, cc, srv.ID, servers.ShowConsoleOutputOpts{Length: 50}).Extract()
				if err == nil && strings.Contains(out, "KUMO-TINY READY") {
					s.ready = time.Since(start)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := servers.Delete(ctx, cc, srv.ID).ExtractErr(); err != nil {
			return s, err
		}
		for {
			_, err := servers.Get(ctx, cc, srv.ID).Extract()
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				break
			}
			if time.Since(start) > 5*time.Minute {
				return s, fmt.Errorf("%s not deleted", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
		s.total = time.Since(start)
		return s, nil
	}
	for i := 0; i < b.N; i++ {
		for _, run := range []struct{ conc, vms int }{{1, 3}, {4, 8}} {
			var mu sync.Mutex
			var act, rdy, tot []time.Duration
			var firstErr error
			next := make(chan int)
			var wg sync.WaitGroup
			for w := 0; w < run.conc; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range next {
						s, err := one(fmt.Sprintf("bench-c%d-%d", run.conc, j))
						mu.Lock()
						if err != nil && firstErr == nil {
							firstErr = err
						}
						if err == nil {
							act, rdy, tot = append(act, s.active), append(rdy, s.ready), append(tot, s.total)
						}
						mu.Unlock()
					}
				}()
			}
			for j := 0; j < run.vms; j++ {
				next <- j
			}
			close(next)
			wg.Wait()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
			unit := fmt.Sprintf("-c%d-s", run.conc)
			b.ReportMetric(percentile(act, 0.5), "active-p50"+unit)
			b.ReportMetric(percentile(rdy, 0.5), "ready-p50"+unit)
			b.ReportMetric(percentile(tot, 0.5), "bootdelete-p50"+unit)
			b.ReportMetric(percentile(tot, 0.95), "bootdelete-p95"+unit)
			b.Logf("BENCH boot-and-delete TCG concurrency %d (%d VMs): to ACTIVE p50 %.1f s p95 %.1f s; to READY p50 %.1f s p95 %.1f s; boot+delete p50 %.1f s p95 %.1f s",
				run.conc, run.vms, percentile(act, 0.5), percentile(act, 0.95), percentile(rdy, 0.5), percentile(rdy, 0.95),
				percentile(tot, 0.5), percentile(tot, 0.95))
		}
	}
}
