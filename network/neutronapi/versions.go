package neutronapi

import (
	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// versions answers /network with Neutron's version list.
func (s *Service) versions(c *gin.Context) (*api.Response, error) {
	return api.OK(map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT",
		"links": []any{map[string]string{"rel": "self", "href": s.cfg.PublicURL + Prefix + "/v2.0/"}},
	}}}), nil
}

// resources answers /network/v2.0 with the collections it serves.
func (s *Service) resources(c *gin.Context) (*api.Response, error) {
	var out []any
	for _, r := range [][2]string{
		{"network", "networks"}, {"subnet", "subnets"}, {"port", "ports"},
		{"security_group", "security-groups"}, {"security_group_rule", "security-group-rules"},
		{"router", "routers"}, {"floatingip", "floatingips"}, {"quota", "quotas"},
	} {
		out = append(out, map[string]any{"name": r[0], "collection": r[1], "links": []any{
			map[string]string{"rel": "self", "href": s.cfg.PublicURL + Prefix + "/v2.0/" + r[1]},
		}})
	}
	return api.OK(map[string]any{"resources": out}), nil
}

// extension is one entry of /v2.0/extensions.
type extension struct{ alias, name, description string }

// extensions lists what kumo really implements.
var extensions = []extension{
	{"allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"},
	{"binding", "Port Binding", "Expose port bindings of a virtual port to external application"},
	{"external-net", "Neutron external network", "Adds external network attribute to network resource."},
	{"ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"},
	{"fields", "Fields", "Support for the fields parameter on GET requests"},
	{"net-mtu", "Network MTU", "Provides MTU attribute for a network resource."},
	{"pagination", "Pagination support", "Extension that indicates that pagination is enabled."},
	{"port-security", "Port Security", "Provides port security"},
	{"project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."},
	{"provider", "Provider Network", "Expose mapping of virtual networks to physical networks"},
	{"quotas", "Quota management support", "Expose functions for quotas management per project"},
	{"quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"},
	{"router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."},
	{"security-group", "security-group", "The security groups extension."},
	{"sorting", "Sorting support", "Extension that indicates that sorting is enabled."},
	{"standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"},
	{"standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."},
	{"standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."},
	{"standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."},
}

func (e extension) view() map[string]any {
	return map[string]any{"alias": e.alias, "name": e.name, "description": e.description,
		"updated": "2013-01-01T10:00:00-00:00", "links": []any{}}
}

func (s *Service) listExtensions(c *gin.Context) (*api.Response, error) {
	out := make([]any, len(extensions))
	for i, e := range extensions {
		out[i] = e.view()
	}
	return api.OK(map[string]any{"extensions": out}), nil
}

func (s *Service) getExtension(c *gin.Context) (*api.Response, error) {
	for _, e := range extensions {
		if e.alias == c.Param("alias") {
			return api.OK(map[string]any{"extension": e.view()}), nil
		}
	}
	return nil, notFound("ExtensionNotFound", "Extension with alias %s does not exist", c.Param("alias"))
}
