#!/usr/bin/env bash
# Builds the kumo-tiny guest image (ARCHITECTURE.md §7) from Debian packages only and caches it.
#
#   deploy/images/build-kumo-tiny.sh        # prints the image path on its last stdout line
#
# The image is a qcow2 disk: an MBR (syslinux mbr.bin) and one FAT partition holding SYSLINUX,
# the Debian kernel and an initramfs with the whole userland (busybox, dropbear, a few kernel
# modules and the boot script in kumo-tiny/rootfs). The root file system stays in RAM.
#
# Nothing is mounted and no loop device is used: the partition is built as a file with
# mkfs.fat + mtools + `syslinux --install`, then written into the disk at 1 MiB.
#
# Cache: $KUMO_IMAGE_CACHE (default /var/cache/kumo/images) holds
#   kumo-tiny-<sha256 of this script and kumo-tiny/>.qcow2   the image; rebuilt only when the
#                                                          recipe changes
#   debs/                                                  the downloaded .deb files; once
#                                                          there, the build needs no network
# Timing goes to stderr as `build kumo-tiny: cold 12.3s` or `build kumo-tiny: cached 0.01s`.
set -euo pipefail

NAME=kumo-tiny
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPE=$HERE/$NAME
CACHE=${KUMO_IMAGE_CACHE:-/var/cache/kumo/images}
DEBS=$CACHE/debs
DISK_MIB=64 # virtual size; the partition starts at 1 MiB
START_NS=$(date +%s%N)

die() {
	echo "build $NAME: ERROR: $*" >&2
	exit 1
}
elapsed() { awk -v ns=$(($(date +%s%N) - START_NS)) 'BEGIN { printf "%.2fs", ns / 1e9 }'; }

# The recipe hash covers this script and every file under kumo-tiny/ (names and contents)
# except documentation (*.md).
recipe_hash() {
	(
		cd "$HERE"
		{
			sha256sum "$(basename "${BASH_SOURCE[0]}")"
			find "$NAME" -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
		} | sha256sum | cut -c1-16
	)
}

HASH=$(recipe_hash)
OUT=$CACHE/$NAME-$HASH.qcow2
if [[ -s $OUT ]]; then
	echo "build $NAME: cached $(elapsed)" >&2
	echo "$OUT"
	exit 0
fi

for tool in apt-get dpkg-deb cpio gzip mkfs.fat mcopy syslinux sfdisk qemu-img readelf flock; do
	command -v "$tool" >/dev/null || die "$tool not found (run deploy/host-setup.sh)"
done

mkdir -p "$CACHE" "$DEBS"
# One build at a time per cache; a waiting build reuses the image the first one produced.
exec 9>"$CACHE/$NAME.lock"
flock 9
if [[ -s $OUT ]]; then
	echo "build $NAME: cached $(elapsed)" >&2
	echo "$OUT"
	exit 0
fi

