package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
)

// header is what the Go-side check learned from the first bytes of an image.
type header struct {
	iso9660 bool // "CD001" at the first volume descriptor
}

const (
	qcow2Magic            = "QFI\xfb"
	qcow2IncompatDataFile = 1 << 2 // incompatible feature bit: external data file
	iso9660MagicOffset    = 32769  // 16 × 2048-byte system area sectors, then type byte
	vmdkDescriptorProbe   = 4096
)

// checkHeader refuses, before qemu-img runs, what qemu-img would act on
// while merely opening the image: qcow2 backing files and external data
// files, and VMDK text descriptors whose extents qemu opens.
func checkHeader(path string) (header, error) {
	var h header
	f, err := os.Open(path)
	if err != nil {
		return h, refuse("image could not be inspected: %s", sanitize(err.Error(), path))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return h, refuse("image could not be inspected: %s", sanitize(err.Error(), path))
	}
	if !st.Mode().IsRegular() {
		return h, refuse("image could not be inspected: not a regular file")
	}

	buf := make([]byte, vmdkDescriptorProbe)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return h, refuse("image could not be inspected: %s", sanitize(err.Error(), path))
	}
	buf = buf[:n]

	if err := checkQcow2Header(buf); err != nil {
		return h, err
	}
	if isVMDKDescriptor(buf) {
		return h, refuse("VMDK descriptor files are not allowed (only monolithicSparse and streamOptimized VMDK images are accepted)")
	}

	magic := make([]byte, 5)
	if _, err := f.ReadAt(magic, iso9660MagicOffset); err == nil {
		h.iso9660 = string(magic) == "CD001"
	}
	return h, nil
}

// checkQcow2Header refuses qcow2 headers that reference other files.
func checkQcow2Header(buf []byte) error {
	if len(buf) < 20 || string(buf[:4]) != qcow2Magic {
		return nil
	}
	version := binary.BigEndian.Uint32(buf[4:8])
	if version != 2 && version != 3 {
		// Not a qcow2 qemu would open; qemu-img's probe refuses it with a
		// better message than a guess at what the other fields mean.
		return nil
	}
	if backingOffset := binary.BigEndian.Uint64(buf[8:16]); backingOffset != 0 {
		return refuse("qcow2 images with a backing file are not allowed")
	}
	if version >= 3 && len(buf) >= 80 {
		if incompat := binary.BigEndian.Uint64(buf[72:80]); incompat&qcow2IncompatDataFile != 0 {
			return refuse("qcow2 images with an external data file are not allowed")
		}
	}
	return nil
}

// isVMDKDescriptor mirrors qemu's text-VMDK probe: after comment lines and
// blank space, a descriptor starts with "version=".
func isVMDKDescriptor(buf []byte) bool {
	for len(buf) > 0 {
		line := buf
		rest := []byte(nil)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line, rest = buf[:i], buf[i+1:]
		}
		trimmed := bytes.TrimLeft(line, " \t\r")
		switch {
		case len(trimmed) == 0 || trimmed[0] == '#':
			buf = rest
			continue
		default:
			return bytes.HasPrefix(trimmed, []byte("version="))
		}
	}
	return false
}

// sanitize keeps the first line of a tool's message, names the image
// "image" instead of its staging path, and bounds the length, so a Reason
// shown to users neither leaks host paths nor floods them.
func sanitize(msg, path string) string {
	msg, _, _ = strings.Cut(msg, "\n")
	msg = strings.ReplaceAll(msg, path, "image")
	msg = strings.TrimPrefix(strings.TrimSpace(msg), "qemu-img: ")
	const maxLen = 200
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "..."
	}
	return msg
}
