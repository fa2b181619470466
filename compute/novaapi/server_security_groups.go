package novaapi

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// securityGroupAction is addSecurityGroup / removeSecurityGroup: the
// network service changes the group on every port of the server, and the
// server's view follows from its requested networks.
func (s *Service) securityGroupAction(c *gin.Context, _ Version, name string, arg json.RawMessage) (*api.Response, error) {
	remove := name == "removeSecurityGroup"
	rule := "os_compute_api:os-security-groups:add"
	if remove {
		rule = "os_compute_api:os-security-groups:remove"
	}
	if !api.Allowed(c, rule, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(arg, &body); err != nil || body == nil {
		return nil, api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", name, arg, arg)
	}
	group, ok, err := stringField(body, "name", 1, 255)
	if err != nil {
		return nil, err
	}
	if !ok || strings.TrimSpace(group) == "" {
		return nil, api.BadRequest("Security group name cannot be empty")
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	rn := store.RequestedNetworks{Mode: store.NetworksList}
	if in.RequestedNetworks != nil {
		rn = *in.RequestedNetworks
	}
	groups := slices.Clone(rn.SecurityGroups)
	if len(groups) == 0 {
		groups = []string{"default"}
	}
	i := slices.Index(groups, group)
	if remove && i < 0 {
		return nil, api.NotFound("Security group %s not associated with the instance %s", group, in.UUID)
	}
	if s.bus == nil {
		return nil, api.Unavailable("The network service is not reachable")
	}
	ctx := c.Request.Context()
	_, err = bus.Request[rpc.SecurityGroupRequest, rpc.SecurityGroupReply](ctx, s.bus, rpc.SubjInstanceSecurityGroups,
		rpc.SecurityGroupRequest{ProjectID: in.ProjectID, DeviceID: in.UUID, Group: group, Remove: remove})
	switch {
	case bus.HasCode(err, bus.CodeNotFound) && remove && strings.Contains(err.Error(), "not associated"):
		return nil, api.NotFound("Security group %s not associated with the instance %s", group, in.UUID)
	case bus.HasCode(err, bus.CodeNotFound):
		return nil, api.NotFound("Security group %s not found.", group)
	case bus.HasCode(err, bus.CodeConflict):
		return nil, api.BadRequest("Security group %s is already associated with the instance %s", group, in.UUID)
	case bus.HasCode(err, bus.CodeUnavailable):
		return nil, api.Unavailable("The network service is not reachable")
	case err != nil:
		return nil, err
	}
	if remove {
		groups = slices.Delete(groups, i, i+1)
	} else if i < 0 {
		groups = append(groups, group)
	}
	rn.SecurityGroups = groups
	if err := s.store.UpdateInstance(ctx, in.UUID, map[string]any{"requested_networks": rn}); err != nil {
		return nil, err
	}
	s.action(c, in, name)
	return api.Accepted(nil), nil
}
