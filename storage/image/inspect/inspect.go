package inspect

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// Limits bounds the qemu-img run and the images accepted.
type Limits struct {
	// CPUSeconds is qemu-img's CPU time limit (RLIMIT_CPU); 0 takes DefaultLimits'.
	CPUSeconds int
	// AddressSpace is qemu-img's address-space limit in bytes (RLIMIT_AS); 0 takes DefaultLimits'.
	AddressSpace int64
	// Timeout is the wall-clock limit; 0 takes DefaultLimits'.
	Timeout time.Duration
	// MaxVirtualSize refuses images whose virtual size exceeds it, in bytes; 0 = no limit.
	MaxVirtualSize int64
}

// DefaultLimits are the limits used by the image service unless configured otherwise.
var DefaultLimits = Limits{CPUSeconds: 8, AddressSpace: 1 << 30, Timeout: 30 * time.Second}

// withDefaults fills zero limits from DefaultLimits so qemu-img never runs unbounded.
func (l Limits) withDefaults() Limits {
	if l.CPUSeconds <= 0 {
		l.CPUSeconds = DefaultLimits.CPUSeconds
	}
	if l.AddressSpace <= 0 {
		l.AddressSpace = DefaultLimits.AddressSpace
	}
	if l.Timeout == 0 {
		l.Timeout = DefaultLimits.Timeout
	}
	return l
}

// Result is what inspection found in an accepted image.
type Result struct {
	// Format is qemu's name for the probed format: raw, qcow2, vmdk, vdi, vhdx, vpc, ...
	Format string
	// VirtualSize is the size of the disk the image describes, in bytes.
	VirtualSize int64
	// ActualSize is the space the image file occupies on disk, in bytes.
	ActualSize int64
}

// RefusedError says why an image was refused; Reason is shown to the user.
type RefusedError struct {
	Reason string
}

// Error implements error.
func (e *RefusedError) Error() string { return "image refused: " + e.Reason }

func refuse(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// IsRefused reports whether err is (or wraps) a *RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// glanceToQemu maps Glance disk_format names to the format qemu-img must probe.
var glanceToQemu = map[string]string{
	"raw":   "raw",
	"qcow2": "qcow2",
	"vmdk":  "vmdk",
	"vdi":   "vdi",
	"vhd":   "vpc",
	"vhdx":  "vhdx",
	"iso":   "raw",
	"ami":   "raw",
	"ari":   "raw",
	"aki":   "raw",
}

// SupportedDiskFormats lists the Glance disk_format values Inspect accepts.
func SupportedDiskFormats() []string {
	return []string{"aki", "ami", "ari", "iso", "qcow2", "raw", "vdi", "vhd", "vhdx", "vmdk"}
}

// Inspect runs `qemu-img info --output=json` (format probed, never trusted from the caller) under prlimit/timeout and applies the rules for the declared Glance disk_format.
//
// A dangerous, mislabelled, oversized or unreadable image yields a
// *RefusedError. Other errors (the caller's ctx ended, the tools are
// missing) are returned as they are: they say nothing about the image.
func Inspect(ctx context.Context, path, diskFormat string, lim Limits) (Result, error) {
	want, ok := glanceToQemu[diskFormat]
	if !ok {
		return Result{}, refuse("disk_format %q is not supported (supported: %v)", diskFormat, SupportedDiskFormats())
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Result{}, fmt.Errorf("inspect image: %w", err)
	}
	hdr, err := checkHeader(abs)
	if err != nil {
		return Result{}, err
	}
	info, err := runQemuImg(ctx, abs, lim.withDefaults())
	if err != nil {
		return Result{}, err
	}
	if err := checkInfo(info, abs); err != nil {
		return Result{}, err
	}
	if info.Format != want {
		return Result{}, mislabelled(diskFormat, info.Format)
	}
	if diskFormat == "iso" && !hdr.iso9660 {
		return Result{}, refuse("disk_format is iso but the image has no ISO 9660 signature (CD001)")
	}
	if lim.MaxVirtualSize > 0 && info.VirtualSize > lim.MaxVirtualSize {
		return Result{}, refuse("virtual size %d bytes exceeds the limit of %d bytes", info.VirtualSize, lim.MaxVirtualSize)
	}
	return Result{Format: info.Format, VirtualSize: info.VirtualSize, ActualSize: info.ActualSize}, nil
}

func mislabelled(diskFormat, probed string) error {
	return refuse("image is mislabelled: disk_format is %s but the data is %s", diskFormat, glanceName(probed))
}

// glanceName names a qemu format the way users know it.
func glanceName(qemuFormat string) string {
	switch qemuFormat {
	case "vpc":
		return "vhd"
	case "":
		return "an unknown format"
	}
	return qemuFormat
}
