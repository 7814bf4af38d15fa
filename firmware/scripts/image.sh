#!/usr/bin/env bash
# make image: a raw kiosk disk image with an explicit MBR partition table
#
#   p1  boot    FAT32, 256 MiB   kernel, initrd, device trees, boot config
#   p2  root A  ext4             Debian root filesystem + firmware slot a
#   p3  root B  (reserved)       left empty: full-OS A/B updates are not
#                                implemented; agent updates use slots in /opt/kiosk
#   p4  data    ext4, 256 MiB    empty: make provision writes the kiosk's identity;
#                                grown to the end of the card at first boot
#
# and its block map (.bmap), built without mounting anything: mkfs.vfat +
# mcopy for the boot partition, mkfs.ext4 -d for the others, sfdisk for the
# table, dd into the image at each partition's offset.
#
#   firmware/scripts/image.sh KIOSKCTL BOARD_DIR BUNDLE FIRMWARE_PUB ROOTFS_TAR OUT.img
#
# As an ordinary user it runs itself under fakeroot, which keeps the owners
# and device nodes of the root filesystem tarball for mkfs.ext4 -d to copy.
set -euo pipefail
# mkfs.*, sfdisk and debootstrap live in sbin, which an ordinary user's PATH
# may lack.
export PATH="$PATH:/usr/sbin:/sbin"
if [ "$(id -u)" -ne 0 ] && [ -z "${FAKEROOTKEY:-}" ]; then
  command -v fakeroot >/dev/null || { echo "make image: building the image as $(id -un) needs fakeroot (apt-get install fakeroot), or run it as root" >&2; exit 1; }
  exec fakeroot -- "$0" "$@"
fi
kioskctl=$1 board_dir=$2 bundle=$3 pub=$4 rootfs=$5 out=$6
# shellcheck source=/dev/null
. "$board_dir/board.conf"

MiB=$((1024 * 1024))
BOOT_MIB=${BOOT_MIB:-256}
ROOT_MIB=${ROOT_MIB:-1536}
DATA_MIB=${DATA_MIB:-256}
DISK_ID=0x4b494f53                 # "KIOS": PARTUUID=4b494f53-0N
root_dev=PARTUUID=4b494f53-02

work=$(mktemp -d "$(cd "$(dirname "$out")" && pwd)/.image-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root boot=$work/boot
mkdir -p "$root" "$boot"
t0=$(date +%s)
tar --numeric-owner -xpf "$rootfs" -C "$root"

# --- the root filesystem: kiosk configuration -----------------------------
echo kiosk > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tkiosk\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
cat > "$root/etc/fstab" <<FSTAB
# kiosk image (firmware/scripts/image.sh)
PARTUUID=4b494f53-02  /               ext4  defaults,noatime,errors=remount-ro  0 1
PARTUUID=4b494f53-01  /boot/firmware  vfat  ro,nofail,umask=0077              0 2
PARTUUID=4b494f53-04  /var/lib/kiosk  ext4  defaults,noatime,nofail,x-systemd.requires=kiosk-grow-data.service,x-systemd.growfs  0 2
FSTAB
# The data partition is DATA_MIB in the image, so that it flashes quickly
# to any card; before it is first mounted, kioskctl grows it to the end of
# the card, and systemd-growfs (x-systemd.growfs) grows its filesystem on
# mounting. Later boots find nothing to do. A failure is logged, and the
# partition is mounted at its old size.
cat > "$root/etc/systemd/system/kiosk-grow-data.service" <<'UNIT'
[Unit]
Description=Kiosk: grow the data partition to the end of the card
DefaultDependencies=no
Requires=dev-disk-by\x2dpartuuid-4b494f53\x2d04.device
After=dev-disk-by\x2dpartuuid-4b494f53\x2d04.device
Before=var-lib-kiosk.mount shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=-/bin/sh -c 'for k in /opt/kiosk/current/bin/kioskctl /opt/kiosk/slots/a/bin/kioskctl /opt/kiosk/slots/b/bin/kioskctl; do [ -x "$$k" ] || continue; "$$k" firmware grow-data /dev/disk/by-partuuid/4b494f53-04; rc=$$?; [ $$rc -lt 126 ] && exit $$rc; done; echo "no runnable kioskctl in /opt/kiosk" >&2; exit 1'
UNIT
mkdir -p "$root/boot/firmware" "$root/var/lib/kiosk" "$root/etc/kiosk/firmware-keys"
echo "$BOARD" > "$root/etc/kiosk/board"
install -m 0644 "$pub" "$root/etc/kiosk/firmware-keys/$(basename "$pub")"
case "$(basename "$pub")" in
  firmware-dev.pub) echo "make image: WARNING: this image trusts the DEVELOPMENT firmware key $pub; build release images with FIRMWARE_KEY=release.key" >&2 ;;
