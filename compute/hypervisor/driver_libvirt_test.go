package hypervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kumo-cloud/kumo/compute/configdrive"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

// readyTimeout bounds a kumo-tiny boot under TCG.
const readyTimeout = 4 * time.Minute

// The integration tests drive the real libvirtd at DefaultURI with TCG
// guests (KVM may hang guests on CI machines) booting the kumo-tiny image.

var tinyImage struct {
	once sync.Once
	path string
	err  error
}

// kumoTiny builds (or takes from the cache) the kumo-tiny image with the
// image builder and returns its path.
func kumoTiny(tb testing.TB) string {
	tb.Helper()
	tinyImage.once.Do(func() {
		script, err := filepath.Abs("../../deploy/images/build-kumo-tiny.sh")
		if err != nil {
			tinyImage.err = err
			return
		}
		cmd := exec.Command(script)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			tinyImage.err = fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		tinyImage.path = strings.TrimSpace(lines[len(lines)-1])
		if _, err := os.Stat(tinyImage.path); err != nil {
			tinyImage.err = fmt.Errorf("%s printed %q: %v", script, tinyImage.path, err)
		}
	})
	if tinyImage.err != nil {
		tb.Fatalf("kumo-tiny image: %v", tinyImage.err)
	}
	return tinyImage.path
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newUUID(tb testing.TB) string {
	h := randomHex(tb, 16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func run(tb testing.TB, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// testDriver returns a libvirt driver on the real libvirtd, closed at the
// end of the test.
func testDriver(tb testing.TB) *Libvirt {
	tb.Helper()
	d := NewLibvirt(LibvirtConfig{InstancesDir: os.TempDir(), SoftRebootTimeout: 15 * time.Second}, nil)
	tb.Cleanup(d.Close)
	if _, err := d.conn.get(); err != nil {
		tb.Fatalf("libvirtd is required for these tests: %v", err)
	}
	return d
}

// guest is a kumo-tiny instance being tested.
type guest struct {
	spec     InstanceSpec
	dir      string
	hostname string
}

// newGuest prepares, in a temporary directory, a qcow2 overlay on kumo-tiny
// and a config drive, and registers the clean-up that leaves nothing behind
// (domain, managed save, files) whatever the test's outcome.
func newGuest(tb testing.TB, d *Libvirt, nics []NICSpec) *guest {
	tb.Helper()
	base := kumoTiny(tb)
	id := randomHex(tb, 4)
	g := &guest{dir: tb.TempDir(), hostname: "kumo-test-" + id}
	uuid := newUUID(tb)

	root := filepath.Join(g.dir, "disk")
	run(tb, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, root)
	drive := filepath.Join(g.dir, "disk.config")
	writeConfigDrive(tb, drive, uuid, g.hostname)

	g.spec = InstanceSpec{
		UUID:     uuid,
		Name:     "kumo-test-" + id,
		VCPUs:    1,
		MemoryMB: 256,
		VirtType: VirtQEMU,
		Disks: []DiskSpec{
			{Path: root, Format: FormatQCOW2, Bus: BusVirtio, Device: DeviceDisk, Target: "vda", BootIndex: 1},
			{Path: drive, Format: FormatRaw, Bus: BusIDE, Device: DeviceCDROM, Target: "hdd"},
		},
		NICs:       nics,
		ConsoleLog: filepath.Join(g.dir, "console.log"),
		Metadata:   map[string]string{"test": tb.Name()},
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Destroy(ctx, uuid); err != nil && !errors.Is(err, ErrNotFound) {
			tb.Errorf("cleanup: %v", err)
		}
		if err := d.Undefine(ctx, uuid); err != nil {
			tb.Errorf("cleanup: %v", err)
		}
		if out, _ := exec.Command("virsh", "-c", DefaultURI, "list", "--all", "--name").Output(); strings.Contains(string(out), g.spec.Name) {
			tb.Errorf("domain %s left behind:\n%s", g.spec.Name, out)
		}
		// libvirt keeps QEMU's own log of a domain after undefine.
		logs, _ := filepath.Glob("/var/log/libvirt/qemu/" + g.spec.Name + ".log*")
		for _, l := range logs {
			os.Remove(l)
		}
	})
	return g
}

// writeConfigDrive makes an OpenStack config-2 ISO with compute/configdrive;
// kumo-tiny takes its hostname from it.
func writeConfigDrive(tb testing.TB, path, uuid, hostname string) {
	tb.Helper()
	drive := configdrive.Drive{Meta: configdrive.Metadata{UUID: uuid, Name: hostname, Hostname: hostname}}
	if err := drive.WriteISO(context.Background(), path); err != nil {
		tb.Fatalf("config drive: %v", err)
	}
}

// readyLines counts kumo-tiny's READY lines in the console log.
func readyLines(ctx context.Context, d *Libvirt, uuid string) (int, string, error) {
	out, err := d.ConsoleOutput(ctx, uuid, 0)
	if err != nil {
		return 0, "", err
	}
	return strings.Count(out, "KUMO-TINY READY"), out, nil
}

// waitReady waits until the console shows the n-th READY line.
func waitReady(tb testing.TB, d *Libvirt, g *guest, n int) {
	tb.Helper()
	testutil.WaitFor(tb, readyTimeout, func() error {
		got, out, err := readyLines(context.Background(), d, g.spec.UUID)
		if err != nil {
			return err
		}
		if got < n {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return fmt.Errorf("%d READY lines, want %d; console ends with %q", got, n, lines[len(lines)-1])
		}
		if !strings.Contains(out, "KUMO-TINY READY "+g.hostname) {
			return fmt.Errorf("READY line without the config drive's hostname %s:\n%s", g.hostname, out)
		}
		return nil
	})
}

func wantState(tb testing.TB, d *Libvirt, uuid string, want PowerState) {
	tb.Helper()
	got, err := d.State(context.Background(), uuid)
	if err != nil {
		tb.Fatalf("State: %v", err)
	}
	if got != want {
		tb.Fatalf("State = %s, want %s", got, want)
	}
}

func must(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// testBridge creates a Linux bridge for the test's NIC and removes it after.
func testBridge(t *testing.T) string {
	t.Helper()
	name := "kumotb" + randomHex(t, 3)
	run(t, "ip", "link", "add", name, "type", "bridge")
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip link del %s: %v\n%s", name, err, out)
		}
	})
	run(t, "ip", "link", "set", name, "up")
	return name
}

func TestLibvirtLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	ctx := context.Background()
	d := testDriver(t)
	br := testBridge(t)
	tap := "kt" + randomHex(t, 4)
	g := newGuest(t, d, []NICSpec{{MAC: "fa:16:3e:" + randomHex(t, 1) + ":" + randomHex(t, 1) + ":" + randomHex(t, 1), Bridge: br, TapName: tap, MTU: 1400}})
	uuid := g.spec.UUID

	// Define is idempotent and the domain is listed as kumo's.
	must(t, "Define", d.Define(ctx, g.spec))
	must(t, "Define again", d.Define(ctx, g.spec))
	wantState(t, d, uuid, Shutdown)
	list, err := d.List(ctx)
	must(t, "List", err)
	found := false
	for _, di := range list {
		if di.UUID == uuid {
			found = di.Name == g.spec.Name && di.Managed && di.State == Shutdown
		}
	}
	if !found {
		t.Fatalf("List does not show %s as a managed, shut-down domain: %+v", uuid, list)
	}

	start := time.Now()
	must(t, "Start", d.Start(ctx, uuid))
	must(t, "Start again", d.Start(ctx, uuid))
	wantState(t, d, uuid, Running)
	waitReady(t, d, g, 1)
	t.Logf("boot to READY: %.1fs", time.Since(start).Seconds())

	// The NIC is a tap with our name and MTU, up; bridging it is the
	// network agent's job, not libvirt's.
	link, err := exec.Command("ip", "-o", "link", "show", "dev", tap).CombinedOutput()
	must(t, "ip link show "+tap, err)
	if !strings.Contains(string(link), "mtu 1400") || !strings.Contains(string(link), ",UP") || strings.Contains(string(link), "master ") {
		t.Errorf("tap %s: %s", tap, link)
	}

	t.Run("pause", func(t *testing.T) {
		must(t, "Pause", d.Pause(ctx, uuid))
		must(t, "Pause again", d.Pause(ctx, uuid))
		wantState(t, d, uuid, Paused)
		must(t, "Unpause", d.Unpause(ctx, uuid))
		must(t, "Unpause again", d.Unpause(ctx, uuid))
		wantState(t, d, uuid, Running)
	})

	t.Run("suspend", func(t *testing.T) {
		must(t, "Suspend", d.Suspend(ctx, uuid))
		must(t, "Suspend again", d.Suspend(ctx, uuid))
		wantState(t, d, uuid, Suspended)
		must(t, "Resume", d.Resume(ctx, uuid))
		must(t, "Resume again", d.Resume(ctx, uuid))
		wantState(t, d, uuid, Running)
		// Restored, not rebooted: still one READY line.
		if n, _, err := readyLines(ctx, d, uuid); err != nil || n != 1 {
			t.Errorf("after resume: %d READY lines (%v), want 1", n, err)
		}
	})

	t.Run("disk hot-plug", func(t *testing.T) {
		vol := filepath.Join(g.dir, "vol1")
		run(t, "qemu-img", "create", "-q", "-f", "raw", vol, "8M")
		disk := DiskSpec{Path: vol, Format: FormatRaw, Bus: BusVirtio, Device: DeviceDisk, Target: "vdb", Serial: "vol1"}
		must(t, "AttachDisk", d.AttachDisk(ctx, uuid, disk))
		must(t, "AttachDisk again", d.AttachDisk(ctx, uuid, disk))
		xmlOf := func(flags string) string {
			args := []string{"-c", DefaultURI, "dumpxml", uuid}
			if flags != "" {
				args = append(args, flags)
			}
			out, err := exec.Command("virsh", args...).Output()
			must(t, "virsh dumpxml", err)
			return string(out)
		}
		if !strings.Contains(xmlOf(""), vol) || !strings.Contains(xmlOf("--inactive"), vol) {
			t.Fatalf("vdb is not in the live and persistent definitions")
		}
		must(t, "DetachDisk", d.DetachDisk(ctx, uuid, disk))
		must(t, "DetachDisk again", d.DetachDisk(ctx, uuid, disk))
		if strings.Contains(xmlOf(""), vol) || strings.Contains(xmlOf("--inactive"), vol) {
			t.Fatalf("vdb is still defined after DetachDisk")
		}
	})

	t.Run("nic hot-plug", func(t *testing.T) {
		mac := "fa:16:3e:" + randomHex(t, 1) + ":" + randomHex(t, 1) + ":" + randomHex(t, 1)
		nic := NICSpec{MAC: mac, Bridge: br, TapName: "kt" + randomHex(t, 4), MTU: 1400}
		must(t, "AttachInterface", d.AttachInterface(ctx, uuid, nic))
		must(t, "AttachInterface again", d.AttachInterface(ctx, uuid, nic))
		xmlOf := func(flags ...string) string {
			out, err := exec.Command("virsh", append([]string{"-c", DefaultURI, "dumpxml", uuid}, flags...)...).Output()
			must(t, "virsh dumpxml", err)
			return string(out)
		}
		if strings.Count(xmlOf(), mac) != 1 || strings.Count(xmlOf("--inactive"), mac) != 1 {
			t.Fatalf("%s is not once in the live and persistent definitions", mac)
		}
		if out, err := exec.Command("ip", "link", "show", nic.TapName).CombinedOutput(); err != nil || !strings.Contains(string(out), "mtu 1400") {
			t.Fatalf("tap %s of the hot-plugged NIC: %v %s", nic.TapName, err, out)
		}
		must(t, "DetachInterface", d.DetachInterface(ctx, uuid, nic))
		must(t, "DetachInterface again", d.DetachInterface(ctx, uuid, nic))
		waitUntil := time.Now().Add(30 * time.Second)
		for strings.Contains(xmlOf(), mac) && time.Now().Before(waitUntil) {
			time.Sleep(200 * time.Millisecond)
		}
		if strings.Contains(xmlOf(), mac) || strings.Contains(xmlOf("--inactive"), mac) {
			t.Fatalf("%s still defined after DetachInterface", mac)
		}
	})

	readies := 1
	t.Run("soft reboot", func(t *testing.T) {
		err := d.Reboot(ctx, uuid, false)
		switch {
		case err == nil:
			readies++
			waitReady(t, d, g, readies)
		case errors.Is(err, ErrTimeout):
			// A guest without an ACPI power-button handler: the caller
			// falls back to a hard reboot, as Nova does.
			t.Logf("kumo-tiny ignored the ACPI power button: %v", err)
			wantState(t, d, uuid, Running)
		default:
			t.Fatalf("soft Reboot: %v", err)
		}
	})

	t.Run("hard reboot", func(t *testing.T) {
		must(t, "hard Reboot", d.Reboot(ctx, uuid, true))
		wantState(t, d, uuid, Running)
		readies++
		waitReady(t, d, g, readies)
	})

	t.Run("console tail", func(t *testing.T) {
		out, err := d.ConsoleOutput(ctx, uuid, 1)
		must(t, "ConsoleOutput", err)
		if strings.Count(strings.TrimRight(out, "\n"), "\n") != 0 || out == "" {
			t.Errorf("ConsoleOutput(1) = %q, want one line", out)
		}
	})

	t.Run("stats", func(t *testing.T) {
		hs, err := d.Stats(ctx)
		must(t, "Stats", err)
		if hs.VCPUs < 1 || hs.MemoryMB < 1 || hs.DiskGB < 1 || hs.RunningVMs < 1 || hs.VCPUsUsed < 1 || hs.HypervisorVersion == 0 {
			t.Errorf("Stats = %+v", hs)
		}
	})

	t.Run("shutdown and destroy", func(t *testing.T) {
		err := d.Shutdown(ctx, uuid, 10*time.Second)
		switch {
		case err == nil:
			wantState(t, d, uuid, Shutdown)
		case errors.Is(err, ErrTimeout):
			t.Logf("kumo-tiny ignored the ACPI power button: %v", err)
			wantState(t, d, uuid, Running)
		default:
			t.Fatalf("Shutdown: %v", err)
		}
		must(t, "Destroy", d.Destroy(ctx, uuid))
		must(t, "Destroy again", d.Destroy(ctx, uuid))
		wantState(t, d, uuid, Shutdown)
		must(t, "Shutdown when off", d.Shutdown(ctx, uuid, time.Second))
	})

	t.Run("undefine", func(t *testing.T) {
		must(t, "Undefine", d.Undefine(ctx, uuid))
		must(t, "Undefine again", d.Undefine(ctx, uuid))
		if _, err := d.State(ctx, uuid); !errors.Is(err, ErrNotFound) {
			t.Errorf("State after Undefine = %v, want ErrNotFound", err)
		}
		if _, err := os.Stat("/sys/class/net/" + tap); !os.IsNotExist(err) {
			t.Errorf("tap %s still exists (%v)", tap, err)
		}
	})
}

