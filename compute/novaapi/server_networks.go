package novaapi

import (
	"encoding/json"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// parseNetworks reads a create's "networks" and "security_groups": "none",
// "auto" (microversion 2.37) or a list of {uuid, port, fixed_ip}. From
// 2.37 networks is required; before, leaving it out asks for the
// project's one network if it has one.
func parseNetworks(m map[string]json.RawMessage, v Version) (*store.RequestedNetworks, error) {
	out := &store.RequestedNetworks{Mode: store.NetworksAny}
	raw, given := m["networks"]
	if !given {
		if v.At(37) {
			return nil, api.BadRequest("Invalid input for field/attribute server. Value: %s. 'networks' is a required property", compact(m))
		}
	} else {
		var s string
		var list []map[string]json.RawMessage
		switch {
		case json.Unmarshal(raw, &s) == nil && s == "none":
			out.Mode = store.NetworksNone
		case json.Unmarshal(raw, &s) == nil && s == "auto" && v.At(37):
			out.Mode = store.NetworksAuto
		case json.Unmarshal(raw, &list) == nil:
			out.Mode = store.NetworksList
			for _, e := range list {
				r, err := parseNetworkEntry(e)
				if err != nil {
					return nil, err
				}
				out.Networks = append(out.Networks, r)
			}
			if len(list) == 0 {
				out.Mode = store.NetworksNone
			}
		default:
			return nil, api.BadRequest("Invalid input for field/attribute networks. Value: %s. %s is not of type 'array'", raw, raw)
		}
	}
	if raw, given := m["security_groups"]; given {
		var groups []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &groups); err != nil {
			return nil, api.BadRequest("Invalid input for field/attribute security_groups. Value: %s. %s is not of type 'array'", raw, raw)
		}
		for _, g := range groups {
			name, ok, err := stringField(g, "name", 1, 255)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, api.BadRequest("Invalid input for field/attribute security_groups. 'name' is a required property")
			}
			out.SecurityGroups = append(out.SecurityGroups, name)
		}
	}
	return out, nil
}

// parseNetworkEntry reads one {uuid, port, fixed_ip} of a networks list.
func parseNetworkEntry(e map[string]json.RawMessage) (rpc.NetworkRequest, error) {
	var r rpc.NetworkRequest
	for k := range e {
		switch k {
		case "uuid", "port", "fixed_ip", "tag":
		default:
			return r, api.BadRequest("Invalid input for field/attribute networks. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	id, _, err := stringField(e, "uuid", 0, 255)
	if err != nil {
		return r, err
	}
	port, _, err := stringField(e, "port", 0, 255)
	if err != nil {
		return r, err
	}
	ip, _, err := stringField(e, "fixed_ip", 0, 255)
	if err != nil {
		return r, err
	}
	switch {
	case port != "":
		if uuid.Validate(port) != nil {
			return r, api.BadRequest("Bad networks format: port uuid is not in proper format (%s)", port)
		}
		r.PortID = strings.ToLower(port)
	case id == "":
		return r, api.BadRequest("Bad network format: missing 'uuid'")
	case uuid.Validate(id) != nil:
		return r, api.BadRequest("Bad networks format: network uuid is not in proper format (%s)", id)
	default:
		r.NetworkID = strings.ToLower(id)
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return r, api.BadRequest("Invalid fixed IP address (%s)", ip)
		}
		r.FixedIP = a.String()
	}
	return r, nil
}

// addressesView is a server's addresses from its network info cache:
// fixed and floating addresses by network name.
func addressesView(info store.NetworkInfo) gin.H {
	out := gin.H{}
	for _, p := range info {
		list, _ := out[p.NetworkName].([]gin.H)
		for _, f := range p.FixedIPs {
			list = append(list, gin.H{"version": f.Version, "addr": f.Address, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.MAC})
		}
		for _, f := range p.FloatingIPs {
			version := 4
			if strings.Contains(f, ":") {
				version = 6
			}
			list = append(list, gin.H{"version": version, "addr": f, "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": p.MAC})
		}
		if list == nil {
			list = []gin.H{}
		}
		out[p.NetworkName] = list
	}
	return out
}

// groupsView is a server's security_groups: the names given at create,
// or Neutron's "default".
func groupsView(names []string) []gin.H {
	if len(names) == 0 {
		return []gin.H{{"name": "default"}}
	}
	out := make([]gin.H, len(names))
	for i, n := range names {
		out[i] = gin.H{"name": n}
	}
	return out
}
