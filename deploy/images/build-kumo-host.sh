#!/usr/bin/env bash
# Builds the kumo-host guest image (ARCHITECTURE.md §7): Debian bookworm with cloud-init,
# crun, python3, nodejs and openssh-server; extlinux on an ext4 root partition; serial console
# on ttyS0; the root partition and filesystem grow to the disk at boot. Output: qcow2.
#
# Offline apart from the Debian apt mirror the host uses. Run as root. Idempotent and cached:
# the image is named by the sha256 of its recipe (this script + deploy/images/kumo-host/) and
# is rebuilt only when the recipe changes. Downloaded .debs are kept and reused.
#
# With --cached-only it builds nothing: it prints the cached image's path, or exits 1 if the
# current recipe has not been built (make run uses this to publish kumo-host only when built).
#
# The last stdout line is the image path. stderr ends with
#   build kumo-host: cold 312.4s     or     build kumo-host: cached 0.01s
#
# Environment:
#   KUMO_IMAGE_CACHE      image cache dir (default /var/cache/kumo/images)
#   KUMO_DEB_CACHE        .deb download cache (default /var/cache/kumo/debs)
#   KUMO_DEBIAN_MIRROR    Debian mirror (default: the host's bookworm apt source)
#   KUMO_DEBIAN_SECURITY_MIRROR  (default: the host's bookworm-security apt source)
set -euo pipefail

T0=$EPOCHREALTIME
SELF=$(readlink -f "${BASH_SOURCE[0]}")
RECIPE=$(dirname "$SELF")/kumo-host
CACHE=${KUMO_IMAGE_CACHE:-/var/cache/kumo/images}
DEB_CACHE=${KUMO_DEB_CACHE:-/var/cache/kumo/debs}
SUITE=bookworm
DISK_MB=2048       # virtual size of the image; cloud-init grows the root to the real disk
PART_START=1048576 # root partition offset (bytes): sector 2048
LOCK_WAIT=1800     # another build of the same cache may hold the lock this long

log() { echo "build kumo-host: $*" >&2; }
die() {
	echo "build kumo-host: ERROR: $*" >&2
	exit 1
}
since() { awk -v a="$1" -v b="$EPOCHREALTIME" -v f="${2:-%.1f}" 'BEGIN { printf f, b - a }'; }

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap, chroot, loop devices)"
[[ -f $RECIPE/packages && -f $RECIPE/customize.sh ]] || die "recipe missing under $RECIPE"
for tool in debootstrap chroot sfdisk mkfs.ext4 extlinux losetup mount qemu-img flock findmnt; do
	command -v "$tool" >/dev/null || die "$tool not found (run deploy/host-setup.sh)"
done
MBR_BIN=/usr/lib/EXTLINUX/mbr.bin
[[ -f $MBR_BIN ]] || die "$MBR_BIN not found (package extlinux)"

# The recipe key: this script and every file of the recipe, by relative path and content.
KEY=$({
	sha256sum <"$SELF"
	cd "$RECIPE" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} | sha256sum | cut -d' ' -f1)
OUT=$CACHE/kumo-host-$KEY.qcow2

if [[ ${1:-} == --cached-only ]]; then
	[[ -s $OUT ]] || exit 1
	echo "$OUT"
	exit 0
fi

mkdir -p "$CACHE"
if [[ ! -s $OUT ]]; then
	exec 9>"$CACHE/.kumo-host.lock"
	flock -w "$LOCK_WAIT" 9 || die "another build holds $CACHE/.kumo-host.lock for more than ${LOCK_WAIT}s"
fi
if [[ -s $OUT ]]; then
	log "cached $(since "$T0" %.2f)s"
	echo "$OUT"
	exit 0
fi

