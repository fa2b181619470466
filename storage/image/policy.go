package image

// Policy is the image service's default policy, following Glance's secure
// RBAC defaults: readers of a project read what the visibility rules let
// them see, members of the owning project change its images, and admins do
// everything. Object-level rules are evaluated with project_id set to the
// image's owner.
var Policy = map[string]string{
	"image:context_is_admin": "rule:context_is_admin",
	"image:default":          "rule:project_reader_or_admin",

	"image:get_images":        "rule:project_reader_or_admin",
	"image:get_image":         "rule:project_reader_or_admin",
	"image:add_image":         "rule:project_member_or_admin",
	"image:modify_image":      "rule:project_member_or_admin",
	"image:delete_image":      "rule:project_member_or_admin",
	"image:upload_image":      "rule:project_member_or_admin",
	"image:download_image":    "rule:project_reader_or_admin",
	"image:publicize_image":   "rule:context_is_admin",
	"image:communitize_image": "rule:project_member_or_admin",
	"image:set_image_owner":   "rule:context_is_admin",
	"image:deactivate":        "rule:context_is_admin",
	"image:reactivate":        "rule:context_is_admin",
	"image:add_image_tag":     "rule:project_member_or_admin",
	"image:delete_image_tag":  "rule:project_member_or_admin",
	"image:add_image_stage":   "rule:project_member_or_admin",
	"image:import_image":      "rule:project_member_or_admin",
	"image:get_import_info":   "rule:project_reader_or_admin",
	"image:get_stores":        "rule:project_reader_or_admin",
	"image:get_usage":         "rule:project_reader_or_admin",

	"image:get_members":   "rule:project_reader_or_admin",
	"image:get_member":    "rule:project_reader_or_admin",
	"image:add_member":    "rule:project_member_or_admin",
	"image:delete_member": "rule:project_member_or_admin",
	"image:modify_member": "rule:project_member_or_admin",
}
