#!/usr/bin/env bash
# kumo host setup: makes a Debian 12 machine able to run kumod (all-in-one) and the tests.
# Idempotent and fast when everything is already in place. Run as root.
# Called by `make run`, `make test` and CI. See deploy/README.md.
#
# Environment:
#   KUMO_REPROBE=1   re-run the KVM probe even if /var/lib/kumo/virt-type is cached.
set -euo pipefail

# Debian packages the host needs. Append here (one array, later issues extend it).
PACKAGES=(
	libvirt-daemon
	libvirt-daemon-driver-qemu
	libvirt-daemon-system
	libvirt-clients
	libvirt-dev
	pkg-config
	gcc
	qemu-system-x86
	qemu-utils
	dnsmasq-base
	nftables
	iproute2
	postgresql
	genisoimage
	python3-openstackclient
	debootstrap
	syslinux
	extlinux
	busybox-static
	curl
	dropbear-bin
	cpio
	e2fsprogs
	dosfstools
	fdisk
	mtools
	binutils
)

KUMO_LIB=/var/lib/kumo
VIRT_TYPE_FILE=$KUMO_LIB/virt-type
QEMU_CONF=/etc/libvirt/qemu.conf
LIBVIRT_URI=qemu:///system
APT_LOG=$KUMO_LIB/host-setup-apt.log
APT_LOCK_TIMEOUT=600

START_NS=$(date +%s%N)

CHANGED=0 # set to 1 whenever the script changes something on the host

log() { echo "host-setup: $*"; }
did() {
	CHANGED=1
	log "$@"
}
die() {
	echo "host-setup: ERROR: $*" >&2
	exit 1
}

# ---------------------------------------------------------------------------------------------
# 1. root
# ---------------------------------------------------------------------------------------------
if [[ $EUID -ne 0 ]]; then
	die "must run as root (uid $EUID); try: sudo $0"
fi
mkdir -p "$KUMO_LIB"

