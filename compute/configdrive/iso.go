package configdrive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// VolumeLabel is the ISO9660 volume ID cloud-init looks for.
const VolumeLabel = "config-2"

// isoTool is the ISO9660 writer; Nova's default mkisofs_cmd.
const isoTool = "genisoimage"

// WriteISO writes the drive as a Rock Ridge + Joliet ISO9660 image labelled
// config-2 at path, with the flags Nova passes to genisoimage. The file
// appears complete or not at all.
func (d Drive) WriteISO(ctx context.Context, path string) error {
	tool, err := exec.LookPath(isoTool)
	if err != nil {
		return fmt.Errorf("configdrive: %s not found in PATH (Debian package genisoimage; deploy/host-setup.sh installs it): %w", isoTool, err)
	}
	files, err := d.Files()
	if err != nil {
		return err
	}
	src, err := os.MkdirTemp("", "kumo-configdrive-")
	if err != nil {
		return fmt.Errorf("configdrive: %w", err)
	}
	defer os.RemoveAll(src)
	for name, data := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("configdrive: %w", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("configdrive: %w", err)
		}
	}

	out, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("configdrive: %w", err)
	}
	tmp := out.Name()
	out.Close()
	defer os.Remove(tmp) // no-op after the rename

	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool,
		"-o", tmp, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
		"-publisher", "kumo", "-quiet", "-J", "-r", "-V", VolumeLabel, src)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("configdrive: %s: %w", isoTool, errors.Join(ctxErr, err))
		}
		return fmt.Errorf("configdrive: %s: %w: %s", isoTool, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("configdrive: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("configdrive: %w", err)
	}
	return nil
}