esac

# systemd feeds the hardware watchdog (bcm2835-wdt on the Pi); kioskd feeds
# systemd (WatchdogSec in kioskd.service).
mkdir -p "$root/etc/systemd/system.conf.d"
printf '[Manager]\nRuntimeWatchdogSec=15s\nRebootWatchdogSec=2min\n' > "$root/etc/systemd/system.conf.d/kiosk.conf"
# Wired network by DHCP (systemd-networkd).
mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/system/multi-user.target.wants"
printf '[Match]\nName=e*\n\n[Network]\nDHCP=yes\n' > "$root/etc/systemd/network/80-kiosk-dhcp.network"
ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# SSH for make ota: host keys made at first boot (none in the shared image),
# root's authorized_keys from the data partition (make provision SSH_KEYS=).
cat > "$root/etc/systemd/system/kiosk-ssh-setup.service" <<UNIT
[Unit]
Description=Kiosk: SSH host keys and root's authorized keys from the data partition
Before=ssh.service
RequiresMountsFor=/var/lib/kiosk

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
ExecStart=/bin/sh -c 'if [ -f /var/lib/kiosk/ssh/authorized_keys ]; then install -D -m 0600 /var/lib/kiosk/ssh/authorized_keys /root/.ssh/authorized_keys; fi'
UNIT
mkdir -p "$root/etc/systemd/system/ssh.service.d"
printf '[Unit]\nWants=kiosk-ssh-setup.service\nAfter=kiosk-ssh-setup.service\n' > "$root/etc/systemd/system/ssh.service.d/kiosk.conf"

