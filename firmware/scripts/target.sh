# Guards for the targets that write to a card or eMMC (make flash, make
# provision). Sourced by flash.sh and provision.sh; tested by
# firmware/targets. check_target DEVICE WHAT prints the device's model and
# size and returns only when DEVICE is a whole disk (or loop device) that
# the running system does not use and nothing has mounted.

die() { echo "$*" >&2; exit 2; }

# disks_of SRC prints the whole disks (or loop devices) a block device or
# partition sits on, as /dev paths.
disks_of() {
  lsblk -nsro NAME,TYPE "$1" 2>/dev/null | awk '$2 == "disk" || $2 == "loop" {print "/dev/" $1}'
}

check_target() {
  local dev=$1 what=$2
  [ -n "$dev" ] || die "make $what: set DEVICE=/dev/sdX (the kiosk's card, or its eMMC after rpiboot); list disks with: lsblk -d -o NAME,MODEL,SIZE,TRAN,RM"
  [ -e "$dev" ] || die "make $what: DEVICE=$dev does not exist (plugged in? lsblk -d -o NAME,MODEL,SIZE,TRAN,RM)"
  [ -b "$dev" ] || die "make $what: DEVICE=$dev is not a block device"
  local real type
  real=$(readlink -f "$dev")
  type=$(lsblk -dno TYPE "$real" 2>/dev/null | head -1 | tr -d ' ')
  case "$type" in
    disk|loop) ;;
    part) die "make $what: DEVICE=$dev is a partition; give the whole disk (e.g. /dev/sdb, not /dev/sdb1)" ;;
    *) die "make $what: DEVICE=$dev is a '$type' device, not a disk" ;;
  esac

  # Not the disk the running system lives on: the disks under /, /boot,
  # /usr, /var and every active swap area.
  local src used=()
  for mp in / /boot /boot/firmware /usr /var; do
    src=$(findmnt -n -o SOURCE --target "$mp" 2>/dev/null | head -1) || continue
    used+=("$mp:$src")
  done
  if [ -r /proc/swaps ]; then
    while read -r src _; do used+=("swap:$src"); done < <(tail -n +2 /proc/swaps)
  fi
  local u
  for u in "${used[@]}"; do
    src=${u#*:}
    case "$src" in /dev/*) ;; *) continue ;; esac
    if disks_of "$src" | grep -qx "$real"; then
      die "make $what: DEVICE=$dev holds the running system (${u%%:*} is on $src); refusing"
    fi
  done

  # Nothing on it mounted.
  local mounted
  mounted=$(lsblk -nro NAME,MOUNTPOINT "$real" 2>/dev/null | awk '$2 != "" {print "/dev/" $1 " on " $2}')
  if [ -n "$mounted" ]; then
    die "make $what: DEVICE=$dev has mounted filesystems; unmount them first:
$mounted"
  fi

  local model size tran rm
  model=$(lsblk -dno MODEL "$real" 2>/dev/null | sed 's/ *$//')
  size=$(lsblk -dno SIZE "$real" 2>/dev/null | tr -d ' ')
  tran=$(lsblk -dno TRAN "$real" 2>/dev/null | tr -d ' ')
  rm=$(lsblk -dno RM "$real" 2>/dev/null | tr -d ' ')
  echo "make $what: DEVICE=$dev ($real): model '${model:-unknown}', size ${size:-?}, transport ${tran:-none}, removable ${rm:-?}" >&2
  case "$tran" in
    sata|ata|nvme|sas|scsi)
      if [ "$rm" != 1 ] && [ "${ALLOW_FIXED:-}" != yes ]; then
        die "make $what: DEVICE=$dev is a fixed $tran disk, not a card or USB reader; if you really mean it, add ALLOW_FIXED=yes"
      fi ;;
  esac
}

# confirm CONFIRM DEVICE WHAT refuses unless CONFIRM is "yes".
confirm() {
  [ "$1" = yes ] || die "make $3: this erases $2. Check the model and size above, then run again with CONFIRM=yes"
}
