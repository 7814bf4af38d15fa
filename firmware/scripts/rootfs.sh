#!/usr/bin/env bash
# Builds the Debian root filesystem of a board into a cached tarball:
#
#   firmware/scripts/rootfs.sh BOARD_DIR CACHE_DIR
#
# prints the tarball's path. debootstrap's first stage unpacks the packages
# for the board's architecture; the second stage (maintainer scripts) runs
# the board's binaries through qemu-user: with chroot when the kernel has a
# binfmt_misc handler for the architecture, else under proot -q, which needs
# no binfmt_misc. The tarball is rebuilt only when the package list or
# LAYOUT changes.
#
# As root it uses debootstrap. As an ordinary user it uses mmdebstrap in a
# user namespace (--mode=unshare): the user is root inside it and the
# user's subordinate ids (/etc/subuid, /etc/subgid) stand in for the other
# owners in the root filesystem (messagebus, _apt, ...), which the tarball
# records by number; image.sh then builds the filesystems under fakeroot.
# The ordinary user needs the kernel's binfmt_misc handler for the board's
# architecture (Debian's qemu-user-static registers it when installed) and
# a range of subordinate ids; what is missing is said with the command that
# adds it.
set -euo pipefail
# mkfs.*, sfdisk and debootstrap live in sbin, which an ordinary user's PATH
# may lack.
export PATH="$PATH:/usr/sbin:/sbin"

here=$(cd "$(dirname "$0")" && pwd)
board_dir=$1
cache=$(mkdir -p "$2" && cd "$2" && pwd)
# shellcheck source=/dev/null
. "$board_dir/board.conf"

SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# What every kiosk root needs beyond minbase: systemd as init with udev,
# networking and SSH for make ota, the kernel and boot firmware of the board.
packages="systemd systemd-sysv udev dbus kmod iproute2 openssh-server ca-certificates systemd-timesyncd $DEBIAN_PACKAGES"

# The cache key: what goes into the root filesystem. Bump LAYOUT when this
# script changes what it builds.
LAYOUT=1
key=$(printf '%s\n' "$LAYOUT" "$SUITE" "$MIRROR" "$DEBIAN_ARCH" "$packages" | sha256sum | cut -c1-16)
tarball="$cache/rootfs-$BOARD-$SUITE-$key.tar"
if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi
mkdir -p "$cache"
case "$DEBIAN_ARCH" in
  arm64) qemu=qemu-aarch64-static binfmt=qemu-aarch64 ;;
  armhf) qemu=qemu-arm-static binfmt=qemu-arm ;;
  *) echo "rootfs: no qemu-user mapping for DEBIAN_ARCH=$DEBIAN_ARCH" >&2; exit 1 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  user=$(id -un)
  if [ ! -e "/proc/sys/fs/binfmt_misc/$binfmt" ]; then
    echo "rootfs: the kernel has no binfmt_misc handler for $binfmt, which building the $DEBIAN_ARCH root filesystem as $user needs; register it once as root: sudo update-binfmts --enable $binfmt (Debian's binfmt-support) or sudo systemctl restart systemd-binfmt (or run make image as root)" >&2
    exit 1
  fi
  if ! grep -q "^$user:" /etc/subuid 2>/dev/null || ! grep -q "^$user:" /etc/subgid 2>/dev/null; then
    echo "rootfs: $user has no subordinate user and group ids for the user namespace the root filesystem is built in; add a range once as root: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $user (or run make image as root)" >&2
    exit 1
  fi
  t0=$(date +%s)
  echo "rootfs: mmdebstrap $SUITE $DEBIAN_ARCH as $user in a user namespace from $MIRROR (the maintainer scripts run through $qemu)" >&2
  # The same clean-up as the debootstrap path below (rootfs-clean.sh).
  if ! mmdebstrap --mode=unshare --variant=minbase --format=tar --architectures="$DEBIAN_ARCH" \
      --components=main,non-free-firmware --include="${packages// /,}" \
      --customize-hook="\"$here/rootfs-clean.sh\" \"\$1\"" \
      "$SUITE" "$tarball.tmp" "$MIRROR" >"$cache/mmdebstrap-$BOARD.log" 2>&1; then
    tail -30 "$cache/mmdebstrap-$BOARD.log" >&2
    rm -f "$tarball.tmp"
    echo "rootfs: mmdebstrap failed (log above, and $cache/mmdebstrap-$BOARD.log); is the mirror reachable (MIRROR=...) and are user namespaces allowed (sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces)?" >&2
    exit 1
  fi
  mv "$tarball.tmp" "$tarball"
  echo "rootfs: $tarball ($(du -sh "$tarball" | cut -f1)) in $(( $(date +%s) - t0 ))s" >&2
  echo "$tarball"
  exit 0
