package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kumo-cloud/kumo/compute/hypervisor"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/revert"
)

// ephemeralLabel is the file system label of the first ephemeral disk, as
// Nova gives it (cloud-init mounts the disk labelled ephemeral0 on /mnt).
const ephemeralLabel = "ephemeral0"

// flavorDisk is one ephemeral or swap disk a flavor asks for.
type flavorDisk struct {
	spec    hypervisor.DiskSpec
	sizeMiB int64
	// format is the command that formats the raw disk (its last argument
	// being the file).
	format []string
}

// flavorDisks are the ephemeral and swap disks the instance's flavor asks
// for, as virtio disks right after the root disk (vdb, then vdc; swap is
// vdb when there is no ephemeral disk): Nova's order is root, ephemeral,
// swap, config drive. The ephemeral disk is ext4 labelled ephemeral0, the
// swap disk is made by mkswap, as Nova's libvirt driver does.
func flavorDisks(dir string, in store.Instance) []flavorDisk {
	var out []flavorDisk
	add := func(name string, sizeMiB int64, format ...string) {
		out = append(out, flavorDisk{spec: hypervisor.DiskSpec{Path: filepath.Join(dir, name), Format: hypervisor.FormatQCOW2,
			Bus: hypervisor.BusVirtio, Device: hypervisor.DeviceDisk, Target: fmt.Sprintf("vd%c", 'b'+len(out))},
			sizeMiB: sizeMiB, format: format})
	}
	if in.EphemeralGB > 0 {
		add("disk.eph0", int64(in.EphemeralGB)*1024, "mkfs.ext4", "-q", "-F", "-L", ephemeralLabel)
	}
	if in.Swap > 0 {
		add("disk.swap", int64(in.Swap), "mkswap")
	}
	return out
}

// withFlavorDisks inserts the flavor's disks into a domain's disks right
// after the root disk.
func withFlavorDisks(dir string, in store.Instance, disks []hypervisor.DiskSpec) []hypervisor.DiskSpec {
	var extra []hypervisor.DiskSpec
	for _, d := range flavorDisks(dir, in) {
		extra = append(extra, d.spec)
	}
	return slices.Insert(disks, min(1, len(disks)), extra...)
}

// createFlavorDisks creates the files of the flavor's disks in dir, each
// removed again by undo.
//
// Nova formats a shared raw backing file (_base/ephemeral_<size>_<hash>,
// swap_<size>) and gives each instance a qcow2 overlay of it; kumo formats
// a sparse raw file per instance and converts it to a qcow2 file with no
// backing file: the same guest-visible disk without a cache to clean, and
// mkfs of a sparse file costs well under a second. Resizing these disks
// (on a resize to a flavor with other sizes) is not done.
func createFlavorDisks(ctx context.Context, undo *revert.Stack, dir string, in store.Instance) error {
	for _, d := range flavorDisks(dir, in) {
		path := d.spec.Path
		undo.Add(func(context.Context) error { return removeIfExists(path) })
		if err := formattedDisk(ctx, path, d.sizeMiB, d.format); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Base(path), err)
		}
	}
	return nil
}

// formattedDisk makes path a qcow2 disk of sizeMiB whose content is what
// the format command (its last argument being the file) writes on an empty
// raw disk of that size.
func formattedDisk(ctx context.Context, path string, sizeMiB int64, format []string) error {
	raw := path + ".raw"
	defer os.Remove(raw)
	_ = os.Remove(path) // a retried spawn starts over
	f, err := os.OpenFile(raw, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(sizeMiB << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := run(ctx, format[0], append(format[1:], raw)...); err != nil {
		return err
	}
	return run(ctx, "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, path)
}

// run runs a command, returning its output in the error when it fails.
func run(ctx context.Context, name string, args ...string) error {
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
