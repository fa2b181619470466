#!/usr/bin/env bash
# openstack-image.sh drives the real python-openstackclient against kumo's
# image (Glance v2) service: create with --file, list, show, save, compare
# the bytes, set properties, and delete.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud) and
# OS_CLOUD (the cloud's name, "kumo"). Prints each step; exits non-zero with
# a "FAIL:" line on the first step whose output is not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
NAME="cli-image-$$-$RANDOM"

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A real qcow2 with some data in it.
head -c $((2 * 1024 * 1024)) /dev/urandom >"$work/disk.raw"
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
md5=$(md5sum "$work/disk.qcow2" | cut -d' ' -f1)

run image create --file "$work/disk.qcow2" --disk-format qcow2 --container-format bare \
	--property hw_disk_bus=scsi --tag cli "$NAME" -f value -c id
id=$(echo "$out" | tail -1)
[[ "$id" =~ ^[0-9a-f-]{36}$ ]] || fail "image create printed no id"

run image show "$NAME" -f value -c status
expect active
run image show "$id" -f value -c checksum
expect "$md5"
run image show "$id" -f json
expect '"disk_format": "qcow2"'
expect '"hw_disk_bus": "scsi"'
expect '"virtual_size": 2097152'

run image list -f value -c ID -c Name
expect "$id $NAME"
run image list --tag cli -f value -c ID
expect "$id"

run image set --property os_distro=debian --min-ram 128 "$id"
run image show "$id" -f json
expect '"os_distro": "debian"'
expect '"min_ram": 128'

run image save --file "$work/saved.qcow2" "$id"
cmp "$work/disk.qcow2" "$work/saved.qcow2" || fail "saved image differs from the uploaded file"

run image delete "$id"
if out=$(openstack image show "$id" 2>&1); then
	fail "image $id still shows after delete"
fi
echo "deleted: $out"

echo "openstack image CLI: all checks passed"
