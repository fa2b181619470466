package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/google/uuid"
)

// ImageSource gives the agent a local file for an image; the agent copies
// (or hard links) it once into its image cache, <instances>/_base, and backs
// instance disks with the cached copy.
type ImageSource interface {
	// Image returns the path of the image's file on this host and its
	// format (qcow2 or raw).
	Image(ctx context.Context, imageID string) (path, format string, err error)
}

// LocalImages reads images from the image service's file backend on this
// host (<state>/images/data/<image id>), as in all-in-one. A scale-out agent
// would use an ImageSource that downloads through the image API.
type LocalImages struct {
	Dir string
}

// Image implements ImageSource.
func (l LocalImages) Image(ctx context.Context, imageID string) (string, string, error) {
	if _, err := uuid.Parse(imageID); err != nil {
		return "", "", fmt.Errorf("image %q is not a UUID", imageID)
	}
	path, err := filepath.Abs(filepath.Join(l.Dir, imageID))
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", "", fmt.Errorf("image %s has no data on this host: %w", imageID, err)
	}
	format, err := probeFormat(ctx, path)
	if err != nil {
		return "", "", err
	}
	return path, format, nil
}

// probeFormat asks qemu-img what format a file is.
func probeFormat(ctx context.Context, path string) (string, error) {
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", path).Output()
	if err != nil {
		return "", fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	var info struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	switch info.Format {
	case "qcow2", "raw":
		return info.Format, nil
	}
	return "", fmt.Errorf("image format %q is not supported (qcow2 or raw)", info.Format)
}
