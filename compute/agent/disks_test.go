package agent

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/revert"
)

// probe returns blkid's TYPE and LABEL of a qcow2 disk's content.
func probe(t *testing.T, path string) (typ, label string) {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "probe.raw")
	if out, err := exec.Command("qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v: %s", err, out)
	}
	get := func(tag string) string {
		out, _ := exec.Command("blkid", "-p", "-o", "value", "-s", tag, raw).Output()
		return strings.TrimSpace(string(out))
	}
	return get("TYPE"), get("LABEL")
}

// imgInfo is what qemu-img reports of a disk: virtual size, format and
// backing file.
func imgInfo(t *testing.T, path string) (size int64, format, backing string) {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var info struct {
		VirtualSize int64  `json:"virtual-size"`
		Format      string `json:"format"`
		Backing     string `json:"backing-filename"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.VirtualSize, info.Format, info.Backing
}

func TestFlavorDisks(t *testing.T) {
	root := hypervisor.DiskSpec{Path: "disk", Format: hypervisor.FormatQCOW2, Bus: hypervisor.BusVirtio, Device: hypervisor.DeviceDisk, Target: "vda", BootIndex: 1}
	cdrom := hypervisor.DiskSpec{Path: "disk.config", Format: hypervisor.FormatRaw, Bus: hypervisor.BusIDE, Device: hypervisor.DeviceCDROM, Target: "hdd"}
	type disk struct {
		name, target, typ, label string
		size                     int64
	}
	for _, tt := range []struct {
		name            string
		ephemeral, swap int
		want            []disk
	}{
		{"none", 0, 0, nil},
		{"ephemeral and swap", 1, 64, []disk{{"disk.eph0", "vdb", "ext4", "ephemeral0", 1 << 30}, {"disk.swap", "vdc", "swap", "", 64 << 20}}},
		{"swap only", 0, 32, []disk{{"disk.swap", "vdb", "swap", "", 32 << 20}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			undo := revert.New()
			in := store.Instance{EphemeralGB: tt.ephemeral, Swap: tt.swap}
			if err := createFlavorDisks(context.Background(), undo, dir, in); err != nil {
				t.Fatal(err)
			}
			got := withFlavorDisks(dir, in, []hypervisor.DiskSpec{root, cdrom})
			if len(got) != len(tt.want)+2 || got[0] != root || got[len(got)-1] != cdrom {
				t.Fatalf("disks %+v: want root, %d flavor disks, config drive", got, len(tt.want))
			}
			for i, w := range tt.want {
				d := got[i+1]
				if err := d.Validate(); err != nil {
					t.Error(err)
				}
				if d.Path != filepath.Join(dir, w.name) || d.Target != w.target || d.Bus != hypervisor.BusVirtio ||
					d.Format != hypervisor.FormatQCOW2 || d.Device != hypervisor.DeviceDisk || d.BootIndex != 0 {
					t.Errorf("disk %d: %+v, want %s on %s", i+1, d, w.name, w.target)
				}
				if size, format, _ := imgInfo(t, d.Path); size != w.size || format != "qcow2" {
					t.Errorf("%s: %s of %d bytes, want qcow2 of %d", w.name, format, size, w.size)
				}
				if typ, label := probe(t, d.Path); typ != w.typ || label != w.label {
					t.Errorf("%s: type %q label %q, want %q %q", w.name, typ, label, w.typ, w.label)
				}
			}
			// Only the disks remain in the directory (no raw scratch files),
			// and the undo stack removes them.
			ents, _ := os.ReadDir(dir)
			if len(ents) != len(tt.want) {
				t.Errorf("directory holds %d files, want %d", len(ents), len(tt.want))
			}
			if err := undo.Fail(context.Background()); err != nil {
				t.Fatal(err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("after undo the directory holds %v", ents)
			}
		})
	}
}

func TestFlavorDisksFailure(t *testing.T) {
	// A directory that does not exist: the first disk fails, and the
	// error names it.
	err := createFlavorDisks(context.Background(), revert.New(), filepath.Join(t.TempDir(), "gone"), store.Instance{EphemeralGB: 1})
	if err == nil || !strings.Contains(err.Error(), "disk.eph0") {
		t.Errorf("error %v, want one naming disk.eph0", err)
	}
}