# ---------------------------------------------------------------------------------------------
# 2. packages
# ---------------------------------------------------------------------------------------------
missing_packages() {
	local -A status=()
	local name st pkg
	# One dpkg-query for all packages; unknown packages only produce stderr noise.
	while IFS=$'\t' read -r name st; do
		status[$name]=$st
	done < <(dpkg-query -W -f='${Package}\t${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
	for pkg in "${PACKAGES[@]}"; do
		if [[ ${status[$pkg]:-} != installed ]]; then
			echo "$pkg"
		fi
	done
}

apt_update() {
	# apt-get update does not honour DPkg::Lock::Timeout for the lists lock, so retry while
	# another apt run holds it.
	local deadline=$((SECONDS + APT_LOCK_TIMEOUT)) said=0
	while true; do
		if apt-get -o DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT -q update >>"$APT_LOG" 2>&1; then
			return 0
		fi
		if tail -n 5 "$APT_LOG" | grep -qi 'lock' && ((SECONDS < deadline)); then
			if ((!said)); then
				log "apt lock held by another process, waiting (up to ${APT_LOCK_TIMEOUT}s)"
				said=1
			fi
			sleep 3
			continue
		fi
		tail -n 10 "$APT_LOG" >&2
		die "apt-get update failed (full log: $APT_LOG)"
	done
}

mapfile -t MISSING < <(missing_packages)
if ((${#MISSING[@]} == 0)); then
	log "packages: all ${#PACKAGES[@]} present"
else
	did "packages: installing ${#MISSING[@]} missing: ${MISSING[*]} (log: $APT_LOG)"
	: >"$APT_LOG"
	export DEBIAN_FRONTEND=noninteractive
	apt_update
	if ! apt-get -o DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT -q -y --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		install "${MISSING[@]}" >>"$APT_LOG" 2>&1; then
		tail -n 15 "$APT_LOG" >&2
		die "apt-get install failed for: ${MISSING[*]} (full log: $APT_LOG)"
	fi
	mapfile -t STILL < <(missing_packages)
	if ((${#STILL[@]} > 0)); then
		die "packages still not installed after apt-get: ${STILL[*]} (log: $APT_LOG)"
	fi
	did "packages: installed ${MISSING[*]}"
fi

# ---------------------------------------------------------------------------------------------
# 3. libvirtd
# ---------------------------------------------------------------------------------------------
have_systemd() {
	[[ -d /run/systemd/system && $(cat /proc/1/comm 2>/dev/null) == systemd ]]
}

# set_conf FILE KEY VALUE: make FILE contain exactly one active line `KEY = VALUE`.
# Prints "changed" when it modified the file.
set_conf() {
	local file=$1 key=$2 value=$3 want re
	want="$key = $value"
	re="^[[:space:]]*${key}[[:space:]]*="
	if grep -qxF -- "$want" "$file" && [[ $(grep -cE "$re" "$file") -eq 1 ]]; then
		return 0
	fi
	if grep -qE "$re" "$file"; then
		# Replace the first active line, delete any further active duplicates.
		sed -i -E "0,/${re}.*/s//${want}/" "$file"
		sed -i -E "0,/^${want}\$/!{/${re}/d}" "$file"
	else
		printf '%s\n' "$want" >>"$file"
	fi
	echo changed
}

# live_pids NAME: pids of processes named exactly NAME, ignoring zombies (PID 1 in a container
# may reap dead daemons late, and pgrep -x alone still lists them).
live_pids() {
	local pid st
	for pid in $(pgrep -x "$1"); do
		st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || continue
		[[ -n $st && $st != Z && $st != X ]] && echo "$pid"
	done
	return 0
}

libvirt_answers() {
	timeout 5 virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1
}

wait_libvirt() {
	local i
	for ((i = 0; i < 30; i++)); do
		if libvirt_answers; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

if have_systemd; then
	if ! systemctl is-active --quiet libvirtd; then
		systemctl enable --now libvirtd >/dev/null 2>&1 || die "systemctl enable --now libvirtd failed"
		did "libvirtd: enabled and started with systemctl"
	else
		log "libvirtd: active under systemd"
	fi
else
	# No service manager: we run the daemons ourselves, as root, without a security driver
	# (there is no AppArmor/SELinux or working DAC separation inside a container).
	getent group kvm >/dev/null || { groupadd -r kvm && did "created group kvm"; }
	getent group libvirt >/dev/null || { groupadd -r libvirt && did "created group libvirt"; }
	if ! id libvirt-qemu >/dev/null 2>&1; then
		useradd -r -g kvm -G libvirt -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
		did "created user libvirt-qemu"
	fi
	for d in /var/log/libvirt /var/run/libvirt /var/lib/libvirt/qemu; do
		if [[ ! -d $d ]]; then
			mkdir -p "$d"
			did "created $d"
		fi
	done

	[[ -f $QEMU_CONF ]] || die "$QEMU_CONF missing (is libvirt-daemon-driver-qemu installed?)"
	conf_changed=""
	conf_changed+=$(set_conf "$QEMU_CONF" user '"root"')
	conf_changed+=$(set_conf "$QEMU_CONF" group '"root"')
	conf_changed+=$(set_conf "$QEMU_CONF" security_driver '"none"')
	if [[ -n $conf_changed ]]; then
		did "qemu.conf: set user/group root, security_driver none"
		if [[ -n $(live_pids libvirtd) ]]; then
			did "libvirtd: restarting to pick up qemu.conf"
			pkill -x libvirtd || true
			for ((i = 0; i < 40; i++)); do
				[[ -n $(live_pids libvirtd) ]] || break
				sleep 0.25
			done
			[[ -z $(live_pids libvirtd) ]] || die "libvirtd did not stop for restart"
		fi
	fi

	pid=$(live_pids virtlogd)
	if [[ -n $pid ]]; then
		log "virtlogd: running (pid ${pid//$'\n'/ })"
	else
		virtlogd -d || die "virtlogd -d failed"
		did "virtlogd: started"
	fi
	pid=$(live_pids libvirtd)
	if [[ -n $pid ]]; then
		log "libvirtd: running (pid ${pid//$'\n'/ })"
	else
		libvirtd -d || die "libvirtd -d failed"
		did "libvirtd: started"
	fi
fi

wait_libvirt || die "libvirtd does not answer on $LIBVIRT_URI after 15s (see /var/log/libvirt/)"
log "libvirt: $LIBVIRT_URI answers ($(virsh -c "$LIBVIRT_URI" version 2>/dev/null | sed -n 's/^Running hypervisor: //p'))"

# ---------------------------------------------------------------------------------------------
# 4. KVM probe -> /var/lib/kumo/virt-type
# ---------------------------------------------------------------------------------------------
# Boot sector (16-bit real mode at 0x7c00): print the string at 0x7c19 on COM1 (0x3f8), then
# write 0 to isa-debug-exit (0xf4) and cli; hlt.
make_boot_sector() {
	local img=$1
	{
		printf '\x31\xC0\x8E\xD8\xFC\xBA\xF8\x03\xBE\x19\x7C\xAC\x84\xC0\x74\x03\xEE\xEB\xF8'
		printf '\xB0\x00\xE6\xF4\xFA\xF4'
		printf 'KVMOK\n\0'
	} >"$img"
	local size
	size=$(stat -c %s "$img")
	head -c $((510 - size)) /dev/zero >>"$img"
	printf '\x55\xAA' >>"$img"
	[[ $(stat -c %s "$img") -eq 512 ]] || die "probe boot sector is not 512 bytes"
}

# boot_probe ACCEL IMG OUT TIMEOUT: succeeds when the guest printed the marker. Sets
# PROBE_MS to how long qemu ran.
PROBE_MS=0
boot_probe() {
	local accel=$1 img=$2 out=$3 secs=$4 t0
	rm -f "$out"
	t0=$(date +%s%N)
	timeout -k 5 "$secs" qemu-system-x86_64 -accel "$accel" -m 16 -nodefaults \
		-display none -monitor none -serial "file:$out" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot \
		-drive "file=$img,format=raw,if=ide" >"$out.log" 2>&1 || true
	PROBE_MS=$((($(date +%s%N) - t0) / 1000000))
	grep -q KVMOK "$out" 2>/dev/null
}

cached=""
# The cache is keyed on the probe's own recipe (the probe functions and its time limit), not on
# file times or the rest of this script, so a fresh clone or a new package reuses the answer.
KVM_PROBE_LIMIT=3
PROBE_KEY=$( { declare -f make_boot_sector boot_probe; echo "limit=$KVM_PROBE_LIMIT"; } | sha256sum | cut -d' ' -f1)
if [[ ${KUMO_REPROBE:-0} != 1 && -f $VIRT_TYPE_FILE && "$(cat "$VIRT_TYPE_FILE.key" 2>/dev/null)" == "$PROBE_KEY" ]]; then
	cached=$(<"$VIRT_TYPE_FILE")
	[[ $cached == kvm || $cached == qemu ]] || cached=""
fi
if [[ -n $cached ]]; then
	log "virt-type: $cached (cached in $VIRT_TYPE_FILE; KUMO_REPROBE=1 to re-probe)"
else
	PROBE_DIR=$(mktemp -d /tmp/kumo-kvm-probe.XXXXXX)
	trap 'rm -rf "$PROBE_DIR"' EXIT
	make_boot_sector "$PROBE_DIR/boot.img"
	if ! boot_probe tcg "$PROBE_DIR/boot.img" "$PROBE_DIR/tcg.out" 20; then
		die "probe guest does not boot even under TCG (qemu: $(tail -n 1 "$PROBE_DIR/tcg.out.log" 2>/dev/null))"
	fi
	tcg_ms=$PROBE_MS
	if [[ ! -e /dev/kvm ]]; then
		vt=qemu
		why="no /dev/kvm"
	# Nested KVM can stall in the firmware (5-11 s seen for this probe while TCG takes 0.4 s)
	# or hang guests outright; either way TCG serves guests better, so KVM must finish this
	# 512-byte guest within 3 s to be chosen.
	elif boot_probe kvm "$PROBE_DIR/boot.img" "$PROBE_DIR/kvm.out" "$KVM_PROBE_LIMIT"; then
		vt=kvm
		why="a test guest booted under KVM in ${PROBE_MS} ms; TCG ${tcg_ms} ms"
	else
		vt=qemu
		why="/dev/kvm exists but a test guest did not print its marker under KVM within ${KVM_PROBE_LIMIT} s (TCG took ${tcg_ms} ms)"
		err=$(grep -v warning "$PROBE_DIR/kvm.out.log" 2>/dev/null | tail -n 1 || true)
		[[ -z $err ]] || why+=": $err"
	fi
	echo "$vt" >"$VIRT_TYPE_FILE.tmp"
	mv -f "$VIRT_TYPE_FILE.tmp" "$VIRT_TYPE_FILE"
	echo "$PROBE_KEY" >"$VIRT_TYPE_FILE.key"
	did "virt-type: $vt ($why) -> $VIRT_TYPE_FILE"
fi

# ---------------------------------------------------------------------------------------------
# 5. PostgreSQL binaries (kumod runs its own private cluster with initdb + pg_ctl)
# ---------------------------------------------------------------------------------------------
id postgres >/dev/null 2>&1 || die "user postgres missing (should be created by the postgresql package)"
initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 || true)
[[ -n $initdb && -x $initdb ]] || die "no /usr/lib/postgresql/*/bin/initdb (postgresql package broken?)"
log "postgresql: user postgres and $initdb present"

END_NS=$(date +%s%N)
if ((CHANGED)); then
	log "done in $(((END_NS - START_NS) / 1000000)) ms"
else
	log "everything already in place ($(((END_NS - START_NS) / 1000000)) ms)"
fi