# The agent: the bundle goes into firmware slot a and is committed.
"$kioskctl" firmware install -offline -root "$root" -pub "$pub" "$bundle"
ln -sf /etc/systemd/system/kioskd.service "$root/etc/systemd/system/multi-user.target.wants/kioskd.service"
# The kiosk user and its device groups exist from the start (systemd's own
# sysusers run at boot only while /etc "needs update").
# The bundle's sysusers files are linked from /etc/sysusers.d by absolute
# paths into the slot, which systemd-sysusers --root would look up on this
# machine and skip: they are passed by their place under $root instead.
if command -v systemd-sysusers >/dev/null; then
  confs=()
  for f in "$root"/etc/sysusers.d/*.conf; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    t=$(readlink "$f" || true)
    case "$t" in
      /*) confs+=("$root$t") ;;
      *) confs+=("$f") ;;
    esac
  done
  if [ ${#confs[@]} -gt 0 ]; then
    systemd-sysusers --root="$root" "${confs[@]}"
  fi
else
  echo "make image: no systemd-sysusers here; the kiosk user is created at the kiosk's first boot" >&2
fi
# No interactive first-boot questions on a kiosk's console.
ln -sf /dev/null "$root/etc/systemd/system/systemd-firstboot.service"

# --- the boot partition ----------------------------------------------------
kver=$(ls "$root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)
[ -n "$kver" ] || { echo "make image: no kernel in the root filesystem (DEBIAN_PACKAGES=$DEBIAN_PACKAGES)" >&2; exit 1; }
case "$BOOT" in
  extlinux)
    cp "$root/boot/vmlinuz-$kver" "$boot/vmlinuz"
    cp "$root/boot/initrd.img-$kver" "$boot/initrd.img"
    if [ -d "$root/usr/lib/linux-image-$kver" ]; then cp -r "$root/usr/lib/linux-image-$kver" "$boot/dtbs"; fi
    mkdir -p "$boot/extlinux" "$boot/overlays"
    sed -e "s|@ROOT@|$root_dev|" -e "s|@CONSOLE@|$CONSOLE|" "$board_dir/extlinux.conf" > "$boot/extlinux/extlinux.conf"
    ;;
  raspi)
    # Debian's raspi-firmware fills /boot/firmware: start4.elf, fixup4.dat,
    # the kernel, initrd and bcm2711 device trees.
    if [ ! -e "$root/boot/firmware/start4.elf" ]; then
      echo "make image: raspi-firmware did not fill /boot/firmware (no start4.elf); a technician must copy the Raspberry Pi boot firmware (start4.elf, fixup4.dat, bcm2711-rpi-4-b.dtb, bcm2711-rpi-cm4.dtb) into the boot partition" >&2
      exit 1
    fi
    cp -r "$root/boot/firmware/." "$boot/"
    cat "$board_dir/config.txt" >> "$boot/config.txt"
    echo "console=$CONSOLE root=$root_dev rootfstype=ext4 rootwait ro fsck.repair=yes" > "$boot/cmdline.txt"
    rm -rf "${root:?}/boot/firmware/"*
    ;;
esac
t1=$(date +%s)

# --- filesystems and disk ---------------------------------------------------
used_mib=$(( $(du -sk "$root" | cut -f1) / 1024 ))
if [ "$used_mib" -gt $((ROOT_MIB * 85 / 100)) ]; then
  echo "make image: the root filesystem holds ${used_mib} MiB, too much for ROOT_MIB=$ROOT_MIB; raise ROOT_MIB" >&2
  exit 1
fi
truncate -s "${BOOT_MIB}M" "$work/boot.vfat"
truncate -s "${ROOT_MIB}M" "$work/root.ext4"
truncate -s "${DATA_MIB}M" "$work/data.ext4"
mkfs.vfat -F 32 -n KIOSK-BOOT -i 4b494f53 "$work/boot.vfat" >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$work/boot.vfat" "$boot"/* ::
mkfs.ext4 -q -F -L kiosk-root-a -d "$root" "$work/root.ext4" "${ROOT_MIB}M"
mkdir -p "$work/empty"
mkfs.ext4 -q -F -L kiosk-data -d "$work/empty" "$work/data.ext4" "${DATA_MIB}M"

s1=8192                                  # 4 MiB, the usual SD-card alignment
s2=$((s1 + BOOT_MIB * MiB / 512))
s3=$((s2 + ROOT_MIB * MiB / 512))
s4=$((s3 + ROOT_MIB * MiB / 512))
end=$((s4 + DATA_MIB * MiB / 512))
rm -f "$out"
truncate -s $((end * 512)) "$out"
# Every start is given: sfdisk would otherwise put p4 in the gap before p1.
sfdisk -q "$out" <<TABLE
label: dos
label-id: $DISK_ID
start=$s1, size=$((s2 - s1)), type=c, bootable
start=$s2, size=$((s3 - s2)), type=83
start=$s3, size=$((s4 - s3)), type=83
start=$s4, size=$((end - s4)), type=83
TABLE
dd if="$work/boot.vfat" of="$out" bs=512 seek=$s1 conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$out" bs=512 seek=$s2 conv=notrunc,sparse status=none
dd if="$work/data.ext4" of="$out" bs=512 seek=$s4 conv=notrunc,sparse status=none
bmaptool -q create -o "${out%.img}.bmap" "$out"
t2=$(date +%s)
echo "make image: $out: $((end * 512 / MiB)) MiB raw, $(( $(du -k "$out" | cut -f1) / 1024 )) MiB mapped; root filesystem ${used_mib} MiB; kernel $kver; assembled in $((t2 - t0))s"
