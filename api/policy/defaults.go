package policy

// Defaults returns the base rules every service builds on, following
// Keystone's and Nova's defaults. Services reference them as rule:<name>.
//
// Role implication (admin ⊃ member ⊃ reader) is the token issuer's job, so
// project_reader admits a project's members and admins too.
func Defaults() map[string]string {
	return map[string]string{
		"admin_required":          "role:admin",
		"context_is_admin":        "role:admin",
		"service_role":            "role:service",
		"service_or_admin":        "rule:admin_required or rule:service_role",
		"owner":                   "user_id:%(user_id)s",
		"admin_or_owner":          "role:admin or project_id:%(project_id)s",
		"token_subject":           "user_id:%(target.token.user_id)s",
		"system_admin":            "role:admin and system_scope:all",
		"system_reader":           "role:reader and system_scope:all",
		"domain_admin":            "role:admin and domain_id:%(domain_id)s",
		"domain_reader":           "role:reader and domain_id:%(domain_id)s",
		"project_admin":           "role:admin and project_id:%(project_id)s",
		"project_member":          "role:member and project_id:%(project_id)s",
		"project_reader":          "role:reader and project_id:%(project_id)s",
		"project_member_or_admin": "rule:project_member or rule:admin_required",
		"project_reader_or_admin": "rule:project_reader or rule:admin_required",
	}
}
