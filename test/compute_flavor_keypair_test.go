package test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/quotasets"
	"github.com/gophercloud/gophercloud/v2/pagination"
	"golang.org/x/crypto/ssh"
)

// computeMaxVersion is the maximum microversion kumo announces.
const computeMaxVersion = "2.96"

// compute returns a compute v2.1 client for a provider, at microversion mv
// ("" for none: 2.1).
func compute(t testing.TB, pc *gophercloud.ProviderClient, mv string) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Microversion = mv
	return sc
}

// rawCompute sends a request to the compute API with the given headers and
// returns the status, headers and decoded body.
func rawCompute(t testing.TB, method, url, tok string, headers map[string]string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var r *strings.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = strings.NewReader(string(raw))
	} else {
		r = strings.NewReader("")
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("X-Auth-Token", tok)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func TestComputeVersionDocuments(t *testing.T) {
	c := sharedCloud(t)
	code, _, body := rawCompute(t, "GET", c.URL+"/compute", "", nil, nil)
	if code != 200 {
		t.Fatalf("GET /compute: %d %v", code, body)
	}
	vs, _ := body["versions"].([]any)
	if len(vs) != 2 {
		t.Fatalf("versions: %v", body)
	}
	v21 := vs[1].(map[string]any)
	if v21["id"] != "v2.1" || v21["status"] != "CURRENT" || v21["version"] != computeMaxVersion || v21["min_version"] != "2.1" {
		t.Errorf("v2.1 entry: %v", v21)
	}
	if v20 := vs[0].(map[string]any); v20["id"] != "v2.0" || v20["status"] != "SUPPORTED" {
		t.Errorf("v2.0 entry: %v", v20)
	}
	code, _, body = rawCompute(t, "GET", c.URL+"/compute/v2.1", "", nil, nil)
	v, _ := body["version"].(map[string]any)
	if code != 200 || v["id"] != "v2.1" || v["version"] != computeMaxVersion {
		t.Fatalf("GET /compute/v2.1: %d %v", code, body)
	}
	// Everything else needs a token.
	if code, _, body := rawCompute(t, "GET", c.URL+"/compute/v2.1/flavors", "", nil, nil); code != 401 {
		t.Fatalf("flavors without a token: %d %v", code, body)
	}
}

func TestComputeMicroversionNegotiation(t *testing.T) {
	c := sharedCloud(t)
	tok := c.AdminClient(t).Token()
	url := c.URL + "/compute/v2.1/flavors/1"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		status  int
		want    string
	}{
		{"no header is 2.1", nil, 200, "2.1"},
		{"nova header", map[string]string{"X-OpenStack-Nova-API-Version": "2.55"}, 200, "2.55"},
		{"generic header", map[string]string{"OpenStack-API-Version": "compute 2.61"}, 200, "2.61"},
		{"latest", map[string]string{"X-OpenStack-Nova-API-Version": "latest"}, 200, computeMaxVersion},
		{"generic latest", map[string]string{"OpenStack-API-Version": "compute latest"}, 200, computeMaxVersion},
		{"too new", map[string]string{"X-OpenStack-Nova-API-Version": "2.999"}, 406, ""},
		{"too old", map[string]string{"OpenStack-API-Version": "compute 2.0"}, 406, ""},
		{"malformed", map[string]string{"X-OpenStack-Nova-API-Version": "2.x"}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := rawCompute(t, "GET", url, tok, tc.headers, nil)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %v", code, tc.status, body)
			}
			if tc.status != 200 {
				if len(body) != 1 {
					t.Fatalf("error body %v", body)
				}
				for _, fault := range body {
					f, _ := fault.(map[string]any)
					if f["code"] != float64(tc.status) || f["message"] == "" {
						t.Fatalf("error body %v", body)
					}
				}
				return
			}
			if got := h.Get("X-OpenStack-Nova-API-Version"); got != tc.want {
				t.Errorf("X-OpenStack-Nova-API-Version = %q, want %q", got, tc.want)
			}
			if got := h.Get("OpenStack-API-Version"); got != "compute "+tc.want {
				t.Errorf("OpenStack-API-Version = %q, want compute %s", got, tc.want)
			}
			if vary := h.Get("Vary"); !strings.Contains(vary, "OpenStack-API-Version") || !strings.Contains(vary, "X-OpenStack-Nova-API-Version") {
				t.Errorf("Vary = %q", vary)
			}
			f := body["flavor"].(map[string]any)
			_, hasDesc := f["description"]
			_, hasSpecs := f["extra_specs"]
			if hasDesc != (tc.want != "2.1") || hasSpecs != (tc.want != "2.1" && tc.want != "2.55") {
				t.Errorf("at %s: description %v, extra_specs %v: %v", tc.want, hasDesc, hasSpecs, f)
			}
			wantSwap := any("")
			if tc.want == computeMaxVersion {
				wantSwap = float64(0)
			}
			if f["swap"] != wantSwap {
				t.Errorf("at %s swap = %#v, want %#v", tc.want, f["swap"], wantSwap)
			}
		})
	}
	// A route that appeared in 2.55 is not there before it.
	code, _, body := rawCompute(t, "PUT", url, tok, nil, map[string]any{"flavor": map[string]any{"description": "x"}})
	if code != 404 || body["itemNotFound"] == nil {
		t.Fatalf("PUT /flavors at 2.1: %d %v", code, body)
	}
}

