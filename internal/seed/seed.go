// Package seed owns uploading kumo's own guest images (kumo-tiny,
// kumo-host) as public images when a cloud first starts. It talks to the
// image service only through the public API, as the admin of clouds.yaml,
// like any platform layer; it must not reach into a service's tables.
package seed

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// Image is a local image file to publish under a name.
type Image struct {
	Name       string
	Path       string
	DiskFormat string
}

// Parse reads a --seed-image value: name=path, with the disk format taken
// from the file's extension (qcow2 unless .raw/.img).
func Parse(v string) (Image, error) {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return Image{}, fmt.Errorf("--seed-image %q: want name=path", v)
	}
	format := "qcow2"
	switch strings.ToLower(filepath.Ext(path)) {
	case ".raw", ".img":
		format = "raw"
	}
	return Image{Name: name, Path: path, DiskFormat: format}, nil
}

// Publish makes sure every image exists as an active public image, uploading
// the ones that do not. It authenticates with cloud "kumo" of cloudsYAML.
func Publish(ctx context.Context, cloudsYAML string, imgs []Image, log *slog.Logger) error {
	if len(imgs) == 0 {
		return nil
	}
	opts, _, _, err := clouds.Parse(clouds.WithCloudName("kumo"), clouds.WithLocations(cloudsYAML))
	if err != nil {
		return fmt.Errorf("seed images: %w", err)
	}
	pc, err := openstack.AuthenticatedClient(ctx, opts)
	if err != nil {
		return fmt.Errorf("seed images: authenticate: %w", err)
	}
	client, err := openstack.NewImageV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		return fmt.Errorf("seed images: %w", err)
	}
	for _, img := range imgs {
		if err := publish(ctx, client, img, log); err != nil {
			return fmt.Errorf("seed image %s: %w", img.Name, err)
		}
	}
	return nil
}

func publish(ctx context.Context, client *gophercloud.ServiceClient, img Image, log *slog.Logger) error {
	pages, err := images.List(client, images.ListOpts{Name: img.Name, Visibility: images.ImageVisibilityPublic}).AllPages(ctx)
	if err != nil {
		return err
	}
	existing, err := images.ExtractImages(pages)
	if err != nil {
		return err
	}
	for _, e := range existing {
		if e.Status == images.ImageStatusActive {
			log.Info("seed image already present", "name", img.Name, "image_id", e.ID)
			return nil
		}
		// A leftover from an interrupted seed: replace it.
		if err := images.Delete(ctx, client, e.ID).ExtractErr(); err != nil {
			return err
		}
	}
	f, err := os.Open(img.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	visibility := images.ImageVisibilityPublic
	created, err := images.Create(ctx, client, images.CreateOpts{
		Name: img.Name, DiskFormat: img.DiskFormat, ContainerFormat: "bare", Visibility: &visibility,
		Tags: []string{"kumo"}, Properties: map[string]string{"os_distro": "kumo", "hw_disk_bus": "virtio"},
	}).Extract()
	if err != nil {
		return err
	}
	if err := imagedata.Upload(ctx, client, created.ID, f).ExtractErr(); err != nil {
		images.Delete(ctx, client, created.ID)
		return err
	}
	log.Info("seed image published", "name", img.Name, "image_id", created.ID, "path", img.Path)
	return nil
}
