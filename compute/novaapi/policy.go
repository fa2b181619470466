package novaapi

// Policy is the compute API's default policy, with Nova's rule names and
// its secure-RBAC defaults: flavor, quota and availability-zone management
// is for admins; project readers read their project's quotas and limits;
// key pairs belong to their user. Rules whose value is "" admit any
// authenticated caller (Nova's "@").
var Policy = map[string]string{
	"os_compute_api:context_is_admin": "rule:context_is_admin",
	"os_compute_api:admin_api":        "rule:admin_required",
	// The long server actions and the migrations listing.
	"os_compute_api:servers:resize":         "rule:project_member_or_admin",
	"os_compute_api:servers:confirm_resize": "rule:project_member_or_admin",
	"os_compute_api:servers:revert_resize":  "rule:project_member_or_admin",
	"os_compute_api:servers:rebuild":        "rule:project_member_or_admin",
	"os_compute_api:servers:create_image":   "rule:project_member_or_admin",
	"os_compute_api:os-migrations:index":    "rule:os_compute_api:admin_api",

	"os_compute_api:flavors:index": "",
	"os_compute_api:flavors:show":  "",

	"os_compute_api:os-flavor-manage:create": "rule:os_compute_api:admin_api",
	"os_compute_api:os-flavor-manage:update": "rule:os_compute_api:admin_api",
	"os_compute_api:os-flavor-manage:delete": "rule:os_compute_api:admin_api",

	"os_compute_api:os-flavor-extra-specs:index":  "rule:project_reader_or_admin",
	"os_compute_api:os-flavor-extra-specs:show":   "rule:project_reader_or_admin",
	"os_compute_api:os-flavor-extra-specs:create": "rule:os_compute_api:admin_api",
	"os_compute_api:os-flavor-extra-specs:update": "rule:os_compute_api:admin_api",
	"os_compute_api:os-flavor-extra-specs:delete": "rule:os_compute_api:admin_api",

	"os_compute_api:os-flavor-access":                      "rule:os_compute_api:admin_api",
	"os_compute_api:os-flavor-access:add_tenant_access":    "rule:os_compute_api:admin_api",
	"os_compute_api:os-flavor-access:remove_tenant_access": "rule:os_compute_api:admin_api",

	"os_compute_api:os-keypairs:index":  "rule:os_compute_api:admin_api or user_id:%(user_id)s",
	"os_compute_api:os-keypairs:create": "rule:os_compute_api:admin_api or user_id:%(user_id)s",
	"os_compute_api:os-keypairs:show":   "rule:os_compute_api:admin_api or user_id:%(user_id)s",
	"os_compute_api:os-keypairs:delete": "rule:os_compute_api:admin_api or user_id:%(user_id)s",

	"os_compute_api:servers:create":                 "rule:project_member_or_admin",
	"os_compute_api:servers:index":                  "rule:project_reader_or_admin",
	"os_compute_api:servers:detail":                 "rule:project_reader_or_admin",
	"os_compute_api:servers:index:get_all_tenants":  "rule:os_compute_api:admin_api",
	"os_compute_api:servers:detail:get_all_tenants": "rule:os_compute_api:admin_api",
	"os_compute_api:servers:show":                   "rule:project_reader_or_admin",
	"os_compute_api:servers:delete":                 "rule:project_member_or_admin",
	"os_compute_api:servers:stop":                   "rule:project_member_or_admin",
	"os_compute_api:servers:start":                  "rule:project_member_or_admin",
	"os_compute_api:servers:reboot":                 "rule:project_member_or_admin",
	"os_compute_api:os-pause-server:pause":          "rule:project_member_or_admin",
	"os_compute_api:os-pause-server:unpause":        "rule:project_member_or_admin",
	"os_compute_api:os-suspend-server:suspend":      "rule:project_member_or_admin",
	"os_compute_api:os-suspend-server:resume":       "rule:project_member_or_admin",
	"os_compute_api:os-console-output":              "rule:project_member_or_admin",
	"os_compute_api:os-remote-consoles":             "rule:project_member_or_admin",
	"os_compute_api:os-attach-interfaces:list":      "rule:project_reader_or_admin",
	"os_compute_api:os-attach-interfaces:show":      "rule:project_reader_or_admin",
	"os_compute_api:os-attach-interfaces:create":    "rule:project_member_or_admin",
	"os_compute_api:os-attach-interfaces:delete":    "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:add":         "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:remove":      "rule:project_member_or_admin",

	"os_compute_api:servers:update":                        "rule:project_member_or_admin",
	"os_compute_api:os-lock-server:lock":                   "rule:project_member_or_admin",
	"os_compute_api:os-lock-server:unlock":                 "rule:project_member_or_admin",
	"os_compute_api:os-lock-server:unlock:unlock_override": "rule:os_compute_api:admin_api",
	"os_compute_api:os-admin-password":                     "rule:project_member_or_admin",
	"os_compute_api:server-metadata:index":                 "rule:project_reader_or_admin",
	"os_compute_api:server-metadata:show":                  "rule:project_reader_or_admin",
	"os_compute_api:server-metadata:create":                "rule:project_member_or_admin",
	"os_compute_api:server-metadata:update_all":            "rule:project_member_or_admin",
	"os_compute_api:server-metadata:update":                "rule:project_member_or_admin",
	"os_compute_api:server-metadata:delete":                "rule:project_member_or_admin",
	"os_compute_api:os-server-tags:index":                  "rule:project_reader_or_admin",
	"os_compute_api:os-server-tags:show":                   "rule:project_reader_or_admin",
	"os_compute_api:os-server-tags:update":                 "rule:project_member_or_admin",
	"os_compute_api:os-server-tags:update_all":             "rule:project_member_or_admin",
	"os_compute_api:os-server-tags:delete":                 "rule:project_member_or_admin",
	"os_compute_api:os-server-tags:delete_all":             "rule:project_member_or_admin",
	"os_compute_api:os-instance-actions:list":              "rule:project_reader_or_admin",
	"os_compute_api:os-instance-actions:show":              "rule:project_reader_or_admin",
	"os_compute_api:os-instance-actions:events":            "rule:os_compute_api:admin_api",
	"os_compute_api:os-instance-actions:events:details":    "rule:project_reader_or_admin",

	"os_compute_api:os-server-groups:create":             "rule:project_member_or_admin",
	"os_compute_api:os-server-groups:delete":             "rule:project_member_or_admin",
	"os_compute_api:os-server-groups:index":              "rule:project_reader_or_admin",
	"os_compute_api:os-server-groups:index:all_projects": "rule:os_compute_api:admin_api",
	"os_compute_api:os-server-groups:show":               "rule:project_reader_or_admin",
	"os_compute_api:os-services:list":                    "rule:os_compute_api:admin_api",
	"os_compute_api:os-services:update":                  "rule:os_compute_api:admin_api",
	"os_compute_api:os-hypervisors:list":                 "rule:os_compute_api:admin_api",
	"os_compute_api:os-hypervisors:list-detail":          "rule:os_compute_api:admin_api",
	"os_compute_api:os-hypervisors:show":                 "rule:os_compute_api:admin_api",
	"os_compute_api:os-hypervisors:statistics":           "rule:os_compute_api:admin_api",
	"os_compute_api:os-hypervisors:search":               "rule:os_compute_api:admin_api",
	"os_compute_api:os-hypervisors:servers":              "rule:os_compute_api:admin_api",

	"os_compute_api:limits":               "",
	"os_compute_api:limits:other_project": "rule:os_compute_api:admin_api",

	"os_compute_api:os-quota-sets:show":     "rule:project_reader_or_admin",
	"os_compute_api:os-quota-sets:detail":   "rule:project_reader_or_admin",
	"os_compute_api:os-quota-sets:defaults": "",
	"os_compute_api:os-quota-sets:update":   "rule:os_compute_api:admin_api",
	"os_compute_api:os-quota-sets:delete":   "rule:os_compute_api:admin_api",

	"os_compute_api:os-availability-zone:list":   "",
	"os_compute_api:os-availability-zone:detail": "rule:os_compute_api:admin_api",

	"os_compute_api:extensions": "",
}
