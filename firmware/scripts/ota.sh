#!/usr/bin/env bash
# make ota: push a signed bundle to a kiosk over SSH and follow the update
# until the kiosk commits it or rolls back.
#
#   firmware/scripts/ota.sh KIOSKCTL HOST BUNDLE
#
# The kiosk verifies the bundle itself (its /etc/kiosk/firmware-keys). The
# install runs as a transient systemd unit (kiosk-firmware-install), not in
# the SSH session: if the connection drops, the kiosk still commits or
# rolls back, and "kioskctl firmware status" on the kiosk tells which.
# Exit status 0 when committed, 1 when rejected or rolled back.
set -euo pipefail
kioskctl=$1 host=${2:-} bundle=${3:-}
[ -n "$host" ] || { echo "make ota: set HOST=root@KIOSK (SSH access: make provision SSH_KEYS=~/.ssh/id_ed25519.pub)" >&2; exit 2; }
[ -n "$bundle" ] && [ -f "$bundle" ] || { echo "make ota: set BUNDLE=dist/kiosk-VERSION-BOARD.bundle (make firmware BOARD=... builds one)" >&2; exit 2; }
"$kioskctl" firmware inspect "$bundle" | sed -n '1,9p'

ssh=(ssh -o BatchMode=yes -o ConnectTimeout=15 ${SSH_OPTS:-})
remote=/var/tmp/kiosk-update.bundle
echo "make ota: copying $bundle to $host:$remote" >&2
"${ssh[@]}" "$host" "cat > $remote.part && mv $remote.part $remote" < "$bundle"
want=$(sha256sum "$bundle" | cut -d' ' -f1)
got=$("${ssh[@]}" "$host" "sha256sum $remote" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "make ota: the copy on $host differs (SHA-256 $got, want $want)" >&2; exit 1; }

echo "make ota: installing; the kiosk commits after kioskd stays healthy, or rolls back" >&2
rc=0
"${ssh[@]}" "$host" "systemd-run --unit=kiosk-firmware-install --collect --wait --quiet --property=TimeoutStartSec=infinity /opt/kiosk/current/bin/kioskctl firmware install $remote" || rc=$?
"${ssh[@]}" "$host" "journalctl -u kiosk-firmware-install -o cat -n 20 --no-pager; /opt/kiosk/current/bin/kioskctl firmware status; rm -f $remote" || true
if [ "$rc" -ne 0 ]; then
  echo "make ota: the update did not commit on $host (exit $rc): rejected or rolled back; see above" >&2
  exit 1
fi
echo "make ota: $host committed the update"