# --- cold build ------------------------------------------------------------------------------
# The host's apt source for SUITE (deb822 or one-line format); deb.debian.org otherwise.
host_mirror() {
	local suite=$1 u
	u=$(awk -v s="$suite" '
		BEGIN { RS = ""; FS = "\n" }
		{
			uri = ""; ok = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
				if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
			}
			if (ok && uri != "") { print uri; exit }
		}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	if [[ -z $u ]]; then
		u=$(awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++; if ($(i + 1) == s) { print $i; exit } }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
	fi
	echo "${u%/}"
}
MIRROR=${KUMO_DEBIAN_MIRROR:-$(host_mirror "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${KUMO_DEBIAN_SECURITY_MIRROR:-$(host_mirror "$SUITE-security")}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

WORK=""
LOOP=""
mounts_under() { findmnt -rn -o TARGET | awk -v p="$1/" 'index($0, p) == 1' | sort -r; }
cleanup() {
	local rc=$? m
	set +e
	if [[ -n $WORK ]]; then
		for m in $(mounts_under "$WORK"); do
			umount "$m" 2>/dev/null || umount -l "$m"
		done
	fi
	[[ -z $LOOP ]] || losetup -d "$LOOP"
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ -n $(mounts_under "$WORK") ]]; then
			log "WARNING: mounts remain under $WORK; not removing it"
		else
			# --one-file-system: never descend into a mount that survived.
			rm -rf --one-file-system "$WORK"
		fi
	fi
	if ((rc != 0)); then
		[[ ! -f $CACHE/kumo-host-build.log ]] || tail -n 25 "$CACHE/kumo-host-build.log" >&2
		log "FAILED after $(since "$T0")s (full log: $CACHE/kumo-host-build.log)"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Leftovers of a build that was killed with SIGKILL (we hold the lock, so none is running).
for stale in "$CACHE"/.work-kumo-host.*; do
	[[ -d $stale && -z $(mounts_under "$stale") ]] && rm -rf --one-file-system "$stale"
done

WORK=$(mktemp -d "$CACHE/.work-kumo-host.XXXXXX")
ROOT=$WORK/root
BUILD_LOG=$CACHE/kumo-host-build.log
: >"$BUILD_LOG"
mkdir -p "$DEB_CACHE/debootstrap" "$DEB_CACHE/apt/partial"
# A stable per-recipe filesystem UUID.
UUID=$(echo "$KEY" | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@" >>"$BUILD_LOG" 2>&1; }
APT=(apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
	-o Dpkg::Use-Pty=0)

log "cold build, key ${KEY:0:16}, mirror $MIRROR (log: $BUILD_LOG)"
t=$EPOCHREALTIME
debootstrap --variant=minbase --cache-dir="$DEB_CACHE/debootstrap" "$SUITE" "$ROOT" "$MIRROR" \
	>>"$BUILD_LOG" 2>&1 || die "debootstrap failed"
log "debootstrap $(since "$t")s"

t=$EPOCHREALTIME
# The recipe's files (root-owned, modes kept), then apt sources and a policy that keeps
# package scripts from starting services in the chroot.
cp -r --preserve=mode "$RECIPE/rootfs/." "$ROOT/"
sed -i "s/@ROOT_UUID@/$UUID/g" "$ROOT/boot/extlinux/extlinux.conf"
cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
echo "UUID=$UUID / ext4 errors=remount-ro 0 1" >"$ROOT/etc/fstab"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
# No fsync per file while building (a crash only loses this throw-away root).
echo force-unsafe-io >"$ROOT/etc/dpkg/dpkg.cfg.d/kumo-build-unsafe-io"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$ROOT/proc"
mount --bind "$DEB_CACHE/apt" "$ROOT/var/cache/apt/archives"

mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$RECIPE/packages")
in_root apt-get -q update || die "apt-get update in the image failed"
in_root "${APT[@]}" dist-upgrade || die "apt-get dist-upgrade in the image failed"
in_root "${APT[@]}" install "${PKGS[@]}" || die "apt-get install in the image failed"
log "packages $(since "$t")s"

t=$EPOCHREALTIME
[[ -e $ROOT/vmlinuz && -e $ROOT/initrd.img ]] || {
	k=$(cd "$ROOT/boot" && ls vmlinuz-* | sort -V | tail -n 1)
	ln -sf "boot/$k" "$ROOT/vmlinuz"
	ln -sf "boot/initrd.img-${k#vmlinuz-}" "$ROOT/initrd.img"
}
[[ -f $ROOT/initrd.img ]] || die "no initramfs in the image"
cp "$RECIPE/customize.sh" "$ROOT/tmp/customize.sh"
in_root /bin/sh /tmp/customize.sh || die "customize.sh failed"
umount "$ROOT/var/cache/apt/archives"
umount "$ROOT/proc"
rm -f "$ROOT/usr/sbin/policy-rc.d" "$ROOT/tmp/customize.sh" "$ROOT/etc/dpkg/dpkg.cfg.d/kumo-build-unsafe-io"
rm -rf "$ROOT/var/cache/apt/archives/"*
[[ -L $ROOT/etc/resolv.conf ]] || : >"$ROOT/etc/resolv.conf"
used_mb=$(du -sm --apparent-size "$ROOT" | cut -f1)
((used_mb * 10 < DISK_MB * 8)) || die "root is ${used_mb} MB, too big for a ${DISK_MB} MB disk"
log "customize $(since "$t")s (root ${used_mb} MB)"

# Disk: MBR + one bootable partition from sector 2048 to the end, an ext4 filesystem made
# from the directory (no copy through a mount), then extlinux.
t=$EPOCHREALTIME
DISK=$WORK/disk.raw
FS_BYTES=$((DISK_MB * 1024 * 1024 - PART_START))
truncate -s "${DISK_MB}M" "$DISK"
printf 'label: dos\nunit: sectors\nstart=%d, type=83, bootable\n' $((PART_START / 512)) |
	sfdisk -q "$DISK" >>"$BUILD_LOG" 2>&1 || die "sfdisk failed"
# No 64bit feature: extlinux 6.04 cannot boot from it (the disk can still grow to 16 TiB).
mkfs.ext4 -q -F -L kumo-root -U "$UUID" -O ^64bit -E "offset=$PART_START" -d "$ROOT" \
	"$DISK" "$((FS_BYTES / 1024))k" >>"$BUILD_LOG" 2>&1 || die "mkfs.ext4 failed"
LOOP=$(losetup -f --show --offset "$PART_START" --sizelimit "$FS_BYTES" "$DISK")
mkdir "$WORK/mnt"
mount -t ext4 "$LOOP" "$WORK/mnt"
extlinux --install "$WORK/mnt/boot/extlinux" >>"$BUILD_LOG" 2>&1 || die "extlinux --install failed"
umount "$WORK/mnt"
losetup -d "$LOOP"
LOOP=""
dd if="$MBR_BIN" of="$DISK" bs=440 count=1 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 -c -o compression_type=zstd "$DISK" "$WORK/image.qcow2"
mv -f "$WORK/image.qcow2" "$OUT"
# Keep the three newest kumo-host images (other checkouts may still use an older recipe).
ls -t "$CACHE"/kumo-host-*.qcow2 | tail -n +4 | xargs -r rm -f --
log "disk $(since "$t")s ($(du -m "$OUT" | cut -f1) MB qcow2)"

log "cold $(since "$T0")s"
echo "$OUT"
