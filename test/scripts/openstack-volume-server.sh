#!/usr/bin/env bash
# openstack-volume-server.sh drives the real python-openstackclient through a
# volume's life on kumo: volume create --size 1, server add volume (to a
# kumo-tiny server with no network), the attachment in volume show and
# server show, server remove volume, volume snapshot create, a volume from
# that snapshot, volume set --size (extend), volume snapshot delete and
# volume delete.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud), OS_CLOUD
# (the cloud's name, "kumo") and a public image named kumo-tiny. Prints each
# step; exits non-zero with a "FAIL:" line on the first step whose output is
# not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

SUFFIX="$$-$RANDOM"
SERVER="cli-vol-server-$SUFFIX"
VOL="cli-vol-$SUFFIX"
SNAP="cli-vol-snap-$SUFFIX"
CLONE="cli-vol-clone-$SUFFIX"
cleanup() {
	openstack server delete --wait "$SERVER" >/dev/null 2>&1 || true
	openstack volume snapshot delete "$SNAP" >/dev/null 2>&1 || true
	openstack volume delete "$CLONE" >/dev/null 2>&1 || true
	openstack volume delete "$VOL" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# wait_for SECONDS DESCRIPTION ARGS...: repeats `openstack ARGS` every 2 s
# until the predicate `check` (a function reading $out) succeeds.
wait_for() {
	local limit=$1 what=$2 start=$SECONDS
	shift 2
	echo "+ waiting (up to ${limit}s) for $what: openstack $*"
	while true; do
		out=$(openstack "$@" 2>&1) || true
		if check; then
			echo "  after $((SECONDS - start))s"
			return 0
		fi
		((SECONDS - start < limit)) || fail "no $what after ${limit}s"
		sleep 1
	done
}

t0=$SECONDS
run volume create --size 1 "$VOL" -f value -c id
VOL_ID=$out
check() { [[ "$out" == "available" ]]; }
wait_for 120 "$VOL available" volume show "$VOL" -f value -c status
echo "FIGURE openstack volume create to available: $((SECONDS - t0))s"
run volume list -f value -c Name -c Status
expect "$VOL available"

run --os-compute-api-version 2.37 server create --wait --flavor m1.tiny --image kumo-tiny --nic none "$SERVER" -f value -c status
expect "ACTIVE"
# A disk is hot-plugged into a guest that has booted: one still booting may
# not answer the unplug request later (as with Nova).
check() { [[ "$out" == *"KUMO-TINY READY $SERVER"* ]]; }
wait_for 240 "the boot marker" console log show "$SERVER"

t0=$SECONDS
run server add volume "$SERVER" "$VOL"
check() { [[ "$out" == "in-use" ]]; }
wait_for 120 "$VOL in-use" volume show "$VOL" -f value -c status
echo "FIGURE openstack server add volume to in-use: $((SECONDS - t0))s"
run volume show "$VOL" -f json -c attachments
expect '"device": "/dev/vd'
run server show "$SERVER" -f json -c volumes_attached
expect "$VOL_ID"

# An attached volume cannot be deleted (Cinder answers 400).
echo "+ openstack volume delete $VOL (attached: must fail)"
if out=$(openstack volume delete "$VOL" 2>&1); then
	fail "deleting an attached volume succeeded"
fi
echo "$out"

run server remove volume "$SERVER" "$VOL"
check() { [[ "$out" == "available" ]]; }
wait_for 120 "$VOL available again" volume show "$VOL" -f value -c status
run server show "$SERVER" -f json -c volumes_attached
[[ "$out" != *"$VOL_ID"* ]] || fail "server still lists $VOL_ID after remove volume"

run volume snapshot create --volume "$VOL" "$SNAP" -f value -c id
check() { [[ "$out" == "available" ]]; }
wait_for 120 "$SNAP available" volume snapshot show "$SNAP" -f value -c status
run volume snapshot list -f value -c Name
expect "$SNAP"

run volume create --snapshot "$SNAP" "$CLONE" -f value -c id
check() { [[ "$out" == "available" ]]; }
wait_for 120 "$CLONE available" volume show "$CLONE" -f value -c status
run volume set --size 2 "$CLONE"
check() { [[ "$(tr '\n' ' ' <<<"$out")" == "2 available " ]]; }
wait_for 120 "$CLONE extended to 2 GiB" volume show "$CLONE" -f value -c size -c status

run volume snapshot delete "$SNAP"
check() { [[ "$out" != *"$SNAP"* ]]; }
wait_for 120 "$SNAP gone" volume snapshot list -f value -c Name
run volume delete "$CLONE" "$VOL"
check() { [[ "$out" != *"$VOL"* ]]; }
wait_for 120 "volumes gone" volume list -f value -c Name
run server delete --wait "$SERVER"
echo "openstack-volume-server: all steps passed"
