package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"github.com/kumo-cloud/kumo/internal/rpc"
)

// Modes of a server create's "networks".
const (
	// NetworksNone asks for no network ("none").
	NetworksNone = "none"
	// NetworksAuto asks for the project's one usable network ("auto").
	NetworksAuto = "auto"
	// NetworksAny is an absent "networks" before microversion 2.37: the
	// project's one usable network if there is one, else none.
	NetworksAny = "any"
	// NetworksList asks for the listed networks and ports.
	NetworksList = "list"
)

// RequestedNetworks is what a server create asked for, kept on the
// instance for the agent that builds it.
type RequestedNetworks struct {
	Mode     string               `json:"mode"`
	Networks []rpc.NetworkRequest `json:"networks,omitempty"`
	// SecurityGroups are the names given at create; empty means default.
	SecurityGroups []string `json:"security_groups,omitempty"`
}

// Scan implements sql.Scanner.
func (r *RequestedNetworks) Scan(src any) error { return scanJSON(src, r, "requested networks") }

// Value implements driver.Valuer.
func (r RequestedNetworks) Value() (driver.Value, error) {
	raw, err := json.Marshal(r)
	return string(raw), err
}

// NetworkInfo is the instance's ports as the network service last
// described them (Nova's instance_info_caches).
type NetworkInfo []rpc.Port

// Scan implements sql.Scanner.
func (n *NetworkInfo) Scan(src any) error {
	*n = nil
	return scanJSON(src, n, "network info")
}

// Value implements driver.Valuer.
func (n NetworkInfo) Value() (driver.Value, error) {
	if n == nil {
		n = NetworkInfo{}
	}
	raw, err := json.Marshal(n)
	return string(raw), err
}

func scanJSON(src, dst any, what string) error {
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		return json.Unmarshal(v, dst)
	case string:
		return json.Unmarshal([]byte(v), dst)
	}
	return fmt.Errorf("scan %s: unexpected %T", what, src)
}

// SetNetworkInfo replaces an instance's network info cache.
func (s *Store) SetNetworkInfo(ctx context.Context, uuid string, info NetworkInfo) error {
	return s.UpdateInstance(ctx, uuid, map[string]any{"network_info": info})
}
