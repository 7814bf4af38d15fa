#!/bin/sh
# Strips from a freshly built root filesystem what no two kiosks may share
# and what only the build needed:
#
#   firmware/scripts/rootfs-clean.sh ROOT
#
# SSH host keys and the machine id are made at each kiosk's first boot (an
# empty /etc/machine-id tells systemd to do so); build logs and apt's
# downloaded packages and lists are dropped. rootfs.sh runs it on both of
# its paths: as an mmdebstrap customize hook and after debootstrap.
set -eu
root=$1
[ -d "$root/etc" ] || { echo "rootfs-clean: $root is not a root filesystem (no etc/)" >&2; exit 1; }
rm -f "$root"/etc/ssh/ssh_host_* "$root/var/lib/dbus/machine-id" "$root"/var/log/*.log
: > "$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
