package test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kumo-cloud/kumo/compute/configdrive"
)

// kumo-tiny boots under TCG (tests must pass without KVM).
const (
	tinyReadyTimeout = 60 * time.Second
	// tinyMemoryMiB is the guest RAM. Debian's cloud kernel asks for 51.5 MiB
	// of room above its 16 MiB load address while it decompresses, so 64 MiB
	// cannot boot it, and 80 MiB sometimes runs out while unpacking the
	// initramfs.
	tinyMemoryMiB = 96
)

// tinyReady matches kumo-tiny's marker line: hostname, then its IPv4 addresses.
var tinyReady = regexp.MustCompile(`KUMO-TINY READY (\S+)((?: [0-9.]+)*)\r?\n`)

// buildKumoTiny runs the image builder with extra environment and returns the
// image path, the builder's stderr and how long it took.
func buildKumoTiny(env ...string) (string, string, time.Duration, error) {
	script, err := filepath.Abs("../deploy/images/build-kumo-tiny.sh")
	if err != nil {
		return "", "", 0, err
	}
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start)
	if err != nil {
		return "", stderr.String(), took, fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	path := strings.TrimSpace(lines[len(lines)-1])
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		return "", stderr.String(), took, fmt.Errorf("%s printed %q, which is not an image (%v)", script, path, err)
	}
	return path, stderr.String(), took, nil
}

var tinyImageOnce struct {
	sync.Once
	path string
	err  error
}

// kumoTinyImage builds kumo-tiny (or takes it from the cache) once per test binary.
func kumoTinyImage(t testing.TB) string {
	t.Helper()
	tinyImageOnce.Do(func() {
		var stderr string
		tinyImageOnce.path, stderr, _, tinyImageOnce.err = buildKumoTiny()
		if tinyImageOnce.err == nil {
			t.Logf("kumo-tiny: %s (%s)", tinyImageOnce.path, strings.TrimSpace(stderr))
		}
	})
	if tinyImageOnce.err != nil {
		t.Fatal(tinyImageOnce.err)
	}
	return tinyImageOnce.path
}

// tinyVM is a qemu process running kumo-tiny on a throw-away overlay.
type tinyVM struct {
	dir     string
	console string
	sshAddr string // 127.0.0.1:port forwarded to the guest's port 22, when it has a NIC
	started time.Time
	pid     int
	exited  chan struct{}
	waitErr error
}