WORK=$(mktemp -d /tmp/kumo-tiny-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PKGS=$WORK/pkgs
ROOT=$WORK/root
mkdir -p "$PKGS" "$ROOT"

# --- 1. packages -----------------------------------------------------------------------------
mapfile -t WANT < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$RECIPE/packages")
# linux-image-amd64 is a metapackage: fetch the kernel it points at.
for i in "${!WANT[@]}"; do
	meta=${WANT[$i]}
	if [[ $meta =~ ^linux-image-([a-z]+-)?amd64$ ]]; then
		flavour=${BASH_REMATCH[1]}amd64
		kpkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		if [[ -z $kpkg ]]; then
			# No apt metadata (offline): use the newest kernel of that flavour already cached.
			kpkg=$(find "$DEBS" -name "linux-image-[0-9]*-${flavour}_*.deb" -printf '%f\n' | sort -V | tail -n 1 | cut -d_ -f1)
		fi
		[[ -n $kpkg ]] || die "cannot resolve $meta (apt-cache depends failed and no cached kernel)"
		WANT[i]=$kpkg
	fi
done
deb_of() { find "$DEBS" -maxdepth 1 -name "$1_*.deb" -printf '%p\n' | sort -V | tail -n 1; }
MISSING=()
for p in "${WANT[@]}"; do
	[[ -n $(deb_of "$p") ]] || MISSING+=("$p")
done
if ((${#MISSING[@]})); then
	(cd "$DEBS" && apt-get -q -o APT::Sandbox::User=root download "${MISSING[@]}" >"$WORK/apt.log" 2>&1) ||
		{
			tail -n 5 "$WORK/apt.log" >&2
			die "apt-get download ${MISSING[*]} failed"
		}
fi
for p in "${WANT[@]}"; do
	deb=$(deb_of "$p")
	[[ -n $deb ]] || die "package $p was not downloaded"
	mkdir -p "$PKGS/$p"
	if [[ $p == linux-image-* ]]; then
		# Only the kernel and its modules, without the big driver trees a VM never needs.
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$PKGS/$p" --wildcards \
			--exclude='*/kernel/sound' --exclude='*/kernel/drivers/gpu' --exclude='*/kernel/drivers/media' \
			--exclude='*/kernel/drivers/net/wireless' --exclude='*/kernel/drivers/infiniband' \
			'./boot/vmlinuz-*' './lib/modules/*'
		KPKG=$p
	else
		dpkg-deb -x "$deb" "$PKGS/$p"
	fi
done

# --- 2. initramfs root -------------------------------------------------------------------------
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc/kumo,proc,sys,dev,run,tmp,mnt,root,lib/x86_64-linux-gnu,lib64}
chmod 1777 "$ROOT/tmp"
chmod 700 "$ROOT/root"
BB=$PKGS/busybox-static/bin/busybox
[[ -x $BB ]] || die "busybox-static did not provide /bin/busybox"
cp "$BB" "$ROOT/bin/busybox"
# Symlink every applet at the path busybox itself would install it to.
"$BB" --list-full | while read -r applet; do
	[[ -e $ROOT/$applet || -L $ROOT/$applet ]] && continue
	mkdir -p "$ROOT/$(dirname "$applet")"
	ln -s /bin/busybox "$ROOT/$applet"
done
ln -s /bin/busybox "$ROOT/init"

# dropbear and dropbearkey are dynamic: copy the shared libraries they need (transitively).
cp "$PKGS/dropbear-bin/usr/sbin/dropbear" "$ROOT/usr/sbin/"
cp "$PKGS/dropbear-bin/usr/bin/dropbearkey" "$ROOT/usr/bin/"
find_lib() { find "$PKGS" -path '*/lib/x86_64-linux-gnu/*' -name "$1" \( -type f -o -type l \) -print -quit; }
declare -A HAVE=()
QUEUE=("$ROOT/usr/sbin/dropbear" "$ROOT/usr/bin/dropbearkey")
while ((${#QUEUE[@]})); do
	f=${QUEUE[0]}
	QUEUE=("${QUEUE[@]:1}")
	for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[[ -n ${HAVE[$lib]:-} ]] && continue
		src=$(find_lib "$lib")
		[[ -n $src ]] || die "shared library $lib (needed by $(basename "$f")) is in none of the packages"
		cp -L "$src" "$ROOT/lib/x86_64-linux-gnu/$lib"
		HAVE[$lib]=1
		QUEUE+=("$ROOT/lib/x86_64-linux-gnu/$lib")
	done
done
ldso=$(find_lib ld-linux-x86-64.so.2)
[[ -n $ldso ]] || die "ld-linux-x86-64.so.2 not found in libc6"
cp -L "$ldso" "$ROOT/lib/x86_64-linux-gnu/"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ROOT/lib64/ld-linux-x86-64.so.2"

# Kernel modules: the list plus their dependencies (from each module's .modinfo), then a
# modules.dep made by busybox depmod for busybox modprobe.
KDIR=$(find "$PKGS/$KPKG/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)
KVER=$(basename "$KDIR")
VMLINUZ=$PKGS/$KPKG/boot/vmlinuz-$KVER
[[ -f $VMLINUZ ]] || die "no vmlinuz-$KVER in $KPKG"
declare -A MODS=()
mod_path() { find "$KDIR/kernel" -name "$1.ko" -print -quit; }
add_module() {
	local m=${1//-/_} path dep
	[[ -n ${MODS[$m]:-} ]] && return 0
	path=$(mod_path "$m")
	[[ -n $path ]] || path=$(mod_path "${1//_/-}")
	if [[ -z $path ]]; then
		grep -qE "/${m//_/[-_]}\.ko$" "$KDIR/modules.builtin" && return 0
		die "kernel module $1 not found in $KPKG"
	fi
	MODS[$m]=$path
	for dep in $(tr '\0' '\n' <"$path" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$dep"
	done
}
mapfile -t LOAD < <(sed -e 's/#.*//' -e '/^@/d' -e '/^[[:space:]]*$/d' "$RECIPE/modules")
for m in "${LOAD[@]}"; do add_module "$m"; done
for m in "${!MODS[@]}"; do
	rel=${MODS[$m]#"$KDIR"/}
	mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$rel")"
	cp "${MODS[$m]}" "$ROOT/lib/modules/$KVER/$rel"
done
cp "$KDIR/modules.builtin" "$KDIR/modules.order" "$ROOT/lib/modules/$KVER/"
"$BB" depmod -b "$ROOT" "$KVER"
cp "$RECIPE/modules" "$ROOT/etc/kumo/modules"

# The recipe's own files (boot script, inittab, passwd, udhcpc script, json.awk).
cp -a "$RECIPE/rootfs/." "$ROOT/"
chmod 755 "$ROOT/etc/init.d/rcS" "$ROOT/etc/udhcpc/default.script" "$ROOT/etc/acpi/PWRF/00000080"
chmod 600 "$ROOT/etc/shadow"

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -6 >"$WORK/initrd.gz"

# --- 3. disk -----------------------------------------------------------------------------------
SYSLINUX_MBR=$PKGS/syslinux-common/usr/lib/syslinux/mbr/mbr.bin
[[ -f $SYSLINUX_MBR ]] || die "syslinux-common has no mbr.bin"
PART=$WORK/part.img
PART_KIB=$(((DISK_MIB - 1) * 1024))
# -h 2048: the FAT's hidden-sectors field must hold the partition's start for SYSLINUX.
mkfs.fat -n KUMOTINY -i 6b756d6f -h 2048 -C "$PART" "$PART_KIB" >/dev/null
mcopy -i "$PART" "$VMLINUZ" ::/vmlinuz
mcopy -i "$PART" "$WORK/initrd.gz" ::/initrd.gz
mcopy -i "$PART" "$RECIPE/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$PART"

RAW=$WORK/disk.raw
truncate -s "${DISK_MIB}M" "$RAW"
echo 'label: dos
start=2048, type=c, bootable' | sfdisk -q "$RAW"
dd if="$PART" of="$RAW" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$SYSLINUX_MBR" of="$RAW" bs=440 count=1 conv=notrunc status=none

qemu-img convert -q -f raw -O qcow2 "$RAW" "$WORK/disk.qcow2"
mv -f "$WORK/disk.qcow2" "$OUT"
echo "build $NAME: cold $(elapsed) (kernel $KVER, initramfs $(($(stat -c %s "$WORK/initrd.gz") / 1024)) KiB, image $(($(stat -c %s "$OUT") / 1024)) KiB)" >&2
echo "$OUT"
