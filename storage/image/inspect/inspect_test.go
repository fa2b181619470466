package inspect

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{qemuImgBin, prlimitBin}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// qemuCreate makes an image with qemu-img create and returns its path.
func qemuCreate(t *testing.T, dir, name, format, size string, extra ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	args := append([]string{"create", "-q", "-f", format}, extra...)
	run(t, qemuImgBin, append(args, p, size)...)
	return p
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspect(t *testing.T) {
	requireTools(t, "genisoimage")
	dir := t.TempDir()
	ctx := context.Background()

	qcow2 := qemuCreate(t, dir, "plain.qcow2", "qcow2", "1G")
	raw := qemuCreate(t, dir, "plain.raw", "raw", "16M")
	isoSrc := filepath.Join(dir, "isosrc")
	if err := os.Mkdir(isoSrc, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, isoSrc, "hello.txt", []byte("hello\n"))
	iso := filepath.Join(dir, "disc.iso")
	run(t, "genisoimage", "-quiet", "-o", iso, isoSrc)

	backing := qemuCreate(t, dir, "backing.qcow2", "qcow2", "1G", "-u", "-b", "/etc/passwd", "-F", "raw")
	dataFile := qemuCreate(t, dir, "datafile.qcow2", "qcow2", "64M", "-o", "data_file="+filepath.Join(dir, "external.raw"))
	// A file whose name and declared format say raw but which is a qcow2.
	qcow2Bytes, err := os.ReadFile(qcow2)
	if err != nil {
		t.Fatal(err)
	}
	fakeRaw := writeFile(t, dir, "disk.img", qcow2Bytes)
	// The same for a qcow2 header pointing at a backing file.
	backingBytes, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	backingAsRaw := writeFile(t, dir, "backing.img", backingBytes)

	flatVMDK := qemuCreate(t, dir, "flat.vmdk", "vmdk", "16M", "-o", "subformat=monolithicFlat")
	descriptor := writeFile(t, dir, "desc.vmdk", []byte(`# Disk DescriptorFile
version=1
CID=12345678
parentCID=ffffffff
createType="monolithicFlat"

RW 4 FLAT "/etc/passwd" 0

ddb.virtualHWVersion = "4"
`))
	// No comment line and a lying create type: qemu still probes it as vmdk.
	bareDescriptor := writeFile(t, dir, "bare.vmdk", []byte("\n  version=1\ncreateType=\"monolithicSparse\"\nRW 4 FLAT \"/etc/passwd\" 0\n"))
	twoGb := qemuCreate(t, dir, "split.vmdk", "vmdk", "16M", "-o", "subformat=twoGbMaxExtentSparse")
	sparseVMDK := qemuCreate(t, dir, "sparse.vmdk", "vmdk", "16M")
	streamVMDK := qemuCreate(t, dir, "stream.vmdk", "vmdk", "16M", "-o", "subformat=streamOptimized")
	vdi := qemuCreate(t, dir, "disk.vdi", "vdi", "16M")
	vhd := qemuCreate(t, dir, "disk.vhd", "vpc", "16M")
	vhdx := qemuCreate(t, dir, "disk.vhdx", "vhdx", "16M")
	huge := qemuCreate(t, dir, "huge.qcow2", "qcow2", "64T")
	garbage := writeFile(t, dir, "garbage.qcow2", append([]byte("QFI\xfbnot really a qcow2 header"), bytes.Repeat([]byte{0xa5}, 8192)...))
	empty := writeFile(t, dir, "empty.qcow2", nil)
	corrupt := qemuCreate(t, dir, "corrupt.qcow2", "qcow2", "64M")
	setQcow2Incompat(t, corrupt, 1<<1) // the "corrupt" incompatible feature bit

	tests := []struct {
		name       string
		path       string
		diskFormat string
		lim        Limits
		want       Result // checked when refused is empty
		refused    string // substring of the reason; "" = accepted
	}{
		{name: "qcow2 accepted", path: qcow2, diskFormat: "qcow2", want: Result{Format: "qcow2", VirtualSize: 1 << 30}},
		{name: "raw accepted", path: raw, diskFormat: "raw", want: Result{Format: "raw", VirtualSize: 16 << 20}},
		{name: "iso accepted", path: iso, diskFormat: "iso", want: Result{Format: "raw"}},
		{name: "iso as raw accepted", path: iso, diskFormat: "raw", want: Result{Format: "raw"}},
		{name: "raw as ami accepted", path: raw, diskFormat: "ami", want: Result{Format: "raw", VirtualSize: 16 << 20}},
		{name: "monolithicSparse vmdk accepted", path: sparseVMDK, diskFormat: "vmdk", want: Result{Format: "vmdk", VirtualSize: 16 << 20}},
		{name: "streamOptimized vmdk accepted", path: streamVMDK, diskFormat: "vmdk", want: Result{Format: "vmdk", VirtualSize: 16 << 20}},
		{name: "vdi accepted", path: vdi, diskFormat: "vdi", want: Result{Format: "vdi", VirtualSize: 16 << 20}},
		{name: "vhd accepted", path: vhd, diskFormat: "vhd", want: Result{Format: "vpc"}},
		{name: "vhdx accepted", path: vhdx, diskFormat: "vhdx", want: Result{Format: "vhdx", VirtualSize: 16 << 20}},
		{name: "qcow2 within MaxVirtualSize", path: qcow2, diskFormat: "qcow2", lim: Limits{MaxVirtualSize: 1 << 30}, want: Result{Format: "qcow2", VirtualSize: 1 << 30}},

		{name: "qcow2 backing file", path: backing, diskFormat: "qcow2", refused: "backing file"},
		{name: "qcow2 backing file declared raw", path: backingAsRaw, diskFormat: "raw", refused: "backing file"},
		{name: "qcow2 external data file", path: dataFile, diskFormat: "qcow2", refused: "external data file"},
		{name: "raw that is qcow2", path: fakeRaw, diskFormat: "raw", refused: "mislabelled: disk_format is raw but the data is qcow2"},
		{name: "qcow2 declared raw", path: qcow2, diskFormat: "raw", refused: "mislabelled"},
		{name: "raw declared qcow2", path: raw, diskFormat: "qcow2", refused: "mislabelled: disk_format is qcow2 but the data is raw"},
		{name: "qcow2 declared iso", path: qcow2, diskFormat: "iso", refused: "mislabelled"},
		{name: "raw declared iso", path: raw, diskFormat: "iso", refused: "CD001"},
		{name: "vhd declared vhdx", path: vhd, diskFormat: "vhdx", refused: "the data is vhd"},
		{name: "vmdk monolithicFlat", path: flatVMDK, diskFormat: "vmdk", refused: "VMDK descriptor"},
		{name: "vmdk descriptor to /etc/passwd", path: descriptor, diskFormat: "vmdk", refused: "VMDK descriptor"},
		{name: "vmdk descriptor declared raw", path: descriptor, diskFormat: "raw", refused: "VMDK descriptor"},
		{name: "bare vmdk descriptor", path: bareDescriptor, diskFormat: "vmdk", refused: "VMDK descriptor"},
		{name: "vmdk twoGbMaxExtentSparse", path: twoGb, diskFormat: "vmdk", refused: "VMDK descriptor"},
		{name: "huge qcow2 over MaxVirtualSize", path: huge, diskFormat: "qcow2", lim: Limits{MaxVirtualSize: 100 << 30}, refused: "exceeds the limit"},
		{name: "garbage declared qcow2", path: garbage, diskFormat: "qcow2", refused: "could not be inspected"},
		{name: "empty file declared qcow2", path: empty, diskFormat: "qcow2", refused: "mislabelled"},
		{name: "corrupt qcow2", path: corrupt, diskFormat: "qcow2", refused: "corrupt"},
		{name: "missing file", path: filepath.Join(dir, "nope"), diskFormat: "raw", refused: "could not be inspected"},
		{name: "directory", path: dir, diskFormat: "raw", refused: "not a regular file"},
		{name: "unknown disk_format", path: raw, diskFormat: "ploop", refused: "not supported"},
		{name: "timeout", path: qcow2, diskFormat: "qcow2", lim: Limits{Timeout: time.Nanosecond}, refused: "timed out"},
		{name: "address space limit", path: qcow2, diskFormat: "qcow2", lim: Limits{AddressSpace: 4 << 20}, refused: "could not be inspected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got, err := Inspect(ctx, tc.path, tc.diskFormat, tc.lim)
			if elapsed := time.Since(start); elapsed > 20*time.Second {
				t.Errorf("Inspect took %s", elapsed)
			}
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("Inspect: %v", err)
				}
				if got.Format != tc.want.Format {
					t.Errorf("Format = %q, want %q", got.Format, tc.want.Format)
				}
				if tc.want.VirtualSize != 0 && got.VirtualSize != tc.want.VirtualSize {
					t.Errorf("VirtualSize = %d, want %d", got.VirtualSize, tc.want.VirtualSize)
				}
				if got.VirtualSize <= 0 || got.ActualSize <= 0 {
					t.Errorf("sizes not reported: %+v", got)
				}
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("Inspect = %+v, %v; want *RefusedError containing %q", got, err, tc.refused)
			}
			t.Logf("refused: %s", refused.Reason)
			if !strings.Contains(refused.Reason, tc.refused) {
				t.Errorf("Reason = %q, want it to contain %q", refused.Reason, tc.refused)
			}
			if strings.Contains(refused.Reason, dir) || strings.Contains(refused.Reason, "\n") {
				t.Errorf("Reason leaks a host path or spans lines: %q", refused.Reason)
			}
			if got != (Result{}) {
				t.Errorf("refused image returned a result: %+v", got)
			}
		})
	}
}

