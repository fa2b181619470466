package configdrive

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testUUID = "3c6e1f5a-8b2d-4e7f-9a10-6f1a6c4e2f4b"

func minimalDrive() Drive {
	return Drive{
		Meta:       Metadata{UUID: testUUID, Name: "tiny", Hostname: "tiny", AvailabilityZone: "nova"},
		RandomSeed: []byte("kumo-test-seed"),
	}
}

func fullDrive() Drive {
	return Drive{
		Meta: Metadata{
			UUID:             testUUID,
			Name:             "web <1> & co",
			Hostname:         "web-1",
			AvailabilityZone: "zone-a",
			ProjectID:        "9a8b7c6d5e4f4a3b2c1d0e9f8a7b6c5d",
			PublicKeys: map[string]string{
				"laptop": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkumotestkey0000000000000000000000000000000 me@laptop\n",
				"ci":     "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCkumo ci&cd",
			},
			Meta:        map[string]string{"role": "web", "hostname": "not-this-one"},
			LaunchIndex: 2,
		},
		UserData: []byte("#!/bin/sh\necho hello\n"),
		Network: &NetworkData{
			Links:    []Link{{ID: "tap1a2b3c4d-5e", VIFID: "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d", Type: "bridge", MTU: 1450, MAC: "FA:16:3E:00:00:01"}},
			Networks: []Network{{ID: "network0", Type: NetworkIPv4DHCP, Link: "tap1a2b3c4d-5e", NetworkID: "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a"}},
			Services: []Service{{Type: "dns", Address: "10.0.0.2"}},
		},
		VendorData: map[string]any{"cloud": "kumo", "motd": []string{"hi"}},
		RandomSeed: []byte("kumo-test-seed"),
	}
}

// render lays out every file of a drive in path order, for golden files.
func render(files map[string][]byte) []byte {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		b.WriteString("== " + p + "\n")
		b.Write(files[p])
		b.WriteString("\n")
	}
	return b.Bytes()
}

func TestFilesGolden(t *testing.T) {
	tests := []struct {
		name  string
		drive Drive
	}{
		{name: "minimal", drive: minimalDrive()},
		{name: "full", drive: fullDrive()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := tt.drive.Files()
			if err != nil {
				t.Fatal(err)
			}
			for p, data := range files {
				if strings.HasSuffix(p, ".json") && !json.Valid(data) {
					t.Errorf("%s is not valid JSON: %s", p, data)
				}
			}
			got := render(files)
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("files differ from %s (run with -update if intended):\n%s", golden, got)
			}
		})
	}
}

func TestFilesPerVersion(t *testing.T) {
	files, err := fullDrive().Files()
	if err != nil {
		t.Fatal(err)
	}
	has := func(p string) bool { _, ok := files[p]; return ok }
	tests := []struct {
		version                      string
		vendor, network, vendor2     bool
		seed, project, devices, cpus bool
	}{
		{version: "2012-08-10"},
		{version: "2013-04-04", seed: true},
		{version: "2013-10-17", seed: true, vendor: true},
		{version: "2015-10-15", seed: true, vendor: true, network: true, project: true},
		{version: "2016-06-30", seed: true, vendor: true, network: true, project: true, devices: true},
		{version: "2016-10-06", seed: true, vendor: true, network: true, project: true, devices: true, vendor2: true},
		{version: "2020-10-14", seed: true, vendor: true, network: true, project: true, devices: true, vendor2: true, cpus: true},
		{version: "latest", seed: true, vendor: true, network: true, project: true, devices: true, vendor2: true, cpus: true},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			dir := "openstack/" + tt.version + "/"
			for file, want := range map[string]bool{
				"meta_data.json": true, "user_data": true, "vendor_data.json": tt.vendor,
				"network_data.json": tt.network, "vendor_data2.json": tt.vendor2,
			} {
				if has(dir+file) != want {
					t.Errorf("%s%s present = %v, want %v", dir, file, !want, want)
				}
			}
			var md map[string]any
			if err := json.Unmarshal(files[dir+"meta_data.json"], &md); err != nil {
				t.Fatal(err)
			}
			for key, want := range map[string]bool{
				"uuid": true, "hostname": true, "public_keys": true, "keys": true, "meta": true,
				"random_seed": tt.seed, "project_id": tt.project, "devices": tt.devices, "dedicated_cpus": tt.cpus,
			} {
				if _, ok := md[key]; ok != want {
					t.Errorf("meta_data.json key %s present = %v, want %v", key, ok, want)
				}
			}
		})
	}
	if string(files["openstack/latest/user_data"]) != "#!/bin/sh\necho hello\n" {
		t.Errorf("user_data = %q", files["openstack/latest/user_data"])
	}
}

