#!/usr/bin/env bash
# openstack-volume.sh drives the real python-openstackclient against kumo's
# block storage (Cinder v3) service: create, list, show, set (name,
# property, size), snapshots and a volume from one, volume types, zones,
# and delete.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud) and
# OS_CLOUD (the cloud's name, "kumo"). Prints each step; exits non-zero with
# a "FAIL:" line on the first step whose output is not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

NAME="cli-vol-$$-$RANDOM"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# wait_status KIND ID WANT: polls `openstack KIND show ID` until its status is WANT.
wait_status() {
	local kind=$1 id=$2 want=$3 status=""
	for _ in $(seq 1 120); do
		status=$(openstack $kind show "$id" -f value -c status 2>&1) || true
		[[ "$status" == "$want" ]] && return 0
		[[ "$status" == error* ]] && fail "$kind $id went to $status"
		sleep 0.5
	done
	fail "$kind $id is $status, not $want"
}

cleanup() {
	openstack volume delete "$NAME-2" >/dev/null 2>&1 || true
	openstack volume snapshot delete "$NAME-snap" >/dev/null 2>&1 || true
	openstack volume delete "$NAME-renamed" >/dev/null 2>&1 || true
	openstack volume type delete "$NAME-type" >/dev/null 2>&1 || true
	openstack project delete "$NAME-project" >/dev/null 2>&1 || true
}
trap cleanup EXIT

run volume type create --property volume_backend_name=local "$NAME-type" -f value -c id
run volume type list -f value -c Name
expect "$NAME-type"
expect "__DEFAULT__"

run volume create --size 1 --type "$NAME-type" --property purpose=cli "$NAME" -f value -c id
id=$(echo "$out" | tail -1)
[[ "$id" =~ ^[0-9a-f-]{36}$ ]] || fail "volume create printed no id"
wait_status volume "$id" available

run volume show "$NAME" -f json
expect '"size": 1'
expect "\"type\": \"$NAME-type\""
expect '"purpose": "cli"'
run volume list -f value -c ID -c Name -c Status
expect "$id $NAME available"

run volume set --name "$NAME-renamed" --description "from the cli" --property tier=gold "$id"
run volume set --size 2 "$id"
wait_status volume "$id" available
run volume show "$id" -f json
expect "\"name\": \"$NAME-renamed\""
expect '"size": 2'
expect '"tier": "gold"'

run volume snapshot create --volume "$id" "$NAME-snap" -f value -c id
snap=$(echo "$out" | tail -1)
wait_status "volume snapshot" "$snap" available
run volume snapshot list -f value -c ID -c Name
expect "$snap $NAME-snap"
run volume snapshot set --property kind=cli "$snap"
run volume snapshot show "$snap" -f json
expect '"kind": "cli"'

run volume create --snapshot "$NAME-snap" --size 2 "$NAME-2" -f value -c id
id2=$(echo "$out" | tail -1)
wait_status volume "$id2" available

if out=$(openstack volume delete "$id" 2>&1); then
	fail "a volume with a snapshot was deleted"
fi
echo "delete with a snapshot refused: $out"

run availability zone list --volume -f value -c "Zone Name"
expect nova

run project create "$NAME-project" -f value -c id
project=$(echo "$out" | tail -1)
run quota set --volumes 12 --gigabytes 900 --snapshots 7 "$project"
run quota show "$project" -f json
expect '"volumes": 12'
expect '"gigabytes": 900'
expect '"snapshots": 7'
run volume service list -f value -c Binary -c State
expect "cinder-scheduler up"
expect "cinder-volume up"
run limits show --absolute -f value -c Name -c Value
expect "maxTotalVolumeGigabytes 1000"
expect "totalGigabytesUsed"

run volume delete "$id2"
run volume snapshot delete "$snap"
for _ in $(seq 1 60); do
	openstack volume snapshot show "$snap" >/dev/null 2>&1 || break
	sleep 0.5
done
run volume delete "$id"
for _ in $(seq 1 60); do
	openstack volume show "$id" >/dev/null 2>&1 || break
	sleep 0.5
done
if openstack volume show "$id" >/dev/null 2>&1; then
	fail "volume $id still shows after delete"
fi

echo "openstack volume CLI: all checks passed"
