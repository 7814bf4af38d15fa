#!/usr/bin/env bash
# make provision: give one kiosk its identity on its own card, never in the
# shared image. Lays out the data partition with kioskctl firmware provision
# (device key, TLS key and request, node public keys, site config, SSH keys)
# and writes it as a new ext4 filesystem onto the card's data partition
# (partition 4, label kiosk-data) with mkfs.ext4 -d: no mounting, no root
# needed for an image file.
#
#   firmware/scripts/provision.sh KIOSKCTL DEVICE KIOSK_ID SITE_CONFIG NODE_KEYS KIOSK_KEYS SSH_KEYS CONFIRM [RECORD_DIR]
#
# DEVICE is the flashed card (with the same guards as make flash) or a
# per-kiosk copy of an image file; the built image in dist/ is refused.
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=target.sh
. "$here/target.sh"

kioskctl=$1 dev=${2:-} id=${3:-} site=${4:-} node=${5:-} keys=${6:-} ssh=${7:-} confirm_=${8:-} record=${9:-}
record=${record:-${DIST:-dist}/provisioned/$id}
[ -n "$id" ] || die "make provision: set KIOSK_ID=... (3-64 of a-z, 0-9, '-'; the MQTT client id and certificate CN)"
[ -n "$site" ] || die "make provision: set SITE_CONFIG=site.yaml (a kioskd.yaml whose files are under /var/lib/kiosk; example: firmware/site-sim.yaml)"
[ -f "$site" ] || die "make provision: SITE_CONFIG=$site does not exist"
if [ -f "$dev" ] && [ ! -b "$dev" ]; then
  shared=$(cd "${DIST:-dist}" 2>/dev/null && pwd || true)
  case "$(basename "$dev")" in
    kiosk-*.img) if [ -n "$shared" ] && [ "$(cd "$(dirname "$dev")" && pwd)" = "$shared" ]; then
        die "make provision: $dev is the shared image; provision a copy (cp --sparse=always $dev kiosk-$id.img) or the flashed card"
      fi ;;
  esac
  kind=file
  echo "make provision: DEVICE=$dev is an image file" >&2
else
  check_target "$dev" provision
  kind=block
fi
"$here/deps.sh" provision

table=$(sfdisk -J "$dev") || die "make provision: cannot read the partition table of $dev; flash a kiosk image first (make flash)"
label_id=$(printf '%s' "$table" | tr -d ' \n' | sed -n 's/.*"id":"\(0x[0-9a-fA-F]*\)".*/\1/p')
[ "$label_id" = 0x4b494f53 ] || die "make provision: $dev does not hold a kiosk image (disk id ${label_id:-none}, want 0x4b494f53); flash one first (make flash)"
read -r start size < <(printf '%s' "$table" | tr -d ' \n' | grep -o '{"node":"[^"]*4","start":[0-9]*,"size":[0-9]*' | sed 's/.*"start":\([0-9]*\),"size":\([0-9]*\)/\1 \2/')
[ -n "${start:-}" ] || die "make provision: $dev has no partition 4 (the data partition)"
if [ "$kind" = block ]; then
  part=$(lsblk -lnpo NAME,TYPE "$(readlink -f "$dev")" | awk '$2 == "part" {print $1}' | sed -n 4p)
  [ -b "$part" ] || die "make provision: cannot find the device node of partition 4 of $dev"
fi
confirm "$confirm_" "the data partition (4) of $dev: any identity, outbox and state on it" provision

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
args=(-id "$id" -site "$site" -out "$stage/data")
[ -n "$node" ] && args+=(-node "$node")
[ -n "$keys" ] && args+=(-keys "$keys")
[ -n "$ssh" ] && args+=(-ssh "$ssh")
"$kioskctl" firmware provision "${args[@]}" | tee "$stage/provision.txt"

if [ "$kind" = block ]; then
  mkfs.ext4 -F -q -L kiosk-data -d "$stage/data" "$part"
else
  mkfs.ext4 -F -q -L kiosk-data -E offset=$((start * 512)) -d "$stage/data" "$dev" $((size / 2))k
fi
sync
# The public halves stay with the technician: the device public key for the
# node's registry, the certificate request for the CA.
mkdir -p "$record"
find "$stage/data/keys" -maxdepth 1 -type f \( -name '*.pub' -o -name '*.csr' \) -exec cp {} "$record/" \;
cp "$stage/provision.txt" "$record/provision.txt"
echo "make provision: kiosk $id written to the data partition of $dev; public key, certificate request and node registry entry in $record/"