// TestQemuReportRules checks the rules on qemu-img's report alone, for the
// cases the header check catches first in TestInspect.
func TestQemuReportRules(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		refused string
	}{
		{"backing file", qemuCreate(t, dir, "b.qcow2", "qcow2", "1G", "-u", "-b", "/etc/passwd", "-F", "raw"), "backing file"},
		{"data file", qemuCreate(t, dir, "d.qcow2", "qcow2", "1G", "-o", "data_file="+filepath.Join(dir, "d.raw")), "external data file"},
		{"monolithicFlat", qemuCreate(t, dir, "f.vmdk", "vmdk", "16M", "-o", "subformat=monolithicFlat"), `create type "monolithicFlat"`},
		{"twoGbMaxExtentSparse", qemuCreate(t, dir, "s.vmdk", "vmdk", "16M", "-o", "subformat=twoGbMaxExtentSparse"), `create type "twoGbMaxExtentSparse"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			abs, _ := filepath.Abs(tc.path)
			info, err := runQemuImg(context.Background(), abs, DefaultLimits)
			if err != nil {
				t.Fatalf("qemu-img info: %v", err)
			}
			err = checkInfo(info, abs)
			var refused *RefusedError
			if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tc.refused) {
				t.Fatalf("checkInfo = %v, want refusal containing %q", err, tc.refused)
			}
		})
	}

	t.Run("vmdk extent in another file", func(t *testing.T) {
		err := checkVMDK(formatSpecificData{CreateType: "monolithicSparse", Extents: []vmdkExtent{{Filename: "/etc/passwd"}}}, "/img")
		if !IsRefused(err) {
			t.Fatalf("got %v, want refusal", err)
		}
	})
	t.Run("vmdk with parent", func(t *testing.T) {
		parent := uint32(1234)
		err := checkVMDK(formatSpecificData{CreateType: "monolithicSparse", ParentCID: &parent, Extents: []vmdkExtent{{Filename: "/img"}}}, "/img")
		if !IsRefused(err) {
			t.Fatalf("got %v, want refusal", err)
		}
	})
}

func TestInspectCallerCancelIsNotRefusal(t *testing.T) {
	requireTools(t)
	p := qemuCreate(t, t.TempDir(), "x.qcow2", "qcow2", "1G")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Inspect(ctx, p, "qcow2", DefaultLimits)
	if !errors.Is(err, context.Canceled) || IsRefused(err) {
		t.Fatalf("got %v, want context.Canceled and no refusal", err)
	}
}

func TestIsVMDKDescriptor(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"# Disk DescriptorFile\nversion=1\n", true},
		{"version=3\r\n", true},
		{"\n\n   # c\n\tversion=2\n", true},
		{"KDMV\x01\x00\x00\x00", false},
		{"# just a comment\nhello\n", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := isVMDKDescriptor([]byte(tc.in)); got != tc.want {
				t.Fatalf("isVMDKDescriptor(%q) = %v", tc.in, got)
			}
		})
	}
}

// setQcow2Incompat ORs bits into a qcow2 v3 header's incompatible features.
func setQcow2Incompat(t *testing.T, path string, bits byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 79); err != nil {
		t.Fatal(err)
	}
	b[0] |= bits
	if _, err := f.WriteAt(b, 79); err != nil {
		t.Fatal(err)
	}
}