// TestLibvirtUndefineSuspended checks that Undefine leaves nothing
// of a suspended domain (its managed save image goes too).
func TestLibvirtUndefineSuspended(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	ctx := context.Background()
	d := testDriver(t)
	g := newGuest(t, d, nil)
	uuid := g.spec.UUID
	must(t, "Define", d.Define(ctx, g.spec))
	must(t, "Start", d.Start(ctx, uuid))
	waitReady(t, d, g, 1)
	must(t, "Suspend", d.Suspend(ctx, uuid))
	save := "/var/lib/libvirt/qemu/save/" + g.spec.Name + ".save"
	if _, err := os.Stat(save); err != nil {
		t.Fatalf("managed save image: %v", err)
	}
	must(t, "Undefine", d.Undefine(ctx, uuid))
	if _, err := os.Stat(save); !os.IsNotExist(err) {
		t.Errorf("managed save image %s left behind (%v)", save, err)
	}
}

func TestLibvirtMissingDomain(t *testing.T) {
	ctx := context.Background()
	d := testDriver(t)
	uuid := newUUID(t)
	for name, err := range map[string]error{
		"State":         func() error { _, err := d.State(ctx, uuid); return err }(),
		"Start":         d.Start(ctx, uuid),
		"Destroy":       d.Destroy(ctx, uuid),
		"Pause":         d.Pause(ctx, uuid),
		"ConsoleOutput": func() error { _, err := d.ConsoleOutput(ctx, uuid, 10); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on a missing domain = %v, want ErrNotFound", name, err)
		}
	}
	if err := d.Undefine(ctx, uuid); err != nil {
		t.Errorf("Undefine on a missing domain = %v, want nil", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Start(cctx, uuid); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context = %v", err)
	}
}

// BenchmarkBootToReady reports the seconds from Define to kumo-tiny's READY
// line under TCG (run with -benchtime=1x).
func BenchmarkBootToReady(b *testing.B) {
	ctx := context.Background()
	d := testDriver(b)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g := newGuest(b, d, nil)
		b.StartTimer()
		start := time.Now()
		must(b, "Define", d.Define(ctx, g.spec))
		must(b, "Start", d.Start(ctx, g.spec.UUID))
		waitReady(b, d, g, 1)
		total += time.Since(start)
		b.StopTimer()
		must(b, "Destroy", d.Destroy(ctx, g.spec.UUID))
		must(b, "Undefine", d.Undefine(ctx, g.spec.UUID))
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "boot-s")
}
