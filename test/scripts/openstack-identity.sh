#!/usr/bin/env bash
# openstack-identity.sh drives the real python-openstackclient against a
# kumo identity service: tokens, projects, users, role assignments and
# application credentials, as the admin and as a freshly created user.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud) and
# OS_CLOUD (the cloud's name, "kumo"). Prints each step; exits non-zero with
# a "FAIL:" line on the first step whose output is not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

suffix="$$-$RANDOM"
PROJECT="cli-project-$suffix"
USERNAME="cli-user-$suffix"
PASSWORD="cli-Pw-$suffix-$RANDOM$RANDOM"
APPCRED="cli-appcred-$suffix"

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# field extracts a value from "-f shell" output.
field() {
	sed -n "s/^$1=\"\(.*\)\"\$/\1/p" <<<"$out"
}

tmp=$(mktemp -d)
cleanup() {
	# Best effort: the happy path deletes these itself.
	if [[ -n "${user_id:-}" ]]; then openstack user delete "$user_id" >/dev/null 2>&1 || true; fi
	if [[ -n "${project_id:-}" ]]; then openstack project delete "$project_id" >/dev/null 2>&1 || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

auth_url=$(sed -n 's/^ *auth_url: *//p' "$OS_CLIENT_CONFIG_FILE" | head -n1 | tr -d "\"'")
[[ -n "$auth_url" ]] || fail "no auth_url in $OS_CLIENT_CONFIG_FILE"

# 1. Admin token.
run token issue -f shell
admin_user_id=$(field user_id)
[[ -n "$(field id)" && -n "$(field expires)" && -n "$(field project_id)" && -n "$admin_user_id" ]] ||
	fail "token issue lacks id/expires/project_id/user_id"

# 2. Projects.
run project create "$PROJECT" --description "openstack CLI test" -f shell
project_id=$(field id)
[[ "$project_id" =~ ^[0-9a-f]{32}$ ]] || fail "project create returned id \"$project_id\""
expect "name=\"$PROJECT\"" "project create"

run project list -f value -c ID -c Name
expect "$project_id $PROJECT" "project list lacks the new project"
expect " admin" "project list lacks the admin project"

run project show "$PROJECT" -f shell
expect "id=\"$project_id\"" "project show by name"
expect 'domain_id="default"' "project show domain"
expect 'description="openstack CLI test"' "project show description"

# 3. User with a default project.
run user create "$USERNAME" --password "$PASSWORD" --project "$PROJECT" --domain Default -f shell
user_id=$(field id)
[[ "$user_id" =~ ^[0-9a-f]{32}$ ]] || fail "user create returned id \"$user_id\""
expect "default_project_id=\"$project_id\"" "user create default project"
expect 'domain_id="default"' "user create domain"

# 4. Role assignment.
run role add --project "$PROJECT" --user "$USERNAME" member
run role assignment list --user "$USERNAME" --project "$PROJECT" --names -f value -c Role -c User -c Project
expect "member $USERNAME@Default $PROJECT@Default" "role assignment list --names"

# 5. Application credential, created by the user itself. It needs a second
# clouds.yaml: a cloud's auth section wins over --os-* flags.
user_clouds="$tmp/clouds.yaml"
cat >"$user_clouds" <<EOF
clouds:
  kumo-user:
    auth:
      auth_url: "$auth_url"
      username: "$USERNAME"
      password: "$PASSWORD"
      user_domain_name: Default
      project_name: "$PROJECT"
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
EOF
OS_CLIENT_CONFIG_FILE="$user_clouds" OS_CLOUD=kumo-user \
	run application credential create "$APPCRED" --description "CLI test" -f shell
appcred_id=$(field id)
appcred_secret=$(field secret)
[[ -n "$appcred_id" && -n "$appcred_secret" ]] || fail "application credential create lacks id/secret"
expect "project_id=\"$project_id\"" "application credential project"
expect "name=\"$APPCRED\"" "application credential name"

OS_CLIENT_CONFIG_FILE="$user_clouds" OS_CLOUD=kumo-user \
	run application credential list -f value -c ID -c Name
expect "$appcred_id $APPCRED" "application credential list"

# 6. Authenticate with the application credential: no cloud, flags only.
as_appcred=(--os-auth-url "$auth_url" --os-identity-api-version 3 --os-interface public
	--os-auth-type v3applicationcredential
	--os-application-credential-id "$appcred_id" --os-application-credential-secret "$appcred_secret")
OS_CLIENT_CONFIG_FILE="$tmp/none.yaml" OS_CLOUD="" run "${as_appcred[@]}" token issue -f shell
expect "user_id=\"$user_id\"" "application credential token user"
expect "project_id=\"$project_id\"" "application credential token project"

OS_CLIENT_CONFIG_FILE="$tmp/none.yaml" OS_CLOUD="" run "${as_appcred[@]}" project show "$project_id" -f shell
expect "name=\"$PROJECT\"" "project show with the application credential"

# 7. Clean up, and check it is gone.
run user delete "$user_id"
user_id=""
run project delete "$project_id"
project_id=""
run project list -f value -c Name
if grep -qF -- "$PROJECT" <<<"$out"; then fail "project $PROJECT still listed after delete"; fi

echo "OK: openstack CLI identity checks passed"
