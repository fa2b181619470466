#!/bin/sh
# Runs inside the kumo-host root (chroot) after the packages are installed and the rootfs/
# overlay is copied. Called by deploy/images/build-kumo-host.sh; part of the image recipe.
set -eu

echo kumo-host >/etc/hostname
cat >/etc/hosts <<'HOSTS'
127.0.0.1	localhost
127.0.1.1	kumo-host
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
HOSTS

# cloud-init renders the instance's network config for systemd-networkd.
systemctl enable systemd-networkd.service systemd-resolved.service
systemctl enable ssh.service cloud-init-local.service cloud-init.service \
	cloud-config.service cloud-final.service

# Nothing in a short-lived cloud VM needs these, and they cost boot time under TCG.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
	fstrim.timer man-db.timer dpkg-db-backup.timer systemd-pstore.service \
	remote-fs.target; do
	systemctl disable "$unit" >/dev/null 2>&1 || true
done
systemctl mask systemd-udev-settle.service >/dev/null 2>&1 || true

# No password for root; the login is the cloud-init default user with the instance's keys.
passwd -l root >/dev/null

# Per-instance identity is created at first boot: machine-id by systemd, SSH host keys by
# cloud-init.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -f /etc/ssh/ssh_host_*

# Small image: no package caches, lists, docs or logs.
# (the build script empties /var/cache/apt/archives: it is its download cache while building)
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
find /var/log -type f -delete
rm -rf /tmp/* /var/tmp/* /root/.cache
