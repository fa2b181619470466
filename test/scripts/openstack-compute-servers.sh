#!/usr/bin/env bash
# openstack-compute-servers.sh: resize (confirm and revert), rebuild and
# snapshot of one server through the real openstack CLI. IMAGE_ID names a
# bootable kumo-tiny image.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ -n "${IMAGE_ID:-}" ]] || fail "IMAGE_ID is not set"

sfx="$RANDOM$RANDOM"
small="cli-small-$sfx" big="cli-big-$sfx" srv="cli-srv-$sfx" snap="cli-snap-$sfx"
cleanup() {
	openstack server delete --wait "$srv" >/dev/null 2>&1 || true
	openstack image delete "$snap" >/dev/null 2>&1 || true
	openstack flavor delete "$small" "$big" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# status_is WANT: waits up to two minutes for the server's status (the
# CLI's own --wait polls every 5 s, too slow for this script's budget).
status_is() {
	local st=""
	for _ in $(seq 240); do
		st=$(openstack server show -f value -c status "$srv")
		[[ "$st" == "$1" ]] && return 0
		[[ "$st" == ERROR ]] && break
		sleep 0.5
	done
	fail "server $srv is $st, not $1"
}

run flavor create --ram 128 --vcpus 1 --disk 1 "$small"
run flavor create --ram 192 --vcpus 1 --disk 1 "$big"
run server create --flavor "$small" --image "$IMAGE_ID" "$srv"
status_is ACTIVE

run server resize --flavor "$big" "$srv"
status_is VERIFY_RESIZE
run server resize confirm "$srv"
status_is ACTIVE
run server show -f value -c flavor "$srv"
expect "$big" "flavor after confirm"

run server resize --flavor "$small" "$srv"
status_is VERIFY_RESIZE
run server resize revert "$srv"
status_is ACTIVE
run server show -f value -c flavor "$srv"
expect "$big" "flavor after revert"

run server rebuild --image "$IMAGE_ID" "$srv"
expect REBUILD "status after rebuild"
status_is ACTIVE

run server image create --name "$snap" --wait "$srv"
run image show -f value -c status "$snap"
expect active "snapshot image status"
run image show -f value -c properties "$snap"
expect snapshot "snapshot image_type"

run server delete --wait "$srv"
echo "PASS"
