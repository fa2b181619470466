package neutronapi

// Policy is the network API's default policy with Neutron's rule names.
// Project scoping is enforced by the handlers (another project's resource
// is 404); these rules decide who may act at all, and which attributes
// only admins may set or see. Rules whose value is "" admit any
// authenticated caller.
var Policy = map[string]string{
	"get_extension": "",

	"create_network":                           "rule:project_member_or_admin",
	"get_network":                              "rule:project_reader_or_admin",
	"update_network":                           "rule:project_member_or_admin",
	"delete_network":                           "rule:project_member_or_admin",
	"create_network:shared":                    "rule:admin_required",
	"update_network:shared":                    "rule:admin_required",
	"create_network:router:external":           "rule:admin_required",
	"update_network:router:external":           "rule:admin_required",
	"create_network:provider:network_type":     "rule:admin_required",
	"create_network:provider:physical_network": "rule:admin_required",
	"create_network:provider:segmentation_id":  "rule:admin_required",
	"get_network:provider:network_type":        "rule:admin_required",
	"get_network:provider:physical_network":    "rule:admin_required",
	"get_network:provider:segmentation_id":     "rule:admin_required",

	"create_subnet": "rule:project_member_or_admin",
	"get_subnet":    "rule:project_reader_or_admin",
	"update_subnet": "rule:project_member_or_admin",
	"delete_subnet": "rule:project_member_or_admin",

	"create_port":                  "rule:project_member_or_admin",
	"get_port":                     "rule:project_reader_or_admin",
	"update_port":                  "rule:project_member_or_admin",
	"delete_port":                  "rule:project_member_or_admin",
	"create_port:binding:host_id":  "rule:admin_required",
	"update_port:binding:host_id":  "rule:admin_required",
	"get_port:binding:host_id":     "rule:admin_required",
	"get_port:binding:vif_type":    "rule:admin_required",
	"get_port:binding:vif_details": "rule:admin_required",
	"create_port:mac_address":      "rule:admin_required",

	"create_security_group":      "rule:project_member_or_admin",
	"get_security_group":         "rule:project_reader_or_admin",
	"update_security_group":      "rule:project_member_or_admin",
	"delete_security_group":      "rule:project_member_or_admin",
	"create_security_group_rule": "rule:project_member_or_admin",
	"get_security_group_rule":    "rule:project_reader_or_admin",
	"delete_security_group_rule": "rule:project_member_or_admin",

	"create_router":           "rule:project_member_or_admin",
	"get_router":              "rule:project_reader_or_admin",
	"update_router":           "rule:project_member_or_admin",
	"delete_router":           "rule:project_member_or_admin",
	"add_router_interface":    "rule:project_member_or_admin",
	"remove_router_interface": "rule:project_member_or_admin",
	"create_router:external_gateway_info:external_fixed_ips": "rule:admin_required",
	"update_router:external_gateway_info:external_fixed_ips": "rule:admin_required",

	"create_floatingip":                     "rule:project_member_or_admin",
	"get_floatingip":                        "rule:project_reader_or_admin",
	"update_floatingip":                     "rule:project_member_or_admin",
	"delete_floatingip":                     "rule:project_member_or_admin",
	"create_floatingip:floating_ip_address": "rule:admin_required",

	// Project readers read their own quotas; admins read and set anyone's.
	"get_quota":    "rule:project_reader_or_admin",
	"update_quota": "rule:admin_required",
	"delete_quota": "rule:admin_required",
}
