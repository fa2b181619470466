package manager

import (
	"context"
	"time"

	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/storage/volume/driver/local"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// Build is the daemon.Builder of this node's volume manager, on the local
// qcow2 driver under <state dir>/volumes.
func Build(d daemon.Deps) (daemon.Service, error) {
	defaults, err := store.QuotaDefaults()
	if err != nil {
		return nil, err
	}
	d.Quota.Register(defaults)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	drv, err := local.New(ctx, local.Config{Dir: d.Config.Path("volumes"), URI: d.Config.LibvirtURI}, d.Log.With("component", "volume-driver"))
	if err != nil {
		return nil, err
	}
	m := New(Config{Host: d.Config.Host}, Deps{Store: store.New(d.DB), Bus: d.Bus, Quota: d.Quota, Driver: drv, Log: d.Log})
	m.closer = drv.Close
	return m, nil
}
