#!/usr/bin/env bash
# openstack-network.sh drives the real python-openstackclient against kumo's
# network (Neutron v2.0) API: a network with a subnet, a router with the
# public network as its gateway and the subnet as an interface, a security
# group with a rule, a port, a floating IP from public associated with the
# port, and the deletes in reverse order.
#
# Needs OS_CLIENT_CONFIG_FILE (a clouds.yaml with the admin cloud) and
# OS_CLOUD (the cloud's name, "kumo"). Prints each step; exits non-zero with
# a "FAIL:" line on the first step whose output is not what was expected.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the admin clouds.yaml}"
: "${OS_CLOUD:?set OS_CLOUD to the admin cloud name}"

NET="cli-net-$$-$RANDOM"
SUBNET="cli-subnet-$$-$RANDOM"
ROUTER="cli-router-$$-$RANDOM"
SG="cli-sg-$$-$RANDOM"
PORT="cli-port-$$-$RANDOM"
fip=""
cleanup() {
	[[ -z "$fip" ]] || openstack floating ip delete "$fip" >/dev/null 2>&1 || true
	openstack port delete "$PORT" >/dev/null 2>&1 || true
	openstack router remove subnet "$ROUTER" "$SUBNET" >/dev/null 2>&1 || true
	openstack router delete "$ROUTER" >/dev/null 2>&1 || true
	openstack security group delete "$SG" >/dev/null 2>&1 || true
	openstack network delete "$NET" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

refuse() {
	[[ "$out" != *"$1"* ]] || fail "expected output not to contain: $1"
}

# Networks and subnets.
run network show public -f json
expect '"router:external": true'
expect '"provider:network_type": "flat"'
run network create "$NET" -f json
expect '"status": "ACTIVE"'
expect '"mtu": 1450'
run subnet create "$SUBNET" --network "$NET" --subnet-range 10.99.0.0/24 --dns-nameserver 192.0.2.53 -f json
expect '"gateway_ip": "10.99.0.1"'
expect '"start": "10.99.0.2"'
expect '192.0.2.53'
run network list --name "$NET" -f value -c Name
expect "$NET"
run subnet list --network "$NET" -f value -c Subnet
expect "10.99.0.0/24"
if openstack subnet create "$SUBNET-overlap" --network "$NET" --subnet-range 10.99.0.128/25 >/dev/null 2>&1; then
	fail "an overlapping subnet was created"
fi

# A router with the public gateway and the subnet.
run router create "$ROUTER" -f value -c id
run router set "$ROUTER" --external-gateway public
run router show "$ROUTER" -f json
expect '"enable_snat": true'
expect '172.24.4.'
run router add subnet "$ROUTER" "$SUBNET"
run port list --router "$ROUTER" -f value -c "Fixed IP Addresses"
expect "10.99.0.1"

# A security group with a rule.
run security group create "$SG" -f value -c id
run security group rule create "$SG" --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 -f json
expect '"port_range_min": 22'
expect '"protocol": "tcp"'
if openstack security group rule create "$SG" --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 >/dev/null 2>&1; then
	fail "a duplicate rule was created"
fi
run security group rule list "$SG" -f value -c "IP Protocol"
expect "tcp"

# A port with the group, and a floating IP for it.
run port create "$PORT" --network "$NET" --security-group "$SG" -f json
expect '"status": "DOWN"'
expect 'fa:16:3e:'
run floating ip create public -f value -c floating_ip_address
fip=$out
[[ "$fip" == 172.24.4.* ]] || fail "floating IP $fip is not on public"
run floating ip set --port "$PORT" "$fip"
run floating ip show "$fip" -f json
expect '"status": "ACTIVE"'
expect '"fixed_ip_address": "10.99.0.'
run floating ip unset --port "$fip"
run floating ip show "$fip" -f value -c port_id
expect "None"

# Deletes, in reverse.
run floating ip delete "$fip"
fip=""
run port delete "$PORT"
run router remove subnet "$ROUTER" "$SUBNET"
run router unset --external-gateway "$ROUTER"
run router delete "$ROUTER"
run security group delete "$SG"
run subnet delete "$SUBNET"
run network delete "$NET"
run network list -f value -c Name
refuse "$NET"
echo "openstack network CLI: ok"