fi

# The first stage (downloads) is kept across failed second stages.
stage1="$cache/rootfs-$BOARD-$SUITE-$key.stage1"
t0=$(date +%s)
if [ ! -e "$stage1/.done" ]; then
  rm -rf "$stage1"
  echo "rootfs: debootstrap $SUITE $DEBIAN_ARCH (first stage) from $MIRROR" >&2
  if ! debootstrap --arch="$DEBIAN_ARCH" --foreign --variant=minbase \
      --components=main,non-free-firmware --include="${packages// /,}" \
      "$SUITE" "$stage1/root" "$MIRROR" >"$cache/debootstrap1.log" 2>&1; then
    tail -20 "$cache/debootstrap1.log" >&2
    echo "rootfs: debootstrap could not fetch or unpack $SUITE for $DEBIAN_ARCH from $MIRROR (is the mirror reachable? set MIRROR=...)" >&2
    exit 1
  fi
  touch "$stage1/.done"
fi
t1=$(date +%s)
echo "rootfs: first stage took $((t1 - t0))s; second stage through $qemu" >&2

work=$(mktemp -d "$cache/rootfs-work.XXXXXX")
# debootstrap mounts /proc and /sys inside the target; a failed run can
# leave them mounted: unmount whatever is under the work directory before
# removing it, and never let rm cross into another filesystem.
cleanup() {
  { grep -F " $work/" /proc/self/mountinfo 2>/dev/null || true; } | awk '{print $5}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root="$work/root"
cp -a "$stage1/root" "$root"
mkdir -p "$root/proc" "$root/sys" "$root/dev"

# The second stage runs the board's binaries. With a binfmt_misc handler
# for the architecture (the kernel runs them through qemu-user, as Debian's
# qemu-user-static sets up with binfmt-support or systemd-binfmt), a plain
# chroot does; the handler is registered here from qemu-user-static's own
# /usr/lib/binfmt.d file when missing. Without it, proot -q is the
# fallback (slower, and it has failed on path corner cases).
if [ ! -e "/proc/sys/fs/binfmt_misc/$binfmt" ] && [ -r "/usr/lib/binfmt.d/$binfmt.conf" ]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  if [ -w /proc/sys/fs/binfmt_misc/register ]; then
    echo "rootfs: registering the $binfmt binfmt_misc handler (kernel-wide, like binfmt-support does)" >&2
    grep -v '^#' "/usr/lib/binfmt.d/$binfmt.conf" > /proc/sys/fs/binfmt_misc/register 2>/dev/null || true
  fi
fi
if [ -e "/proc/sys/fs/binfmt_misc/$binfmt" ]; then
  runin=(chroot "$root")
else
  echo "rootfs: no binfmt_misc handler for $binfmt; falling back to proot -q $qemu" >&2
  cp "$(command -v "$qemu")" "$root/usr/bin/"
  runin=(proot -q "$qemu" -0 -r "$root" -b /dev -b /proc -b /sys -w /)
fi
if ! DEBOOTSTRAP_DIR=/debootstrap "${runin[@]}" /debootstrap/debootstrap --second-stage >"$cache/debootstrap2.log" 2>&1; then
  tail -30 "$cache/debootstrap2.log" >&2
  tail -30 "$root/debootstrap/debootstrap.log" >&2 || true
  echo "rootfs: debootstrap second stage failed (log above, and $cache/debootstrap2.log)" >&2
  exit 1
fi
t2=$(date +%s)
echo "rootfs: second stage took $((t2 - t1))s" >&2

rm -f "$root/usr/bin/$qemu"
# Left mounted by a second stage that stopped early: never packed.
{ grep -F " $root/" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
# Every kiosk gets its own identity at first boot, none from the image.
"$here/rootfs-clean.sh" "$root"
tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "rootfs: $tarball ($(du -sh "$tarball" | cut -f1)) in $((t2 - t0))s" >&2
echo "$tarball"
