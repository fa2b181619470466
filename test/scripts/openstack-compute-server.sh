#!/usr/bin/env bash
# openstack-compute-server.sh drives the real python-openstackclient through
# a server's life on kumo: server create --wait (m1.tiny, the kumo-tiny
# image, a key pair, user data, no network), the boot marker and the user
# data's output in "console log show", the serial console URL, stop
# (SHUTOFF), start (ACTIVE) and delete --wait.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud), OS_CLOUD
# (the cloud's name, "kumo") and a public image named kumo-tiny. Prints each
# step; exits non-zero with a "FAIL:" line on the first step whose output is
# not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

work=$(mktemp -d)
KEY="cli-server-key-$$-$RANDOM"
NAME="cli-server-$$-$RANDOM"
cleanup() {
	openstack server delete --wait "$NAME" >/dev/null 2>&1 || true
	openstack keypair delete "$KEY" >/dev/null 2>&1 || true
	rm -rf "$work"
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
		sleep 2
	done
}

ssh-keygen -q -t ed25519 -N '' -C cli-server@kumo -f "$work/id_ed25519" >/dev/null
printf '#!/bin/sh\necho OSC-USERDATA-$((40+2))\n' >"$work/user-data"

run keypair create --public-key "$work/id_ed25519.pub" "$KEY" -f value -c name
expect "$KEY"

# --nic none: this client's --network takes a network name or id only, and
# "none" needs compute microversion 2.37 (the client defaults to 2.1).
t0=$SECONDS
run --os-compute-api-version 2.37 server create --wait --flavor m1.tiny --image kumo-tiny --key-name "$KEY" \
	--user-data "$work/user-data" --nic none "$NAME" -f value -c id -c status
echo "FIGURE openstack server create --wait: $((SECONDS - t0))s"
expect "ACTIVE"
run server show "$NAME" -f value -c key_name -c flavor
expect "$KEY"
expect "m1.tiny"

check() { [[ "$out" == *"KUMO-TINY READY $NAME"* && "$out" == *"OSC-USERDATA-42"* ]]; }
wait_for 240 "the boot marker and the user data output" console log show "$NAME"
run console log show --lines 5 "$NAME"

# The serial console URL, through the legacy action (2.1) and remote-consoles (2.6).
run console url show --serial "$NAME" -f value -c type -c url
expect "serial"
expect "/compute/console/serial/?token="
run --os-compute-api-version 2.6 console url show --serial "$NAME" -f json
expect '"protocol": "serial"'
expect "ws://"

run server stop "$NAME"
check() { [[ "$out" == "SHUTOFF" ]]; }
wait_for 180 "SHUTOFF" server show "$NAME" -f value -c status
# server show prints Nova's numeric power state: 4 is SHUTDOWN.
run server show "$NAME" -f value -c OS-EXT-STS:power_state
[[ "$out" == "4" ]] || fail "power state $out, want 4 (SHUTDOWN)"

run server start "$NAME"
check() { [[ "$out" == "ACTIVE" ]]; }
wait_for 180 "ACTIVE" server show "$NAME" -f value -c status

run server delete --wait "$NAME"
run server list -f value -c Name
[[ "$out" != *"$NAME"* ]] || fail "$NAME still listed after delete --wait"
run keypair delete "$KEY"
echo "openstack-compute-server: all steps passed"
