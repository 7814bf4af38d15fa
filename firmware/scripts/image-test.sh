#!/usr/bin/env bash
# make image-test: boot a generic-arm64 kiosk image in qemu-system-aarch64
# -M virt (or a generic-armv7 one in qemu-system-arm -M virt, BOARD=) with
# the Debian kernel and initrd from its own boot partition, and wait until
# systemd reports kioskd started: for a
# Type=notify unit that is only after kioskd sent READY=1. The image is a
# copy of the built one, provisioned like a real kiosk (make provision) with
# a test identity, test node keys and the simulated-device site config
# firmware/site-sim.yaml, on a disk 1 GiB larger than the image, into which
# the data partition must grow at first boot.
#
# With OTA=1 (the default) it then runs make ota against the VM twice, as a
# technician would: a good bundle must commit, and a bundle whose kioskd
# crash-loops must roll back to the previous slot, under the real systemd.
# The VM's only network is QEMU's user-mode NAT with restrict=on: it reaches
# nothing but the forwarded SSH port on 127.0.0.1.
#
#   firmware/scripts/image-test.sh KIOSKCTL IMAGE WORKDIR [TIMEOUT_SECONDS] [BUNDLE_BIN_DIR FIRMWARE_KEY]
set -euo pipefail
here=$(dirname "$0")
kioskctl=$1 image=$2 work=$3 timeout=${4:-1200} bindir=${5:-} fwkey=${6:-}
OTA=${OTA:-1}
BOARD=${BOARD:-generic-arm64}
# shellcheck source=/dev/null
. "$here/../boards/$BOARD/board.conf"
[ -n "$QEMU_MACHINE" ] || { echo "make image-test: the board profile $BOARD names no QEMU_MACHINE: its image does not boot in QEMU" >&2; exit 2; }
case "$DEBIAN_ARCH" in
  arm64) qemu_system=(qemu-system-aarch64 -M "$QEMU_MACHINE" -cpu cortex-a53) ;;
  armhf) qemu_system=(qemu-system-arm -M "$QEMU_MACHINE" -cpu cortex-a15) ;;
  *) echo "make image-test: no qemu-system for DEBIAN_ARCH=$DEBIAN_ARCH" >&2; exit 2 ;;
