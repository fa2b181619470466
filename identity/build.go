package identity

import (
	"github.com/kumo-cloud/kumo/identity/store"
	"github.com/kumo-cloud/kumo/internal/daemon"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// Build is the daemon.Builder of the identity service: it registers
// identity's policy defaults and wires the service to the daemon's database,
// bus and token machinery.
func Build(d daemon.Deps) (daemon.Service, error) {
	if err := d.Policy.Register(Policy); err != nil {
		return nil, err
	}
	d.Quota.Register(quota.Defaults{ResourceAppCreds: quota.Unlimited})
	return New(Config{PublicURL: d.URL, StateDir: d.Config.StateDir, TokenTTL: d.Config.TokenTTL,
		LockoutAttempts: d.Config.LockoutAttempts, LockoutDuration: d.Config.LockoutDuration}, Deps{
		Store:       store.New(d.DB),
		Bus:         d.Bus,
		Codec:       d.Codec,
		Tokens:      d.Tokens,
		Revocations: d.Revocations,
		Quota:       d.Quota,
		Log:         d.Log,
	}), nil
}