func flavorNames(t *testing.T, sc *gophercloud.ServiceClient, opts flavors.ListOpts) []string {
	t.Helper()
	page := must[pagination.Page](t, "list flavors")(flavors.ListDetail(sc, opts).AllPages(t.Context()))
	fs := must[[]flavors.Flavor](t, "extract flavors")(flavors.ExtractFlavors(page))
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func TestComputeFlavors(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	nova := compute(t, c.AdminClient(t), "2.61")
	m := newMember(t, admin)
	memberNova := compute(t, c.Client(t, m.authOpts(c, m.Project.ID)), "2.61")

	defaults := flavorNames(t, memberNova, flavors.ListOpts{})
	for _, want := range []string{"m1.tiny", "m1.small", "m1.medium", "m1.large", "k1.nano"} {
		if !slices.Contains(defaults, want) {
			t.Errorf("default flavor %s missing from %v", want, defaults)
		}
	}
	nano := must[*flavors.Flavor](t, "get k1.nano")(flavors.Get(ctx, memberNova, "k1.nano").Extract())
	if nano.RAM != 96 || nano.VCPUs != 1 || nano.Disk != 1 || !nano.IsPublic {
		t.Errorf("k1.nano: %+v", nano)
	}

	shared := uniq("flavor-shared")
	hidden := uniq("flavor-hidden")
	priv := false
	f1 := must[*flavors.Flavor](t, "create flavor")(flavors.Create(ctx, nova, flavors.CreateOpts{
		Name: shared, RAM: 256, VCPUs: 2, Disk: ptr(3), Ephemeral: ptr(1), Swap: ptr(128), RxTxFactor: 1.5,
		IsPublic: &priv, Description: "shared with one project",
	}).Extract())
	t.Cleanup(func() { flavors.Delete(ctx, nova, f1.ID) })
	if f1.ID == "" || f1.RAM != 256 || f1.VCPUs != 2 || f1.Disk != 3 || f1.Ephemeral != 1 || f1.Swap != 128 ||
		f1.RxTxFactor != 1.5 || f1.IsPublic || f1.Description != "shared with one project" {
		t.Fatalf("created flavor: %+v", f1)
	}
	f2 := must[*flavors.Flavor](t, "create flavor")(flavors.Create(ctx, nova, flavors.CreateOpts{
		ID: hidden, Name: hidden, RAM: 128, VCPUs: 1, Disk: ptr(1), IsPublic: &priv,
	}).Extract())
	t.Cleanup(func() { flavors.Delete(ctx, nova, f2.ID) })
	if f2.ID != hidden {
		t.Fatalf("flavor id %q, want %q", f2.ID, hidden)
	}
	_, err := flavors.Create(ctx, nova, flavors.CreateOpts{Name: shared, RAM: 1, VCPUs: 1, Disk: ptr(0)}).Extract()
	wantStatus(t, err, 409, "duplicate flavor name")
	_, err = flavors.Create(ctx, memberNova, flavors.CreateOpts{Name: uniq("nope"), RAM: 1, VCPUs: 1, Disk: ptr(0)}).Extract()
	wantStatus(t, err, 403, "member creates a flavor")
	_, err = flavors.Create(ctx, nova, flavors.CreateOpts{Name: uniq("bad"), RAM: 0, VCPUs: 1, Disk: ptr(0)}).Extract()
	wantStatus(t, err, 400, "flavor with no RAM")

	t.Run("update description", func(t *testing.T) {
		f := must[*flavors.Flavor](t, "update")(flavors.Update(ctx, nova, f1.ID, flavors.UpdateOpts{Description: "new words"}).Extract())
		if f.Description != "new words" {
			t.Fatalf("description %q", f.Description)
		}
	})

	t.Run("extra specs", func(t *testing.T) {
		specs := must[map[string]string](t, "create specs")(flavors.CreateExtraSpecs(ctx, nova, f1.ID,
			flavors.ExtraSpecsOpts{"hw:cpu_policy": "dedicated", "kumo:note": "x"}).Extract())
		if len(specs) != 2 {
			t.Fatalf("created specs %v", specs)
		}
		must[map[string]string](t, "update spec")(flavors.UpdateExtraSpec(ctx, nova, f1.ID, flavors.ExtraSpecsOpts{"kumo:note": "y"}).Extract())
		got := must[map[string]string](t, "get spec")(flavors.GetExtraSpec(ctx, nova, f1.ID, "kumo:note").Extract())
		if got["kumo:note"] != "y" {
			t.Fatalf("spec %v", got)
		}
		all := must[map[string]string](t, "list specs")(flavors.ListExtraSpecs(ctx, nova, f1.ID).Extract())
		if len(all) != 2 || all["hw:cpu_policy"] != "dedicated" {
			t.Fatalf("specs %v", all)
		}
		// Embedded in the flavor from 2.61.
		f := must[*flavors.Flavor](t, "get")(flavors.Get(ctx, nova, f1.ID).Extract())
		if f.ExtraSpecs["kumo:note"] != "y" {
			t.Fatalf("embedded specs %v", f.ExtraSpecs)
		}
		if err := flavors.DeleteExtraSpec(ctx, nova, f1.ID, "kumo:note").ExtractErr(); err != nil {
			t.Fatal(err)
		}
		_, err := flavors.GetExtraSpec(ctx, nova, f1.ID, "kumo:note").Extract()
		wantStatus(t, err, 404, "deleted spec")
		_, err = flavors.CreateExtraSpecs(ctx, memberNova, "m1.tiny", flavors.ExtraSpecsOpts{"a": "b"}).Extract()
		wantStatus(t, err, 403, "member sets a spec")
		// From 2.86 known specs are validated.
		latest := compute(t, c.AdminClient(t), "2.86")
		_, err = flavors.CreateExtraSpecs(ctx, latest, f1.ID, flavors.ExtraSpecsOpts{"hw:cpu_policy": "fastest"}).Extract()
		wantStatus(t, err, 400, "invalid hw:cpu_policy at 2.86")
	})

	t.Run("access and visibility", func(t *testing.T) {
		if err := flavors.AddAccess(ctx, nova, f1.ID, flavors.AddAccessOpts{Tenant: m.Project.ID}).Err; err != nil {
			t.Fatal(err)
		}
		err := flavors.AddAccess(ctx, nova, f1.ID, flavors.AddAccessOpts{Tenant: m.Project.ID}).Err
		wantStatus(t, err, 409, "duplicate access")
		err = flavors.AddAccess(ctx, nova, "m1.tiny", flavors.AddAccessOpts{Tenant: m.Project.ID}).Err
		wantStatus(t, err, 404, "access to a public flavor by id m1.tiny") // m1.tiny's id is "1"
		err = flavors.AddAccess(ctx, nova, "1", flavors.AddAccessOpts{Tenant: m.Project.ID}).Err
		wantStatus(t, err, 409, "access to a public flavor")
		page := must[pagination.Page](t, "list access")(flavors.ListAccesses(nova, f1.ID).AllPages(ctx))
		acc := must[[]flavors.FlavorAccess](t, "extract access")(flavors.ExtractAccesses(page))
		if len(acc) != 1 || acc[0].TenantID != m.Project.ID || acc[0].FlavorID != f1.ID {
			t.Fatalf("access %+v", acc)
		}
		err = flavors.AddAccess(ctx, memberNova, f2.ID, flavors.AddAccessOpts{Tenant: m.Project.ID}).Err
		if err == nil || !(gophercloud.ResponseCodeIs(err, 403) || gophercloud.ResponseCodeIs(err, 404)) {
			t.Fatalf("member grants itself access: %v", err)
		}

		names := flavorNames(t, memberNova, flavors.ListOpts{})
		if !slices.Contains(names, shared) || slices.Contains(names, hidden) {
			t.Errorf("member sees %v: want %s and not %s", names, shared, hidden)
		}
		// A member cannot widen the listing with is_public.
		names = flavorNames(t, memberNova, flavors.ListOpts{AccessType: flavors.AllAccess})
		if slices.Contains(names, hidden) {
			t.Errorf("member with is_public=None sees %s", hidden)
		}
		if _, err := flavors.Get(ctx, memberNova, f1.ID).Extract(); err != nil {
			t.Errorf("member gets shared flavor: %v", err)
		}
		_, err = flavors.Get(ctx, memberNova, f2.ID).Extract()
		wantStatus(t, err, 404, "member gets a private flavor")

		adminPublic := flavorNames(t, nova, flavors.ListOpts{AccessType: flavors.PublicAccess})
		adminPrivate := flavorNames(t, nova, flavors.ListOpts{AccessType: flavors.PrivateAccess})
		adminAll := flavorNames(t, nova, flavors.ListOpts{AccessType: flavors.AllAccess})
		if slices.Contains(adminPublic, hidden) || !slices.Contains(adminPublic, "m1.tiny") {
			t.Errorf("admin is_public=true: %v", adminPublic)
		}
		if !slices.Contains(adminPrivate, hidden) || !slices.Contains(adminPrivate, shared) || slices.Contains(adminPrivate, "m1.tiny") {
			t.Errorf("admin is_public=false: %v", adminPrivate)
		}
		if !slices.Contains(adminAll, hidden) || !slices.Contains(adminAll, "m1.tiny") {
			t.Errorf("admin is_public=None: %v", adminAll)
		}

		if err := flavors.RemoveAccess(ctx, nova, f1.ID, flavors.RemoveAccessOpts{Tenant: m.Project.ID}).Err; err != nil {
			t.Fatal(err)
		}
		_, err = flavors.Get(ctx, memberNova, f1.ID).Extract()
		wantStatus(t, err, 404, "member gets a flavor no longer shared")
	})

	t.Run("filters, sorting and pagination", func(t *testing.T) {
		names := flavorNames(t, memberNova, flavors.ListOpts{MinRAM: 512})
		if !slices.Equal(names, []string{"m1.medium", "m1.large"}) {
			t.Errorf("minRam=512: %v", names)
		}
		names = flavorNames(t, memberNova, flavors.ListOpts{MinDisk: 5, SortKey: "memory_mb", SortDir: "desc"})
		if !slices.Equal(names, []string{"m1.large", "m1.medium"}) {
			t.Errorf("minDisk=5 by ram desc: %v", names)
		}
		// Pages of two, followed through flavors_links.
		var pages int
		var all []string
		err := flavors.ListDetail(memberNova, flavors.ListOpts{Limit: 2}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
			fs, err := flavors.ExtractFlavors(p)
			if err != nil {
				return false, err
			}
			pages++
			for _, f := range fs {
				all = append(all, f.Name)
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if pages < 3 || !slices.Equal(all, flavorNames(t, memberNova, flavors.ListOpts{})) {
			t.Errorf("paged listing over %d pages: %v", pages, all)
		}
		_, _, body := rawCompute(t, "GET", memberNova.ServiceURL("flavors")+"?marker=no-such-flavor", memberNova.Token(), nil, nil)
		if body["badRequest"] == nil {
			t.Errorf("bad marker: %v", body)
		}
	})

	if err := flavors.Delete(ctx, nova, f2.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	_, err = flavors.Get(ctx, nova, f2.ID).Extract()
	wantStatus(t, err, 404, "deleted flavor")
	wantStatus(t, flavors.Delete(ctx, nova, f2.ID).ExtractErr(), 404, "delete twice")
}

func TestComputeKeypairs(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	m := newMember(t, admin)
	pc := c.Client(t, m.authOpts(c, m.Project.ID))
	nova := compute(t, pc, "2.2")

	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]any{"ed25519": edPub, "rsa": &rsaKey.PublicKey} {
		t.Run("import "+name, func(t *testing.T) {
			sshPub, err := ssh.NewPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " test@kumo"
			kp := must[*keypairs.KeyPair](t, "import")(keypairs.Create(ctx, nova, keypairs.CreateOpts{Name: "imported-" + name, PublicKey: text}).Extract())
			if kp.Fingerprint != ssh.FingerprintLegacyMD5(sshPub) || kp.PublicKey != text || kp.PrivateKey != "" || kp.Type != "ssh" || kp.UserID != m.User.ID {
				t.Fatalf("imported %+v, want fingerprint %s", kp, ssh.FingerprintLegacyMD5(sshPub))
			}
			got := must[*keypairs.KeyPair](t, "get")(keypairs.Get(ctx, nova, kp.Name, keypairs.GetOpts{}).Extract())
			if got.Fingerprint != kp.Fingerprint || got.UserID != m.User.ID {
				t.Fatalf("get %+v", got)
			}
		})
	}
	_, err = keypairs.Create(ctx, nova, keypairs.CreateOpts{Name: "imported-rsa", PublicKey: "ssh-rsa AAAA"}).Extract()
	wantStatus(t, err, 400, "bad public key")
	_, err = keypairs.Create(ctx, nova, keypairs.CreateOpts{Name: "bad/name"}).Extract()
	wantStatus(t, err, 400, "unsafe name")

	t.Run("generate", func(t *testing.T) {
		kp := must[*keypairs.KeyPair](t, "generate")(keypairs.Create(ctx, nova, keypairs.CreateOpts{Name: "generated"}).Extract())
		signer, err := ssh.ParsePrivateKey([]byte(kp.PrivateKey))
		if err != nil {
			t.Fatalf("private key: %v", err)
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(kp.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if string(pub.Marshal()) != string(signer.PublicKey().Marshal()) || kp.Fingerprint != ssh.FingerprintLegacyMD5(pub) {
			t.Fatalf("generated key pair does not match: %+v", kp)
		}
		_, err = keypairs.Create(ctx, nova, keypairs.CreateOpts{Name: "generated"}).Extract()
		wantStatus(t, err, 409, "duplicate key name")
		// Generation went away in 2.92.
		_, err = keypairs.Create(ctx, compute(t, pc, "2.92"), keypairs.CreateOpts{Name: "late"}).Extract()
		wantStatus(t, err, 400, "generate at 2.92")
	})

	page := must[pagination.Page](t, "list")(keypairs.List(nova, nil).AllPages(ctx))
	kps := must[[]keypairs.KeyPair](t, "extract")(keypairs.ExtractKeyPairs(page))
	var names []string
	for _, k := range kps {
		names = append(names, k.Name)
	}
	if !slices.Equal(names, []string{"generated", "imported-ed25519", "imported-rsa"}) {
		t.Fatalf("key pairs %v", names)
	}

	t.Run("other users", func(t *testing.T) {
		// The admin has its own key pairs; the member's are invisible.
		adminNova := compute(t, c.AdminClient(t), "2.10")
		_, err := keypairs.Get(ctx, compute(t, c.AdminClient(t), "2.2"), "generated", keypairs.GetOpts{}).Extract()
		wantStatus(t, err, 404, "admin's own key named generated")
		kp := must[*keypairs.KeyPair](t, "admin reads the member's key")(keypairs.Get(ctx, adminNova, "generated", keypairs.GetOpts{UserID: m.User.ID}).Extract())
		if kp.UserID != m.User.ID {
			t.Fatalf("admin view %+v", kp)
		}
		other := newMember(t, admin)
		otherNova := compute(t, c.Client(t, other.authOpts(c, other.Project.ID)), "2.10")
		_, err = keypairs.Get(ctx, otherNova, "generated", keypairs.GetOpts{UserID: m.User.ID}).Extract()
		if err == nil {
			t.Fatal("another user read the member's key pair")
		}
	})

	t.Run("quota", func(t *testing.T) {
		adminNova := compute(t, c.AdminClient(t), "")
		_, err := quotasets.Update(ctx, adminNova, m.Project.ID, quotasets.UpdateOpts{KeyPairs: ptr(3)}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		_, err = keypairs.Create(ctx, nova, keypairs.CreateOpts{Name: "one-too-many"}).Extract()
		wantStatus(t, err, 403, "fourth key pair with key_pairs=3")
		lim := must[*limits.Limits](t, "limits")(limits.Get(ctx, compute(t, pc, ""), nil).Extract())
		if lim.Absolute.MaxTotalKeypairs != 3 {
			t.Errorf("maxTotalKeypairs %d, want 3", lim.Absolute.MaxTotalKeypairs)
		}
	})

	for _, name := range names {
		if err := keypairs.Delete(ctx, nova, name, keypairs.DeleteOpts{}).ExtractErr(); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	wantStatus(t, keypairs.Delete(ctx, nova, "generated", keypairs.DeleteOpts{}).ExtractErr(), 404, "delete twice")
}

func TestComputeLimitsAndQuotaSets(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	m := newMember(t, admin)
	memberNova := compute(t, c.Client(t, m.authOpts(c, m.Project.ID)), "")
	adminNova := compute(t, c.AdminClient(t), "")

	lim := must[*limits.Limits](t, "limits")(limits.Get(ctx, memberNova, nil).Extract())
	a := lim.Absolute
	if a.MaxTotalInstances != 10 || a.MaxTotalCores != 20 || a.MaxTotalRAMSize != 51200 || a.MaxTotalKeypairs != 100 ||
		a.MaxServerMeta != 128 || a.MaxServerGroups != 10 || a.MaxServerGroupMembers != 10 || a.TotalInstancesUsed != 0 {
		t.Errorf("default limits %+v", a)
	}

	code, _, body := rawCompute(t, "GET", memberNova.ServiceURL("os-quota-sets", m.Project.ID, "defaults"), memberNova.Token(), nil, nil)
	defaults, _ := body["quota_set"].(map[string]any)
	if code != 200 || defaults["instances"] != float64(10) || defaults["cores"] != float64(20) || defaults["ram"] != float64(51200) ||
		defaults["key_pairs"] != float64(100) || defaults["metadata_items"] != float64(128) || defaults["id"] != m.Project.ID {
		t.Errorf("defaults %d %v", code, body)
	}
	qs := must[*quotasets.QuotaSet](t, "update")(quotasets.Update(ctx, adminNova, m.Project.ID, quotasets.UpdateOpts{Instances: ptr(7), Cores: ptr(-1)}).Extract())
	if qs.Instances != 7 || qs.Cores != -1 {
		t.Errorf("updated %+v", qs)
	}
	got := must[*quotasets.QuotaSet](t, "get")(quotasets.Get(ctx, memberNova, m.Project.ID).Extract())
	if got.Instances != 7 || got.Cores != -1 || got.RAM != 51200 || got.ID != m.Project.ID {
		t.Errorf("member reads %+v", got)
	}
	detail := must[quotasets.QuotaDetailSet](t, "detail")(quotasets.GetDetail(ctx, memberNova, m.Project.ID).Extract())
	if detail.Instances.Limit != 7 || detail.Instances.InUse != 0 {
		t.Errorf("detail %+v", detail.Instances)
	}
	lim = must[*limits.Limits](t, "limits")(limits.Get(ctx, memberNova, nil).Extract())
	if lim.Absolute.MaxTotalInstances != 7 || lim.Absolute.MaxTotalCores != -1 {
		t.Errorf("limits after update %+v", lim.Absolute)
	}
	lim = must[*limits.Limits](t, "admin limits of the project")(limits.Get(ctx, adminNova, limits.GetOpts{TenantID: m.Project.ID}).Extract())
	if lim.Absolute.MaxTotalInstances != 7 {
		t.Errorf("admin reads limits of the project: %+v", lim.Absolute)
	}

	_, err := quotasets.Update(ctx, memberNova, m.Project.ID, quotasets.UpdateOpts{Instances: ptr(100)}).Extract()
	wantStatus(t, err, 403, "member raises its quota")
	other := newMember(t, admin)
	_, err = quotasets.Get(ctx, compute(t, c.Client(t, other.authOpts(c, other.Project.ID)), ""), m.Project.ID).Extract()
	wantStatus(t, err, 404, "another project's quota set")
	_, err = quotasets.Update(ctx, adminNova, m.Project.ID, quotasets.UpdateOpts{Instances: ptr(-2)}).Extract()
	wantStatus(t, err, 400, "limit below -1")

	if err := quotasets.Delete(ctx, adminNova, m.Project.ID).Err; err != nil {
		t.Fatal(err)
	}
	got = must[*quotasets.QuotaSet](t, "get after delete")(quotasets.Get(ctx, memberNova, m.Project.ID).Extract())
	if got.Instances != 10 || got.Cores != 20 {
		t.Errorf("after delete %+v", got)
	}
}

func TestComputeAvailabilityZonesAndExtensions(t *testing.T) {
	c, admin := adminIdentity(t)
	ctx := t.Context()
	m := newMember(t, admin)
	memberNova := compute(t, c.Client(t, m.authOpts(c, m.Project.ID)), "")
	page := must[pagination.Page](t, "zones")(availabilityzones.List(memberNova).AllPages(ctx))
	zones := must[[]availabilityzones.AvailabilityZone](t, "extract")(availabilityzones.ExtractAvailabilityZones(page))
	if len(zones) != 1 || zones[0].ZoneName != "nova" || !zones[0].ZoneState.Available {
		t.Fatalf("zones %+v", zones)
	}
	_, err := availabilityzones.ListDetail(memberNova).AllPages(ctx)
	wantStatus(t, err, 403, "member lists zone details")
	page = must[pagination.Page](t, "zone details")(availabilityzones.ListDetail(compute(t, c.AdminClient(t), "")).AllPages(ctx))
	zones = must[[]availabilityzones.AvailabilityZone](t, "extract")(availabilityzones.ExtractAvailabilityZones(page))
	var nova *availabilityzones.AvailabilityZone
	for i := range zones {
		if zones[i].ZoneName == "nova" {
			nova = &zones[i]
		}
	}
	if nova == nil || len(nova.Hosts) == 0 {
		t.Fatalf("zone details %+v", zones)
	}
	for host, svcs := range nova.Hosts {
		if s, ok := svcs["nova-compute"]; !ok || !s.Available {
			t.Errorf("host %s services %+v", host, svcs)
		}
	}
	code, _, body := rawCompute(t, "GET", memberNova.ServiceURL("extensions"), memberNova.Token(), nil, nil)
	if exts, ok := body["extensions"].([]any); code != 200 || !ok || len(exts) != 0 {
		t.Fatalf("extensions: %d %v", code, body)
	}
}
