package test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/compute/configdrive"
)

// The kumo-host image (deploy/images/build-kumo-host.sh) booted under TCG from its own disk
// with an OpenStack config drive (compute/configdrive), the way the compute agent will boot it.

const (
	kumoHostBuildTimeout = 15 * time.Minute
	// Measured: 98-151 s to cloud-init's final stage on a loaded 2-CPU TCG host. Generous,
	// because CI machines are slower and TCG is sensitive to host load.
	kumoHostBootTimeout = 8 * time.Minute
	kumoHostDiskGB      = 4 // the overlay's virtual size; the base image is 2 GiB
)

// buildKumoHost runs the image build script (a no-op when the image for the current recipe is
// cached) and returns the image path and the script's stderr.
func buildKumoHost(tb testing.TB, env ...string) (string, string) {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kumoHostBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "deploy/images/build-kumo-host.sh"))
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("build-kumo-host.sh: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	img := lines[len(lines)-1]
	if fi, err := os.Stat(img); err != nil || fi.Size() == 0 {
		tb.Fatalf("build-kumo-host.sh printed %q, not an image (%v)\n%s", img, err, stderr.String())
	}
	return img, stderr.String()
}

func kumoHostRequireRoot(tb testing.TB, tools ...string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatal("needs root (debootstrap, loop devices): run as root after deploy/host-setup.sh")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s not found: run deploy/host-setup.sh", tool)
		}
	}
}

// kumoHostAuthorizedKey returns an OpenSSH ed25519 public key line.
func kumoHostAuthorizedKey(comment string) string {
	pub, _, _ := ed25519.GenerateKey(nil)
	var blob []byte
	for _, field := range [][]byte{[]byte("ssh-ed25519"), pub} {
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(field)))
		blob = append(blob, field...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " " + comment
}

// kumoHostUserData prints a marker, the root filesystem size, tool versions and the default
// user's keys straight to the serial console from cloud-init's final stage.
const kumoHostUserData = `#cloud-config
runcmd:
  - |
    exec >/dev/ttyS0 2>&1
    df -h /
    echo "KUMO-HOST-ROOT-MB=$(df -BM --output=size / | tail -n 1 | tr -dc 0-9)"
    echo "KUMO-HOST-VERSIONS crun=$(crun --version | sed -n 's/^crun version //p') node=$(node --version) $(python3 --version)"
    echo "KUMO-HOST-KEYS=$(grep -c kumo-guest-test /home/debian/.ssh/authorized_keys)"
    echo "KUMO-HOST-HOSTNAME=$(hostname)"
    echo "KUMO-HOST-USERDATA-OK"
`

var (
	kumoHostFinishedRE = regexp.MustCompile(`Cloud-init v\. \S+ finished at [^\n]*`)
	kumoHostRootMBRE   = regexp.MustCompile(`KUMO-HOST-ROOT-MB=(\d+)`)
)