// bootTiny starts kumo-tiny under TCG with the image as a virtio disk (behind
// a qcow2 overlay, so the cached image is never written), configDrive (if
// not "") as an IDE cdrom, and, with nic, one virtio NIC on QEMU's user
// network. The process is killed and reaped when the test ends.
func bootTiny(t *testing.T, image, configDrive string, nic bool) *tinyVM {
	t.Helper()
	vm := &tinyVM{dir: t.TempDir(), exited: make(chan struct{})}
	vm.console = filepath.Join(vm.dir, "console.log")
	overlay := filepath.Join(vm.dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", overlay).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v\n%s", err, out)
	}
	args := []string{
		"-accel", "tcg", "-m", fmt.Sprint(tinyMemoryMiB), "-nodefaults", "-no-user-config",
		"-display", "none", "-monitor", "none", "-no-reboot",
		"-serial", "file:" + vm.console,
		"-drive", "file=" + overlay + ",format=qcow2,if=virtio",
		// as kumo's libvirt domains have: seeds the guest kernel's RNG
		"-device", "virtio-rng-pci",
	}
	if configDrive != "" {
		args = append(args, "-drive", "file="+configDrive+",format=raw,if=ide,media=cdrom,readonly=on")
	}
	if nic {
		vm.sshAddr = freeAddr(t)
		args = append(args, "-nic", "user,model=virtio-net-pci,hostfwd=tcp:"+vm.sshAddr+"-:22")
	} else {
		args = append(args, "-nic", "none")
	}
	cmd := exec.Command("qemu-system-x86_64", args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	stderr, err := os.Create(filepath.Join(vm.dir, "qemu.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	vm.started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("qemu-system-x86_64: %v", err)
	}
	vm.pid = cmd.Process.Pid
	go func() {
		vm.waitErr = cmd.Wait()
		stderr.Close()
		close(vm.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-vm.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("qemu (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
		if left := processesUsing(vm.dir); len(left) > 0 {
			t.Errorf("processes left behind: %v", left)
		}
	})
	return vm
}

// consoleText returns what the guest printed on its serial console so far.
func (vm *tinyVM) consoleText() string {
	b, _ := os.ReadFile(vm.console)
	return string(b)
}

// cpuTime is the CPU time qemu has used so far. Under TCG it is what the
// boot costs, whatever else the host is running (wall time is not).
func (vm *tinyVM) cpuTime() time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", vm.pid))
	if err != nil {
		return 0
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var utime, stime int64
	if len(fields) > 12 {
		fmt.Sscan(fields[11], &utime) // field 14 of stat
		fmt.Sscan(fields[12], &stime) // field 15
	}
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// bootTime is how long kumo-tiny took to print READY.
type bootTime struct {
	wall, cpu time.Duration
}

func (b bootTime) String() string {
	return fmt.Sprintf("%.2fs after qemu started (qemu used %.2fs of CPU)", b.wall.Seconds(), b.cpu.Seconds())
}

// waitConsole polls the console until the READY line and every pattern
// have appeared, and returns the console text and the time to READY.
func (vm *tinyVM) waitConsole(t *testing.T, want ...string) (string, bootTime) {
	t.Helper()
	deadline := vm.started.Add(tinyReadyTimeout)
	var ready bootTime
	for {
		text := vm.consoleText()
		if ready.wall == 0 && tinyReady.MatchString(text) {
			ready = bootTime{wall: time.Since(vm.started), cpu: vm.cpuTime()}
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if ready.wall > 0 && missing == "" {
			return text, ready
		}
		select {
		case <-vm.exited:
			qemuLog, _ := os.ReadFile(filepath.Join(vm.dir, "qemu.log"))
			t.Fatalf("qemu exited (%v) before %q appeared\nqemu: %s\nconsole:\n%s", vm.waitErr, missing, qemuLog, text)
		default:
		}
		if time.Now().After(deadline) {
			if ready.wall == 0 {
				missing = "KUMO-TINY READY"
			}
			t.Fatalf("no %q on the console %s after qemu started; console:\n%s", missing, tinyReadyTimeout, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// guestUptime is the uptime the boot script prints just before READY.
var guestUptime = regexp.MustCompile(`kumo-tiny: .*; up ([0-9.]+)s`)

func TestKumoTinyBootsWithConfigDrive(t *testing.T) {
	image := kumoTinyImage(t)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	drive := configdrive.Drive{
		Meta: configdrive.Metadata{
			UUID:             "0f7e3d9c-5a4b-4c2d-8e1f-2a3b4c5d6e7f",
			Name:             "tiny-test",
			Hostname:         "tiny-test",
			AvailabilityZone: "nova",
			ProjectID:        "5d6e7f8091a24b3c8d4e5f60718293a4",
			PublicKeys:       map[string]string{"test": string(ssh.MarshalAuthorizedKey(sshPub))},
			Meta:             map[string]string{"hostname": "not-the-hostname"},
		},
		UserData: []byte("#!/bin/sh\necho USERDATA-RAN\n"),
	}
	iso := filepath.Join(t.TempDir(), "disk.config")
	if err := drive.WriteISO(context.Background(), iso); err != nil {
		t.Fatal(err)
	}

	vm := bootTiny(t, image, iso, true)
	console, took := vm.waitConsole(t, "USERDATA-RAN")
	m := tinyReady.FindStringSubmatch(console)
	if m[1] != "tiny-test" {
		t.Errorf("READY hostname = %q, want tiny-test (from the config drive)", m[1])
	}
	if strings.TrimSpace(m[2]) != "10.0.2.15" {
		t.Errorf("READY addresses = %q, want 10.0.2.15 (QEMU's user-network DHCP)", m[2])
	}
	if !strings.Contains(console, "user_data: USERDATA-RAN") {
		t.Errorf("user_data output not on the console with its prefix:\n%s", console)
	}
	if !strings.Contains(console, "metadata from config drive") {
		t.Errorf("the guest did not say it read the config drive:\n%s", console)
	}
	uptime := "?"
	if u := guestUptime.FindStringSubmatch(console); u != nil {
		uptime = u[1] + "s"
	}
	t.Logf("kumo-tiny READY %s (TCG, -m %d; guest uptime at READY %s): %s",
		took, tinyMemoryMiB, uptime, strings.TrimSpace(m[0]))

	// The key from the config drive lets us in over SSH (dropbear).
	out := tinySSH(t, vm, signer, "hostname; cat /root/.ssh/authorized_keys; free -k | awk '/Mem:/ {print $3}'")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || lines[0] != "tiny-test" || !strings.Contains(out, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))) {
		t.Errorf("over SSH: hostname and authorized_keys = %q", out)
	} else {
		t.Logf("kumo-tiny uses %s KiB of RAM after boot (free: used)", lines[len(lines)-1])
	}
	t.Logf("guest boot stages (uptime, stage):\n%s", tinySSH(t, vm, signer, "cat /run/kumo/boot.log"))
}

// tinySSH runs command in the guest as root with key, retrying the
// connection while dropbear comes up.
func tinySSH(t *testing.T, vm *tinyVM, key ssh.Signer, command string) string {
	t.Helper()
	cfg := &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a throw-away guest with a fresh host key
		// the key kumo-tiny makes at boot; others (RSA) it would generate on demand, slowly under TCG
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		Timeout:           5 * time.Second,
	}
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		client, err := ssh.Dial("tcp", vm.sshAddr, cfg)
		if err != nil {
			lastErr = err
			time.Sleep(250 * time.Millisecond)
			continue
		}
		defer client.Close()
		sess, err := client.NewSession()
		if err != nil {
			t.Fatalf("ssh session: %v", err)
		}
		defer sess.Close()
		out, err := sess.CombinedOutput(command)
		if err != nil {
			t.Fatalf("ssh %q: %v\n%s", command, err, out)
		}
		return string(out)
	}
	t.Fatalf("ssh to kumo-tiny at %s: %v\nconsole:\n%s", vm.sshAddr, lastErr, vm.consoleText())
	return ""
}

func TestKumoTinyBootsWithoutConfigDriveOrNIC(t *testing.T) {
	image := kumoTinyImage(t)
	vm := bootTiny(t, image, "", false)
	console, took := vm.waitConsole(t)
	m := tinyReady.FindStringSubmatch(console)
	if m[1] != "kumo-tiny" || m[2] != "" {
		t.Errorf("READY line = %q, want the default hostname kumo-tiny and no addresses", strings.TrimSpace(m[0]))
	}
	if strings.Contains(console, "user_data:") {
		t.Errorf("user_data ran without any metadata source:\n%s", console)
	}
	uptime := "?"
	if u := guestUptime.FindStringSubmatch(console); u != nil {
		uptime = u[1] + "s"
	}
	t.Logf("kumo-tiny READY %s (TCG, -m %d, no NIC, no config drive; guest uptime at READY %s)",
		took, tinyMemoryMiB, uptime)
}

// TestKumoTinyBuildIsCached checks the builder's contract: the same recipe
// gives the same path from the cache, quickly, with the timing line on stderr.
func TestKumoTinyBuildIsCached(t *testing.T) {
	first := kumoTinyImage(t)
	path, stderr, took, err := buildKumoTiny()
	if err != nil {
		t.Fatal(err)
	}
	if path != first {
		t.Errorf("second build printed %s, first %s", path, first)
	}
	if !regexp.MustCompile(`(?m)^build kumo-tiny: cached [0-9.]+s$`).MatchString(stderr) {
		t.Errorf("stderr of a cached build = %q, want a `build kumo-tiny: cached N.NNs` line", stderr)
	}
	if took > 5*time.Second {
		t.Errorf("cached build took %s", took)
	}
	// The image is an MBR disk; qemu-img sees a qcow2 without a backing file.
	out, err := exec.Command("qemu-img", "info", "--output=human", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "file format: qcow2") || strings.Contains(string(out), "backing file") {
		t.Errorf("qemu-img info %s: %v\n%s", path, err, out)
	}
}

// BenchmarkKumoTinyBuild reports a cold build (empty cache, packages
// downloaded again) and a cached one. Run with -benchtime=1x.
func BenchmarkKumoTinyBuild(b *testing.B) {
	for b.Loop() {
		cache := b.TempDir()
		env := "KUMO_IMAGE_CACHE=" + cache
		_, _, cold, err := buildKumoTiny(env)
		if err != nil {
			b.Fatal(err)
		}
		_, stderr, cached, err := buildKumoTiny(env)
		if err != nil {
			b.Fatal(err)
		}
		if !strings.Contains(stderr, "cached") {
			b.Fatalf("second build was not served from the cache: %s", stderr)
		}
		b.ReportMetric(cold.Seconds(), "cold-s")
		b.ReportMetric(cached.Seconds(), "cached-s")
	}
}
