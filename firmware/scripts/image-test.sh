#!/usr/bin/env bash
# make image-test: boot a generic-arm64 kiosk image in qemu-system-aarch64
# -M virt with the Debian arm64 kernel and initrd from its own boot
# partition, and wait until systemd reports kioskd started: for a
# Type=notify unit that is only after kioskd sent READY=1. The image is a
# copy of the built one, provisioned like a real kiosk (make provision) with
# a test identity, test node keys and the simulated-device site config
# firmware/site-sim.yaml. No network device: nothing leaves the VM.
#
#   firmware/scripts/image-test.sh KIOSKCTL IMAGE WORKDIR [TIMEOUT_SECONDS]
set -euo pipefail
here=$(dirname "$0")
kioskctl=$1 image=$2 work=$3 timeout=${4:-1200}
"$here/deps.sh" image-test
[ -f "$image" ] || { echo "make image-test: no image $image; run make image BOARD=generic-arm64 first" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
t0=$(date +%s)
img="$work/kiosk-test.img"
cp --sparse=always "$image" "$img"

# Provision the copy: a test node and a test identity.
"$kioskctl" keys node -out "$work/node-all" >/dev/null
mkdir -p "$work/node"
cp "$work/node-all"/*.pub "$work/node/"
"$here/provision.sh" "$kioskctl" "$img" kiosk-image-test "$here/../site-sim.yaml" "$work/node" "" "" yes "$work/provisioned" >"$work/provision.log"

# The kernel and initrd the image boots with.
table=$(sfdisk -J "$img" | tr -d ' \n')
boot_start=$(printf '%s' "$table" | grep -o '"node":"[^"]*1","start":[0-9]*' | sed 's/.*"start"://')
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img@@$((boot_start * 512))" ::vmlinuz "$work/vmlinuz"
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img@@$((boot_start * 512))" ::initrd.img "$work/initrd.img"
t1=$(date +%s)

log="$work/console.log"
: > "$log"
qemu-system-aarch64 -M virt -cpu cortex-a53 -smp 2 -m 1024 -nographic -no-reboot \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "root=PARTUUID=4b494f53-02 rootwait ro console=ttyAMA0 systemd.show_status=1 panic=-1" \
  -drive "file=$img,format=raw,if=virtio" -nic none \
  -serial "file:$log" -monitor none -display none &
qemu=$!
trap 'kill "$qemu" 2>/dev/null || true; wait "$qemu" 2>/dev/null || true' EXIT
echo "make image-test: booting $image in qemu-system-aarch64 -M virt (pid $qemu), console in $log, up to ${timeout}s" >&2

result=timeout
while [ $(( $(date +%s) - t1 )) -lt "$timeout" ]; do
  if grep -q 'Started kioskd.service' "$log"; then result=ready; break; fi
  if grep -qE 'Failed to start kioskd.service|kioskd.service: Failed with result|Kernel panic' "$log"; then result=failed; break; fi
  if ! kill -0 "$qemu" 2>/dev/null; then result=exited; break; fi
  sleep 2
done
t2=$(date +%s)
grep -E 'kiosk|Reached target|Kernel panic|Failed' "$log" | tail -25 >&2 || true
case "$result" in
  ready)
    echo "make image-test: kioskd reported READY=1 on the booted image: $((t2 - t1))s from power-on (preparation $((t1 - t0))s)"
    ;;
  *)
    echo "make image-test: FAILED ($result) after $((t2 - t1))s; full console log: $log" >&2
    exit 1
    ;;
esac
