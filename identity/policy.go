package identity

// Policy is identity's default policy: Keystone's admin / member / reader
// model, where "admin" is the cloud administrator, users manage their own
// credentials and see their own projects, and everything else is admin-only.
// Operators override any rule with the policy file.
var Policy = map[string]string{
	"identity:admin_required": "role:admin",
	"identity:owner":          "user_id:%(user_id)s",

	"identity:validate_token":    "rule:identity:admin_required or rule:identity:token_subject",
	"identity:check_token":       "rule:identity:admin_required or rule:identity:token_subject",
	"identity:revoke_token":      "rule:identity:admin_required or rule:identity:token_subject",
	"identity:token_subject":     "user_id:%(target.token.user_id)s",
	"identity:get_auth_catalog":  "",
	"identity:get_auth_projects": "",
	"identity:get_auth_domains":  "",
	"identity:get_auth_system":   "",

	"identity:list_domains":  "rule:identity:admin_required",
	"identity:create_domain": "rule:identity:admin_required",
	"identity:get_domain":    "rule:identity:admin_required or domain_id:%(target.domain.id)s or project_domain_id:%(target.domain.id)s",
	"identity:update_domain": "rule:identity:admin_required",
	"identity:delete_domain": "rule:identity:admin_required",

	"identity:list_projects":  "rule:identity:admin_required",
	"identity:create_project": "rule:identity:admin_required",
	"identity:get_project":    "rule:identity:admin_required or project_id:%(target.project.id)s",
	"identity:update_project": "rule:identity:admin_required",
	"identity:delete_project": "rule:identity:admin_required",

	"identity:list_users":           "rule:identity:admin_required",
	"identity:create_user":          "rule:identity:admin_required",
	"identity:get_user":             "rule:identity:admin_required or user_id:%(target.user.id)s",
	"identity:update_user":          "rule:identity:admin_required",
	"identity:delete_user":          "rule:identity:admin_required",
	"identity:change_password":      "user_id:%(user_id)s",
	"identity:list_user_projects":   "rule:identity:admin_required or user_id:%(user_id)s",
	"identity:list_groups_for_user": "rule:identity:admin_required or user_id:%(user_id)s",

	"identity:list_groups":            "rule:identity:admin_required",
	"identity:create_group":           "rule:identity:admin_required",
	"identity:get_group":              "rule:identity:admin_required",
	"identity:update_group":           "rule:identity:admin_required",
	"identity:delete_group":           "rule:identity:admin_required",
	"identity:list_users_in_group":    "rule:identity:admin_required",
	"identity:add_user_to_group":      "rule:identity:admin_required",
	"identity:check_user_in_group":    "rule:identity:admin_required",
	"identity:remove_user_from_group": "rule:identity:admin_required",

	"identity:list_roles":            "rule:identity:admin_required",
	"identity:create_role":           "rule:identity:admin_required",
	"identity:get_role":              "rule:identity:admin_required",
	"identity:update_role":           "rule:identity:admin_required",
	"identity:delete_role":           "rule:identity:admin_required",
	"identity:list_role_assignments": "rule:identity:admin_required",
	"identity:list_grants":           "rule:identity:admin_required",
	"identity:create_grant":          "rule:identity:admin_required",
	"identity:check_grant":           "rule:identity:admin_required",
	"identity:revoke_grant":          "rule:identity:admin_required",

	"identity:list_regions":    "",
	"identity:get_region":      "",
	"identity:create_region":   "rule:identity:admin_required",
	"identity:update_region":   "rule:identity:admin_required",
	"identity:delete_region":   "rule:identity:admin_required",
	"identity:list_services":   "rule:identity:admin_required",
	"identity:get_service":     "rule:identity:admin_required",
	"identity:create_service":  "rule:identity:admin_required",
	"identity:update_service":  "rule:identity:admin_required",
	"identity:delete_service":  "rule:identity:admin_required",
	"identity:list_endpoints":  "rule:identity:admin_required",
	"identity:get_endpoint":    "rule:identity:admin_required",
	"identity:create_endpoint": "rule:identity:admin_required",
	"identity:update_endpoint": "rule:identity:admin_required",
	"identity:delete_endpoint": "rule:identity:admin_required",

	"identity:list_application_credentials":  "rule:identity:admin_required or rule:identity:owner",
	"identity:get_application_credential":    "rule:identity:admin_required or rule:identity:owner",
	"identity:create_application_credential": "rule:identity:owner",
	"identity:delete_application_credential": "rule:identity:admin_required or rule:identity:owner",
}
