#!/usr/bin/env bash
# openstack-compute-volume.sh drives the real python-openstackclient through
# compute's volume calls on kumo: a 1 GiB volume attached to a running
# kumo-tiny server with "server add volume" (in-use, listed in the server's
# volumes_attached), removed with "server remove volume" (available again),
# then a server booted from a volume made from the image
# (--boot-from-volume), whose volume stays available after the server is
# deleted.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud), OS_CLOUD
# (the cloud's name, "kumo") and a public image named kumo-tiny. Prints each
# step; exits non-zero with a "FAIL:" line on the first step whose output is
# not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

NAME="cli-vol-server-$$-$RANDOM"
BFV="cli-bfv-server-$$-$RANDOM"
VOL="cli-vol-$$-$RANDOM"
boot_volume=""
cleanup() {
	openstack server delete --wait "$NAME" >/dev/null 2>&1 || true
	openstack server delete --wait "$BFV" >/dev/null 2>&1 || true
	openstack volume delete "$VOL" >/dev/null 2>&1 || true
	if [[ -n "$boot_volume" ]]; then
		openstack volume delete "$boot_volume" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# wait_status SECONDS KIND NAME STATUS: waits until `openstack KIND show
# NAME -c status` prints STATUS.
wait_status() {
	local limit=$1 kind=$2 name=$3 want=$4 start=$SECONDS
	echo "+ waiting (up to ${limit}s) for $kind $name to be $want"
	while true; do
		out=$(openstack "$kind" show "$name" -f value -c status 2>&1) || true
		[[ "$out" == "$want" ]] && { echo "  after $((SECONDS - start))s"; return 0; }
		((SECONDS - start < limit)) || fail "$kind $name is not $want after ${limit}s"
		sleep 2
	done
}

run volume create --size 1 "$VOL" -f value -c id
vol_id=$out
wait_status 120 volume "$VOL" available

run --os-compute-api-version 2.37 server create --wait --flavor m1.tiny --image kumo-tiny --nic none "$NAME" -f value -c status
expect ACTIVE

t0=$SECONDS
run server add volume "$NAME" "$VOL"
wait_status 120 volume "$VOL" in-use
echo "FIGURE openstack server add volume to in-use: $((SECONDS - t0))s"
run volume show "$VOL" -f json -c attachments
expect "$(openstack server show "$NAME" -f value -c id)" "the volume's attachment names the server"
run server show "$NAME" -f json -c volumes_attached
expect "$vol_id" "volumes_attached lists the volume"

run server remove volume "$NAME" "$VOL"
wait_status 120 volume "$VOL" available
run server show "$NAME" -f json -c volumes_attached
grep -qF -- "$vol_id" <<<"$out" && fail "volumes_attached still lists the volume after remove"
run server delete --wait "$NAME"

t0=$SECONDS
run --os-compute-api-version 2.37 server create --wait --flavor m1.tiny --image kumo-tiny --boot-from-volume 1 --nic none "$BFV" -f value -c status
expect ACTIVE
echo "FIGURE openstack server create --boot-from-volume --wait: $((SECONDS - t0))s"
run server show "$BFV" -f json -c volumes_attached -c image
boot_volume=$(grep -oE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' <<<"$out" | head -n1)
[[ -n "$boot_volume" ]] || fail "no boot volume in volumes_attached"
wait_status 60 volume "$boot_volume" in-use
run volume show "$boot_volume" -f value -c size -c bootable
expect 1
run server delete --wait "$BFV"
wait_status 120 volume "$boot_volume" available
run volume delete "$boot_volume"
boot_volume=""
run volume delete "$VOL"
echo "openstack-compute-volume.sh: all steps passed"
