package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Timeouts of qemu-img runs: metadata calls are quick, data copies are
// bounded by Config.CopyTimeout.
const (
	infoTimeout = 30 * time.Second
	metaTimeout = 2 * time.Minute
)

// qemuImg runs qemu-img with a timeout, returning its stdout; a failure
// carries its stderr.
func qemuImg(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "qemu-img", args...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if runCtx.Err() != nil {
			return nil, fmt.Errorf("qemu-img %s: timed out after %s", args[0], timeout)
		}
		return nil, fmt.Errorf("qemu-img %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// imageInfo is the part of `qemu-img info --output=json` the driver reads.
type imageInfo struct {
	Format          string `json:"format"`
	VirtualSize     int64  `json:"virtual-size"`
	BackingFilename string `json:"backing-filename"`
	BackingFormat   string `json:"backing-filename-format"`
	FormatSpecific  *struct {
		Data struct {
			DataFile *string `json:"data-file"`
		} `json:"data"`
	} `json:"format-specific"`
}

// info probes a file's format and size. -U reads a file a guest has open;
// the format is probed, never given, and backing files are not opened.
func info(ctx context.Context, path string) (imageInfo, error) {
	out, err := qemuImg(ctx, infoTimeout, "info", "-U", "--output=json", path)
	if err != nil {
		return imageInfo{}, err
	}
	var in imageInfo
	if err := json.Unmarshal(out, &in); err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return in, nil
}

// convert copies src (of srcFormat, following its backing chain) to a new
// standalone file at dst (not flushed: see syncFile). Zero clusters stay unallocated,
// so copies are as thin as their source. dst is a new file in tmp/ that
// nothing reads before it is complete, so qemu-img may write it out of
// order (-W), which halves the time of a 1 GiB copy.
func convert(ctx context.Context, timeout time.Duration, src, srcFormat, dst, dstFormat string) error {
	_, err := qemuImg(ctx, timeout, "convert", "-U", "-q", "-W", "-f", srcFormat, "-O", dstFormat, src, dst)
	return err
}

// resize grows a qcow2 file that no guest uses to sizeBytes.
func resize(ctx context.Context, path string, sizeBytes int64) error {
	_, err := qemuImg(ctx, metaTimeout, "resize", "-q", "-f", "qcow2", path, strconv.FormatInt(sizeBytes, 10))
	return err
}

// syncFile flushes a file built in tmp/ before it is renamed into place,
// so that after a crash a file in the pool or the cache is whole.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// qcow2Header is what the driver reads of a qcow2 header itself: qemu-img
// would need -U and a process per file to read the backing file of every
// volume when looking for a base's users.
type qcow2Header struct {
	isQcow2 bool
	// backing is the absolute backing file, "" when none.
	backing string
	// externalData is set when the image keeps its data in another file.
	externalData bool
}

// qcow2 incompatible feature bit 2: external data file.
const incompatDataFile = 1 << 2

// readQcow2Header reads path's qcow2 header; a missing file or one that is
// not qcow2 yields a zero header.
func readQcow2Header(path string) (qcow2Header, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return qcow2Header{}, nil
		}
		return qcow2Header{}, err
	}
	defer f.Close()
	var hdr [80]byte
	n, err := io.ReadFull(f, hdr[:])
	if n < 20 || string(hdr[:4]) != "QFI\xfb" {
		return qcow2Header{}, nil
	}
	h := qcow2Header{isQcow2: true}
	if version := binary.BigEndian.Uint32(hdr[4:8]); version >= 3 && err == nil {
		h.externalData = binary.BigEndian.Uint64(hdr[72:80])&incompatDataFile != 0
	}
	off, size := binary.BigEndian.Uint64(hdr[8:16]), binary.BigEndian.Uint32(hdr[16:20])
	if off == 0 || size == 0 {
		return h, nil
	}
	if size > 4096 {
		return h, fmt.Errorf("%s: backing file name of %d bytes", path, size)
	}
	name := make([]byte, size)
	if _, err := f.ReadAt(name, int64(off)); err != nil {
		return h, fmt.Errorf("%s: backing file name: %w", path, err)
	}
	b := string(name)
	if !filepath.IsAbs(b) {
		b = filepath.Join(filepath.Dir(path), b)
	}
	h.backing = filepath.Clean(b)
	return h, nil
}
