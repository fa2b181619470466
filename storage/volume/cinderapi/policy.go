package cinderapi

// Policy is the volume API's default policy, with Cinder's rule names and
// its secure-RBAC defaults: project readers read, members change their
// project's volumes, snapshots and attachments, admins do everything and
// alone manage types, quotas and states. Object rules are evaluated with
// project_id set to the object's project, so another project's object is
// hidden (404).
var Policy = map[string]string{
	"volume:context_is_admin": "rule:context_is_admin",
	"volume:admin_api":        "rule:admin_required",

	"volume:create":                 "rule:project_member_or_admin",
	"volume:create_from_image":      "rule:project_member_or_admin",
	"volume:get":                    "rule:project_reader_or_admin",
	"volume:get_all":                "rule:project_reader_or_admin",
	"volume:update":                 "rule:project_member_or_admin",
	"volume:delete":                 "rule:project_member_or_admin",
	"volume:extend":                 "rule:project_member_or_admin",
	"volume:extend_attached_volume": "rule:project_member_or_admin",
	"volume:update_readonly_flag":   "rule:project_member_or_admin",
	"volume:get_volume_metadata":    "rule:project_reader_or_admin",
	"volume:create_volume_metadata": "rule:project_member_or_admin",
	"volume:update_volume_metadata": "rule:project_member_or_admin",
	"volume:delete_volume_metadata": "rule:project_member_or_admin",
	"volume:get_all_admin":          "rule:admin_required",

	"volume_extension:volume_actions:upload_image":          "rule:project_member_or_admin",
	"volume_extension:volume_actions:reserve":               "rule:project_member_or_admin",
	"volume_extension:volume_actions:unreserve":             "rule:project_member_or_admin",
	"volume_extension:volume_actions:begin_detaching":       "rule:project_member_or_admin",
	"volume_extension:volume_actions:roll_detaching":        "rule:project_member_or_admin",
	"volume_extension:volume_actions:initialize_connection": "rule:project_member_or_admin",
	"volume_extension:volume_actions:terminate_connection":  "rule:project_member_or_admin",
	"volume_extension:volume_actions:attach":                "rule:project_member_or_admin",
	"volume_extension:volume_actions:detach":                "rule:project_member_or_admin",
	"volume_extension:volume_admin_actions:reset_status":    "rule:admin_required",
	"volume_extension:volume_admin_actions:force_delete":    "rule:admin_required",
	"volume_extension:volume_host_attribute":                "rule:admin_required",

	"volume:create_snapshot":          "rule:project_member_or_admin",
	"volume:get_snapshot":             "rule:project_reader_or_admin",
	"volume:get_all_snapshots":        "rule:project_reader_or_admin",
	"volume:get_snapshot_metadata":    "rule:project_reader_or_admin",
	"volume:update_snapshot_metadata": "rule:project_member_or_admin",
	"volume:delete_snapshot_metadata": "rule:project_member_or_admin",
	"volume:update_snapshot":          "rule:project_member_or_admin",
	"volume:delete_snapshot":          "rule:project_member_or_admin",

	"volume_extension:types_manage":                           "rule:admin_required",
	"volume_extension:type_get":                               "rule:project_reader_or_admin",
	"volume_extension:type_get_all":                           "rule:project_reader_or_admin",
	"volume_extension:types_extra_specs:index":                "rule:project_reader_or_admin",
	"volume_extension:types_extra_specs:show":                 "rule:project_reader_or_admin",
	"volume_extension:types_extra_specs:create":               "rule:admin_required",
	"volume_extension:types_extra_specs:update":               "rule:admin_required",
	"volume_extension:types_extra_specs:delete":               "rule:admin_required",
	"volume_extension:volume_type_access":                     "rule:admin_required",
	"volume_extension:volume_type_access:addProjectAccess":    "rule:admin_required",
	"volume_extension:volume_type_access:removeProjectAccess": "rule:admin_required",
	"volume_extension:default_get":                            "rule:project_reader_or_admin",

	"volume:attachment_create":   "rule:project_member_or_admin",
	"volume:attachment_update":   "rule:project_member_or_admin",
	"volume:attachment_delete":   "rule:project_member_or_admin",
	"volume:attachment_complete": "rule:project_member_or_admin",
	"volume:attachment_get":      "rule:project_reader_or_admin",
	"volume:attachment_get_all":  "rule:project_reader_or_admin",

	"volume_extension:quotas:show":            "rule:project_reader_or_admin",
	"volume_extension:quotas:update":          "rule:admin_required",
	"volume_extension:quotas:delete":          "rule:admin_required",
	"limits_extension:used_limits":            "rule:project_reader_or_admin",
	"volume_extension:availability_zone_list": "rule:project_reader_or_admin",
	"volume_extension:services:index":         "rule:admin_required",
}
