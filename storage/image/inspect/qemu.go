package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// Tool names, resolved through PATH.
const (
	qemuImgBin = "qemu-img"
	prlimitBin = "prlimit"
)

// maxInfoOutput bounds qemu-img's JSON; real reports are a few KiB, a
// crafted VMDK with thousands of extents is not worth reading.
const maxInfoOutput = 1 << 20

// qemuInfo is the part of `qemu-img info --output=json` the rules read.
type qemuInfo struct {
	Format              string          `json:"format"`
	VirtualSize         int64           `json:"virtual-size"`
	ActualSize          int64           `json:"actual-size"`
	BackingFilename     string          `json:"backing-filename"`
	FullBackingFilename string          `json:"full-backing-filename"`
	BackingFormat       string          `json:"backing-filename-format"`
	FormatSpecific      *formatSpecific `json:"format-specific"`
}

type formatSpecific struct {
	Type string             `json:"type"`
	Data formatSpecificData `json:"data"`
}

// formatSpecificData merges the fields of the format-specific types the
// rules care about (qcow2 and vmdk).
type formatSpecificData struct {
	// qcow2
	DataFile *string `json:"data-file"`
	Corrupt  bool    `json:"corrupt"`
	// vmdk
	CreateType string       `json:"create-type"`
	ParentCID  *uint32      `json:"parent-cid"`
	Extents    []vmdkExtent `json:"extents"`
}

type vmdkExtent struct {
	Filename string `json:"filename"`
	Format   string `json:"format"`
}

// runQemuImg runs qemu-img info on path under the limits. -U (force share)
// lets it read a file another process may hold open and never takes locks;
// without --backing-chain qemu-img opens the image with BDRV_O_NO_BACKING,
// so backing files are not opened (the header check refuses them first
// anyway). The format is always probed: -f is never passed.
func runQemuImg(ctx context.Context, path string, lim Limits) (*qemuInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prlimit, err := exec.LookPath(prlimitBin)
	if err != nil {
		return nil, fmt.Errorf("inspect image: %w", err)
	}
	qemuImg, err := exec.LookPath(qemuImgBin)
	if err != nil {
		return nil, fmt.Errorf("inspect image: %w", err)
	}

	runCtx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, prlimit,
		"--cpu="+strconv.Itoa(lim.CPUSeconds),
		"--as="+strconv.FormatInt(lim.AddressSpace, 10),
		"--core=0",
		"--",
		qemuImg, "info", "-U", "--output=json", path)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.WaitDelay = time.Second
	stdout := &limitedBuffer{max: maxInfoOutput}
	stderr := &limitedBuffer{max: 4096, truncate: true}
	cmd.Stdout = stdout
	cmd.Stderr = stderr

	runErr := cmd.Run()
	if err := ctx.Err(); err != nil {
		// The caller gave up; that says nothing about the image.
		return nil, err
	}
	if runCtx.Err() != nil {
		return nil, refuse("image could not be inspected: timed out after %s", lim.Timeout)
	}
	if runErr != nil {
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) && exitErr.ProcessState != nil && !exitErr.Exited() {
			return nil, refuse("image could not be inspected: qemu-img was stopped by its resource limits (%s)", exitErr.ProcessState)
		}
		if msg := sanitize(stderr.String(), path); msg != "" {
			return nil, refuse("image could not be inspected: %s", msg)
		}
		return nil, refuse("image could not be inspected: %s", sanitize(runErr.Error(), path))
	}

	var info qemuInfo
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return nil, refuse("image could not be inspected: unreadable qemu-img report")
	}
	if info.Format == "" {
		return nil, refuse("image could not be inspected: qemu-img reported no format")
	}
	return &info, nil
}

// limitedBuffer collects up to max bytes; beyond that it either fails the
// write (stdout: the report is unusable) or drops the excess (stderr).
type limitedBuffer struct {
	bytes.Buffer
	max      int
	truncate bool
}

var errOutputTooLarge = errors.New("output too large")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.Len()
	if len(p) > room {
		if !b.truncate {
			return 0, errOutputTooLarge
		}
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
