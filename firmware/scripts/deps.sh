#!/usr/bin/env bash
# Installs the Debian packages the firmware targets need (make image,
# image-test, flash, provision), the same way .ci/deps does for the tests:
# apt-get as root or through sudo on Debian-family machines; elsewhere it
# stops and prints what to install.
#
#   firmware/scripts/deps.sh image|image-test|flash|provision
set -euo pipefail

# command-to-probe:debian-package, per target
case "${1:-}" in
  image)      need=(debootstrap:debootstrap proot:proot mmdebstrap:mmdebstrap newuidmap:uidmap fakeroot:fakeroot
                    qemu-aarch64-static:qemu-user-static qemu-arm-static:qemu-user-static
                    sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools mkfs.ext4:e2fsprogs bmaptool:bmap-tools) ;;
  image-test) need=(qemu-system-aarch64:qemu-system-arm sfdisk:fdisk mcopy:mtools mkfs.ext4:e2fsprogs debugfs:e2fsprogs) ;;
  flash)      need=(bmaptool:bmap-tools lsblk:util-linux findmnt:util-linux sfdisk:fdisk) ;;
  provision)  need=(sfdisk:fdisk mkfs.ext4:e2fsprogs lsblk:util-linux findmnt:util-linux) ;;
  *) echo "usage: $0 image|image-test|flash|provision" >&2; exit 2 ;;
esac
target=$1

have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
for entry in "${need[@]}"; do
  cmd=${entry%%:*} pkg=${entry#*:}
  if ! have "$cmd"; then
    [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "make $target: missing tools; install the equivalents of these Debian packages: ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "make $target: missing packages; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "make $target: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/kiosk-firmware-apt.XXXXXX)
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  $sudo apt-get update >>"$log" 2>&1
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || {
    tail -20 "$log" >&2
    echo "make $target: apt-get failed; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  }
fi
rm -f "$log"
