package cinderapi

import (
	"strings"

	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/storage/volume/driver/local"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// Build is the daemon.Builder of the volume API: it registers Cinder's
// policy and the volume quotas, and places new volumes on this node's
// manager. The image service is reached at --image-url (default
// <public url>/image).
func Build(d daemon.Deps) (daemon.Service, error) {
	if err := d.Policy.Register(Policy); err != nil {
		return nil, err
	}
	defaults, err := store.QuotaDefaults()
	if err != nil {
		return nil, err
	}
	d.Quota.Register(defaults)
	imageURL := d.Config.ImageURL
	if imageURL == "" {
		imageURL = strings.TrimRight(d.URL, "/") + "/image"
	}
	cfg := Config{PublicURL: strings.TrimRight(d.URL, "/"), Host: d.Config.Host, Backend: local.Name, Zone: "nova", ImageURL: imageURL}
	return New(cfg, Deps{Store: store.New(d.DB), Bus: d.Bus, Quota: d.Quota, Log: d.Log}), nil
}