func TestFilesRandomSeedDefault(t *testing.T) {
	d := minimalDrive()
	d.RandomSeed = nil
	a, err := d.Files()
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Files()
	if err != nil {
		t.Fatal(err)
	}
	var ma, mb map[string]any
	json.Unmarshal(a["openstack/latest/meta_data.json"], &ma)
	json.Unmarshal(b["openstack/latest/meta_data.json"], &mb)
	sa, _ := ma["random_seed"].(string)
	if len(sa) != 684 || sa == mb["random_seed"] {
		t.Errorf("random_seed should be 512 fresh random bytes in base64, got %d chars (same twice: %v)", len(sa), sa == mb["random_seed"])
	}
}

func TestFilesRejectsInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Drive)
		want   string
	}{
		{"no uuid", func(d *Drive) { d.Meta.UUID = "" }, "UUID"},
		{"no hostname", func(d *Drive) { d.Meta.Hostname = "" }, "Hostname"},
		{"empty key", func(d *Drive) { d.Meta.PublicKeys = map[string]string{"k": " "} }, `public key "k"`},
		{"bad mac", func(d *Drive) { d.Network.Links[0].MAC = "nope" }, "bad MAC"},
		{"unknown link", func(d *Drive) { d.Network.Networks[0].Link = "tapX" }, "unknown link"},
		{"static without ip", func(d *Drive) { d.Network.Networks[0].Type = NetworkIPv4 }, "needs an ip_address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fullDrive()
			tt.mutate(&d)
			_, err := d.Files()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Files() error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestWriteISO(t *testing.T) {
	for _, tool := range []string{"genisoimage", "isoinfo", "blkid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (deploy/host-setup.sh installs it)", tool)
		}
	}
	d := fullDrive()
	path := filepath.Join(t.TempDir(), "disk.config")
	if err := d.WriteISO(context.Background(), path); err != nil {
		t.Fatal(err)
	}

	info, err := exec.Command("isoinfo", "-d", "-i", path).CombinedOutput()
	if err != nil {
		t.Fatalf("isoinfo -d: %v\n%s", err, info)
	}
	for _, want := range []string{"Volume id: config-2", "Joliet", "Rock Ridge"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("isoinfo -d lacks %q:\n%s", want, info)
		}
	}
	label, err := exec.Command("blkid", "-p", "-o", "value", "-s", "LABEL", path).Output()
	if err != nil || strings.TrimSpace(string(label)) != VolumeLabel {
		t.Errorf("blkid LABEL = %q (%v), want %s", label, err, VolumeLabel)
	}

	// Rock Ridge keeps the lower-case names cloud-init opens.
	files, err := d.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"openstack/latest/meta_data.json", "openstack/latest/user_data", "openstack/2012-08-10/meta_data.json"} {
		got, err := exec.Command("isoinfo", "-R", "-x", "/"+p, "-i", path).Output()
		if err != nil {
			t.Fatalf("isoinfo -x %s: %v", p, err)
		}
		if !bytes.Equal(got, files[p]) {
			t.Errorf("%s on the ISO = %q, want %q", p, got, files[p])
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("WriteISO left temporary files: %v", entries)
	}
}

func TestWriteISOWithoutTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	path := filepath.Join(t.TempDir(), "disk.config")
	err := minimalDrive().WriteISO(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "genisoimage not found") {
		t.Fatalf("WriteISO error = %v, want genisoimage not found", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed WriteISO", path)
	}
}

func TestWriteISOInvalidDrive(t *testing.T) {
	d := minimalDrive()
	d.Meta.UUID = ""
	path := filepath.Join(t.TempDir(), "disk.config")
	if err := d.WriteISO(context.Background(), path); err == nil {
		t.Fatal("WriteISO accepted a drive without UUID")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Errorf("failed WriteISO left %v", entries)
	}
}
