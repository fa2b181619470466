package image

import (
	"fmt"
	"os"
	"strconv"

	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/storage/image/backend"
	"github.com/kumo-cloud/kumo/storage/image/inspect"
	"github.com/kumo-cloud/kumo/storage/image/store"
)

// DefaultSizeTotalQuota is the default per-project image.image_size_total:
// 100 GiB.
const DefaultSizeTotalQuota int64 = 100 << 30

// Build is the daemon.Builder of the image service: it registers the image
// policy and quota defaults and keeps image data under <state>/images.
//
// The default quotas come from KUMO_IMAGE_QUOTA_IMAGES (default -1,
// unlimited) and KUMO_IMAGE_QUOTA_SIZE_TOTAL (bytes, default 100 GiB);
// per-project limits are set through Keystone's /v3/limits.
func Build(d daemon.Deps) (daemon.Service, error) {
	if err := d.Policy.Register(Policy); err != nil {
		return nil, err
	}
	cfg := Config{PublicURL: d.URL, ImagesQuota: quota.Unlimited, SizeTotalQuota: DefaultSizeTotalQuota, Inspect: inspect.DefaultLimits}
	for env, ptr := range map[string]*int64{"KUMO_IMAGE_QUOTA_IMAGES": &cfg.ImagesQuota, "KUMO_IMAGE_QUOTA_SIZE_TOTAL": &cfg.SizeTotalQuota} {
		if v, ok := os.LookupEnv(env); ok && v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < quota.Unlimited {
				return nil, fmt.Errorf("%s=%q: want -1 (unlimited) or a count", env, v)
			}
			*ptr = n
		}
	}
	defaults := quota.Defaults{ResourceImages: cfg.ImagesQuota, ResourceSizeTotal: cfg.SizeTotalQuota}
	if err := defaults.Validate(); err != nil {
		return nil, err
	}
	d.Quota.Register(defaults)
	drv, err := backend.NewFile(d.Config.Path("images"))
	if err != nil {
		return nil, err
	}
	staging, err := backend.NewFile(d.Config.Path("images", "import"))
	if err != nil {
		return nil, err
	}
	return New(cfg, Deps{Store: store.New(d.DB), Bus: d.Bus, Quota: d.Quota, Driver: drv, Staging: staging, Log: d.Log}), nil
}
