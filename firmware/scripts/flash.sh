#!/usr/bin/env bash
# make flash: write a kiosk disk image to a card or eMMC with bmaptool and
# read it back.
#
#   firmware/scripts/flash.sh DEVICE IMAGE CONFIRM
#
# Refuses unless DEVICE is set, is a whole-disk block device, is not the
# disk the running system lives on, has nothing mounted, and CONFIRM=yes;
# it shows the device's model and size first. bmaptool writes only the
# image's mapped blocks (and checks their checksums as it goes); the
# read-back compares every mapped range on the device with the SHA-256 the
# .bmap records, reading around the page cache.
#
# Compute Module 4 eMMC: fit the nRPIBOOT jumper (J2 "Disable eMMC Boot" on
# the CM4 IO board), connect the IO board's USB slave port, run rpiboot
# (from the usbboot project, or Debian's rpiboot package): the eMMC appears
# as a USB disk /dev/sdX; flash that, remove the jumper, power-cycle.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=target.sh
. "$here/target.sh"

dev=${1:-} image=${2:-} confirm_=${3:-}
check_target "$dev" flash
"$here/deps.sh" flash
[ -n "$image" ] && [ -f "$image" ] || die "make flash: no image (IMAGE=${image:-unset}); build one with make image BOARD=..."
bmap="${image%.img}.bmap"
[ -f "$bmap" ] || die "make flash: no block map $bmap beside the image; rebuild it with make image"
echo "make flash: image $image ($(du -h --apparent-size "$image" | cut -f1) raw, $(du -h "$image" | cut -f1) mapped)" >&2
confirm "$confirm_" "$dev" flash

t0=$(date +%s)
bmaptool copy --bmap "$bmap" "$image" "$dev"
sync
blockdev --flushbufs "$dev" 2>/dev/null || true
[ -w /proc/sys/vm/drop_caches ] && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t1=$(date +%s)

# Read back every mapped range and compare with the bmap's SHA-256.
bs=$(sed -n 's:.*<BlockSize> *\([0-9]*\) *</BlockSize>.*:\1:p' "$bmap")
algo=$(sed -n 's:.*<ChecksumType> *\([a-z0-9]*\) *</ChecksumType>.*:\1:p' "$bmap")
[ "$algo" = sha256 ] || die "make flash: $bmap uses checksum '$algo'; the read-back needs sha256 (bmap-tools 3.5 or later)"
ranges=0 bad=0
direct=iflag=direct
dd if="$dev" of=/dev/null bs="$bs" count=1 $direct 2>/dev/null || direct=
while read -r sum range; do
  first=${range%-*} last=${range#*-}
  got=$(dd if="$dev" bs="$bs" skip="$first" count=$((last - first + 1)) $direct 2>/dev/null | sha256sum | cut -d' ' -f1)
  ranges=$((ranges + 1))
  if [ "$got" != "$sum" ]; then
    echo "make flash: blocks $range read back differently from the image" >&2
    bad=$((bad + 1))
  fi
done < <(sed -n 's:.*<Range chksum="\([0-9a-f]*\)"> *\([0-9]*\)\(-[0-9]*\)\{0,1\} *</Range>.*:\1 \2\3:p' "$bmap" | awk '{ if ($2 !~ /-/) $2 = $2 "-" $2; print }')
t2=$(date +%s)
[ "$ranges" -gt 0 ] || die "make flash: no ranges in $bmap"
if [ "$bad" -gt 0 ]; then
  echo "make flash: FAILED: $bad of $ranges mapped ranges differ on $dev (bad card or reader?)" >&2
  exit 1
fi
echo "make flash: wrote $image to $dev in $((t1 - t0))s, read back and verified $ranges ranges in $((t2 - t1))s"
echo "make flash: next, give the kiosk its identity: make provision KIOSK_ID=... DEVICE=$dev SITE_CONFIG=... NODE_KEYS=..."