esac
[ -n "$bindir" ] && [ -n "$fwkey" ] || OTA=0
"$here/deps.sh" image-test
[ -f "$image" ] || { echo "make image-test: no image $image; run make image BOARD=$BOARD first" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
t0=$(date +%s)
img="$work/kiosk-test.img"
cp --sparse=always "$image" "$img"

# Provision the copy: a test node and a test identity.
"$kioskctl" keys node -out "$work/node-all" >/dev/null
mkdir -p "$work/node"
cp "$work/node-all"/*.pub "$work/node/"
ssh-keygen -q -t ed25519 -N '' -C kiosk-image-test -f "$work/ssh-key"
"$here/provision.sh" "$kioskctl" "$img" kiosk-image-test "$here/../site-sim.yaml" "$work/node" "" "$work/ssh-key.pub" yes "$work/provisioned" >"$work/provision.log"
table=$(sfdisk -J "$img" | tr -d ' \n')
# A card 1 GiB larger than the image: the data partition must grow into it
# at first boot.
data_before=$(printf '%s' "$table" | grep -o '"node":"[^"]*4","start":[0-9]*,"size":[0-9]*' | sed 's/.*"size"://')
truncate -s +1G "$img"

# The kernel and initrd the image boots with.
boot_start=$(printf '%s' "$table" | grep -o '"node":"[^"]*1","start":[0-9]*' | sed 's/.*"start"://')
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img@@$((boot_start * 512))" ::vmlinuz "$work/vmlinuz"
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img@@$((boot_start * 512))" ::initrd.img "$work/initrd.img"
# The kernel command line the image's boot loader would use.
append=$(MTOOLS_SKIP_CHECK=1 mtype -i "$img@@$((boot_start * 512))" ::extlinux/extlinux.conf | sed -n 's/^ *APPEND //p' | tr -d '\r')
[ -n "$append" ] || { echo "make image-test: no APPEND line in the image's extlinux/extlinux.conf" >&2; exit 1; }
# The board's console is its own UART; on virt it is the PL011, ttyAMA0.
[ "$CONSOLE" = ttyAMA0 ] || append="$append console=ttyAMA0"
t1=$(date +%s)

port=$((20000 + RANDOM % 20000))
log="$work/console.log"
: > "$log"
"${qemu_system[@]}" -smp 2 -m 1024 -nographic -no-reboot \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "$append panic=-1 systemd.journald.forward_to_console=1" \
  -drive "file=$img,format=raw,if=virtio" \
  -nic "user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22" \
  -serial "file:$log" -monitor none -display none &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true; wait "$qemu" 2>/dev/null || true' EXIT
echo "make image-test: booting $image in ${qemu_system[*]} (pid $qemu), console in $log, up to ${timeout}s" >&2

result=timeout
while [ $(( $(date +%s) - t1 )) -lt "$timeout" ]; do
  plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  if grep -q 'Started kioskd.service' <<<"$plain"; then result=ready; break; fi
  if grep -qE 'Failed to start kioskd.service|Dependency failed for kioskd.service|kioskd.service: Failed with result|Kernel panic' <<<"$plain"; then result=failed; break; fi
  if ! kill -0 "$qemu" 2>/dev/null; then result=exited; break; fi
  sleep 2
done
t2=$(date +%s)
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'kiosk|Reached target|Kernel panic|Failed|Dependency' | tail -25 >&2 || true
if [ "$result" != ready ]; then
  echo "make image-test: FAILED ($result) after $((t2 - t1))s; full console log: $log" >&2
  exit 1
fi
echo "make image-test: kioskd reported READY=1 on the booted image: $((t2 - t1))s from power-on (preparation $((t1 - t0))s)"

export SSH_OPTS="-p $port -i $work/ssh-key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
for _ in $(seq 90); do
  # shellcheck disable=SC2086
  ssh $SSH_OPTS -o BatchMode=yes -o ConnectTimeout=5 root@127.0.0.1 true 2>/dev/null && break
  sleep 5
done

# --- the data partition grew into the larger card at first boot.
# shellcheck disable=SC2086
data_mib=$(ssh $SSH_OPTS root@127.0.0.1 df -BM --output=size /var/lib/kiosk | sed -n '2s/[^0-9]//gp')
# shellcheck disable=SC2086
ssh $SSH_OPTS root@127.0.0.1 journalctl -b -o cat -u kiosk-grow-data.service -u systemd-growfs@var-lib-kiosk.service > "$work/grow-data.log" 2>&1 || true
# The filesystem must be at least 900 MiB larger than the partition was
# (ext4 keeps a few percent for itself).
if [ -z "$data_mib" ] || [ "$data_mib" -lt $(( data_before / 2048 + 900 )) ]; then
  cat "$work/grow-data.log" >&2
  echo "make image-test: FAILED: the data filesystem is ${data_mib:-?} MiB on a card 1 GiB larger than the image (the partition was $(( data_before / 2048 )) MiB); kiosk-grow-data did not grow it" >&2
  exit 1
fi
echo "make image-test: the data partition grew to the end of the card at first boot: from $(( data_before / 2048 )) MiB to a $data_mib MiB filesystem (kiosk-grow-data: $(grep -m1 "^grew" "$work/grow-data.log" || echo "no message"))"
[ "$OTA" = 1 ] || exit 0

# --- make ota against the VM: a good update commits, a crash-looping one rolls back.
mk() { # mk VERSION SEQUENCE KIOSKD OUT
  local b="$work/bin-$1"; mkdir -p "$b"; cp "$3" "$b/kioskd"; cp "$bindir/kioskctl" "$b/kioskctl"
  "$kioskctl" firmware build -board "$BOARD" -src "$here/.." -bin "$b" -version "$1" -sequence "$2" \
    -commit 0000000000000000000000000000000000000000 -created "$(date +%s)" -key "$fwkey" -o "$4" >/dev/null
}
seq0=$(ssh $SSH_OPTS root@127.0.0.1 /opt/kiosk/current/bin/kioskctl firmware status -json | sed -n 's/.*"sequence": \([0-9]*\).*/\1/p' | sort -n | tail -1)
mk ota-good $((seq0 + 1)) "$bindir/kioskd" "$work/good.bundle"
mk ota-crash $((seq0 + 2)) "$bindir/kioskctl" "$work/crash.bundle"   # kioskctl as kioskd: exits 2 at every start
t3=$(date +%s)
"$here/ota.sh" "$kioskctl" root@127.0.0.1 "$work/good.bundle" > "$work/ota-good.log" 2>&1 || { cat "$work/ota-good.log" >&2; echo "make image-test: FAILED: the good OTA update did not commit" >&2; exit 1; }
t4=$(date +%s)
echo "make image-test: make ota of a good bundle committed in $((t4 - t3))s (includes the 60s health window)"
if "$here/ota.sh" "$kioskctl" root@127.0.0.1 "$work/crash.bundle" > "$work/ota-crash.log" 2>&1; then
  cat "$work/ota-crash.log" >&2; echo "make image-test: FAILED: a crash-looping bundle was committed" >&2; exit 1
fi
t5=$(date +%s)
# kioskd restarts on the previous slot; give it time to report ready.
for _ in $(seq 60); do
  # shellcheck disable=SC2086
  [ "$(ssh $SSH_OPTS root@127.0.0.1 systemctl is-active kioskd || true)" = active ] && break
  sleep 3
done
# shellcheck disable=SC2086
status=$(ssh $SSH_OPTS root@127.0.0.1 '/opt/kiosk/current/bin/kioskctl firmware status; systemctl is-active kioskd' || true)
echo "$status" > "$work/status-after-rollback.txt"
if ! grep -q 'ota-crash: rolled-back' <<<"$status" || ! grep -qx active <<<"$status" || ! grep -q 'ota-good (sequence' <<<"$status"; then
  echo "$status" >&2; echo "make image-test: FAILED: after the crash-looping bundle the kiosk is not back on the good version with kioskd active" >&2; exit 1
fi
echo "make image-test: make ota of a crash-looping bundle rolled back in $((t5 - t4))s; kioskd active on the previous slot"
