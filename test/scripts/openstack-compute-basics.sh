#!/usr/bin/env bash
# openstack-compute-basics.sh drives the real python-openstackclient against
# kumo's compute (Nova v2.1) API: flavors (create, list, show, set
# --property, delete), key pairs (create with and without a public key,
# list, show, delete), compute quotas, availability zones and absolute
# limits.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud) and
# OS_CLOUD (the cloud's name, "kumo"). Prints each step; exits non-zero with
# a "FAIL:" line on the first step whose output is not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

work=$(mktemp -d)
FLAVOR="cli-flavor-$$-$RANDOM"
KEY="cli-key-$$-$RANDOM"
GENKEY="cli-genkey-$$-$RANDOM"
PROJECT="cli-compute-$$-$RANDOM"
cleanup() {
	openstack flavor delete "$FLAVOR" >/dev/null 2>&1 || true
	openstack keypair delete "$KEY" >/dev/null 2>&1 || true
	openstack keypair delete "$GENKEY" >/dev/null 2>&1 || true
	openstack project delete "$PROJECT" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

refuse() {
	[[ "$out" != *"$1"* ]] || fail "expected output not to contain: $1"
}

# Flavors.
run flavor list
expect "m1.tiny"
expect "k1.nano"
run flavor show m1.small -f value -c ram
expect "256"
run flavor create "$FLAVOR" --ram 256 --vcpus 2 --disk 3 --private --property hw:cpu_policy=dedicated -f value -c id
id=$out
[[ -n "$id" ]] || fail "no flavor id"
run flavor list --all
expect "$FLAVOR"
run flavor list --private
expect "$FLAVOR"
refuse "m1.tiny"
run flavor set "$FLAVOR" --property kumo:color=blue
run flavor show "$FLAVOR" -f json
expect '"ram": 256'
expect '"vcpus": 2'
expect '"os-flavor-access:is_public": false'
expect "kumo:color"
expect "dedicated"
run flavor unset "$FLAVOR" --property kumo:color
run flavor show "$FLAVOR" -f value -c properties
refuse "kumo:color"
run project create "$PROJECT" -f value -c id
project_id=$out
run flavor set "$FLAVOR" --project "$PROJECT"
run flavor show "$FLAVOR" -f value -c access_project_ids
expect "$project_id"
run flavor delete "$FLAVOR"
run flavor list --all
refuse "$FLAVOR"

# Key pairs: import, then let the server generate one.
ssh-keygen -q -t ed25519 -N '' -C cli@kumo -f "$work/id_ed25519" >/dev/null
want_fp=$(ssh-keygen -l -E md5 -f "$work/id_ed25519.pub" | awk '{print $2}' | sed 's/^MD5://')
run keypair create --public-key "$work/id_ed25519.pub" "$KEY" -f value -c fingerprint
[[ "$out" == "$want_fp" ]] || fail "fingerprint $out, want $want_fp"
run keypair create --private-key "$work/generated" "$GENKEY"
grep -q "PRIVATE KEY" "$work/generated" || fail "no private key written"
chmod 600 "$work/generated"
gen_fp=$(ssh-keygen -y -f "$work/generated" | ssh-keygen -l -E md5 -f - | awk '{print $2}' | sed 's/^MD5://')
run keypair show "$GENKEY" -f value -c fingerprint
[[ "$out" == "$gen_fp" ]] || fail "generated key fingerprint $out, want $gen_fp"
run keypair list
expect "$KEY"
expect "$GENKEY"
run keypair show "$KEY" --public-key
expect "cli@kumo"
run keypair delete "$KEY" "$GENKEY"
run keypair list
refuse "$KEY"

# Quotas, zones and limits.
run quota set --instances 7 --cores 9 "$PROJECT"
run quota list --compute --project "$PROJECT" -f value -c Instances -c Cores
expect "9 7"
run availability zone list --compute
expect "nova"
expect "available"
# "limits show" asks the compute and the volume service for their limits.
run limits show --absolute -f value
expect "maxTotalInstances 10"
expect "maxTotalKeypairs 100"
expect "maxTotalVolumes 10"
expect "maxTotalVolumeGigabytes 1000"
echo "openstack-compute-basics: all steps passed"