func TestKumoHostBootsToCloudInitFinal(t *testing.T) {
	kumoHostRequireRoot(t, "qemu-system-x86_64", "qemu-img", "genisoimage", "debootstrap")
	t0 := time.Now()
	base, buildLog := buildKumoHost(t)
	t.Logf("image %s (%s)", base, strings.TrimSpace(kumoHostLastLine(buildLog)))
	if fi, err := os.Stat(base); err == nil {
		t.Logf("kumo-host image size: %.1f MB", float64(fi.Size())/1e6)
	}
	buildDur := time.Since(t0)

	dir := t.TempDir()
	overlay := filepath.Join(dir, "root.qcow2")
	// The cached image is only ever a read-only backing file.
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base,
		overlay, fmt.Sprintf("%dG", kumoHostDiskGB)).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	iso := filepath.Join(dir, "config.iso")
	uuid := "3f0c6a52-8a6f-4f4e-9d4b-6b7c2a1e9f01"
	drive := configdrive.Drive{
		Meta: configdrive.Metadata{
			UUID:             uuid,
			Name:             "kumo-host-test",
			Hostname:         "kumo-host-test",
			AvailabilityZone: "nova",
			PublicKeys:       map[string]string{"kumo-guest-test": kumoHostAuthorizedKey("kumo-guest-test")},
		},
		UserData: []byte(kumoHostUserData),
	}
	if err := drive.WriteISO(context.Background(), iso); err != nil {
		t.Fatal(err)
	}

	serial := filepath.Join(dir, "serial.log")
	ctx, cancel := context.WithCancel(context.Background())
	qemu := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-accel", "tcg", "-m", "1024", "-smp", "2",
		"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
		"-serial", "file:"+serial,
		"-drive", "file="+overlay+",format=qcow2,if=virtio",
		"-drive", "file="+iso+",format=raw,if=ide,media=cdrom,readonly=on",
		"-nic", "none")
	var qemuOut bytes.Buffer
	qemu.Stdout, qemu.Stderr = &qemuOut, &qemuOut
	bootStart := time.Now()
	if err := qemu.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- qemu.Wait() }()
	t.Cleanup(func() {
		cancel() // kills qemu
		<-exited
	})

	var console string
	deadline := time.After(kumoHostBootTimeout)
	for done := false; !done; {
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(serial)
			t.Fatalf("qemu exited before cloud-init finished: %v\n%s\nconsole:\n%s", err, qemuOut.String(), kumoHostTail(string(b), 60))
		case <-deadline:
			b, _ := os.ReadFile(serial)
			t.Fatalf("cloud-init did not reach its final stage within %s; console:\n%s", kumoHostBootTimeout, kumoHostTail(string(b), 80))
		case <-time.After(500 * time.Millisecond):
		}
		b, _ := os.ReadFile(serial)
		console = string(b)
		done = kumoHostFinishedRE.MatchString(console) && strings.Contains(console, "KUMO-HOST-USERDATA-OK")
	}
	bootDur := time.Since(bootStart)
	t.Logf("kumo-host boot to cloud-init final under TCG: %.1fs (build/cache %.1fs)", bootDur.Seconds(), buildDur.Seconds())

	finished := kumoHostFinishedRE.FindString(console)
	t.Logf("%s", finished)
	if !strings.Contains(finished, "DataSourceConfigDrive") {
		t.Errorf("cloud-init did not use the config drive: %q", finished)
	}
	m := kumoHostRootMBRE.FindStringSubmatch(console)
	if m == nil {
		t.Fatalf("no root size on the console:\n%s", kumoHostTail(console, 40))
	}
	// The base image is 2 GiB; growpart + resize2fs must have taken the root to ~4 GiB.
	if mb, _ := strconv.Atoi(m[1]); mb < (kumoHostDiskGB*1024)*85/100 {
		t.Errorf("root filesystem is %d MB, not grown to the %d GiB disk", mb, kumoHostDiskGB)
	}
	for _, want := range []string{
		"KUMO-HOST-KEYS=1",
		"KUMO-HOST-HOSTNAME=kumo-host-test",
		"crun=1.",
		"node=v",
		"Python 3.",
	} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q", want)
		}
	}
	for _, line := range strings.Split(console, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.Contains(line, "Traceback"):
			t.Errorf("cloud-init failed: %s\n%s", line, kumoHostTail(console, 60))
		case strings.Contains(line, "KUMO-HOST-VERSIONS"), strings.HasPrefix(line, "/dev/"),
			strings.Contains(line, "cloud-init") && strings.Contains(line, "WARNING"):
			t.Logf("guest: %s", line)
		}
	}
}

// BenchmarkKumoHostBuild reports a cold build of the kumo-host image (into an empty image
// cache; the .deb download cache is shared, so downloads are only paid on a fresh machine)
// and a cached one. Run with -benchtime=1x.
func BenchmarkKumoHostBuild(b *testing.B) {
	kumoHostRequireRoot(b, "debootstrap", "qemu-img")
	var cold, cached time.Duration
	for range b.N {
		cache := b.TempDir()
		t0 := time.Now()
		buildKumoHost(b, "KUMO_IMAGE_CACHE="+cache)
		cold += time.Since(t0)
		t0 = time.Now()
		_, log := buildKumoHost(b, "KUMO_IMAGE_CACHE="+cache)
		cached += time.Since(t0)
		if !strings.Contains(log, "build kumo-host: cached") {
			b.Fatalf("second build was not cached:\n%s", log)
		}
	}
	b.ReportMetric(cold.Seconds()/float64(b.N), "cold-s")
	b.ReportMetric(cached.Seconds()/float64(b.N), "cached-s")
}

func kumoHostLastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func kumoHostTail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
