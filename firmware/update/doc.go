// Package update installs firmware bundles on a kiosk with A/B slots and
// rolls a bad update back by itself.
//
// On the device (paths relative to the system root, "/" in production and a
// temporary directory in tests):
//
//	opt/kiosk/slots/a/, slots/b/   two complete copies of a bundle's files
//	opt/kiosk/slots/X/.complete    written last: the slot is complete
//	opt/kiosk/current -> slots/a   the active slot (a symlink, switched by rename)
//	opt/kiosk/state.json           committed slot, slot on trial, last outcome
//	etc/systemd/system/kioskd.service -> /opt/kiosk/current/systemd/kioskd.service
//	etc/udev/rules.d/..., etc/sysusers.d/..., etc/tmpfiles.d/...  likewise
//	etc/kiosk/board                the board this device is (rpi4, ...)
//	etc/kiosk/firmware-keys/*.pub  the trusted firmware signing keys
//
// Because the unit files and udev rules are symlinks through "current",
// switching the one symlink switches binaries, units, rules and default
// config together.
//
// Install verifies a bundle (signature by a trusted key, board, sequence
// not older than the running one unless a downgrade is allowed, minimum
// previous sequence), unpacks it into the inactive slot and marks it
// complete, records the slot as on trial, switches "current", reloads
// systemd and udev and restarts kioskd. The new slot is committed only
// after kioskd has been active (READY=1, Type=notify) without a restart for
// Options.HealthyFor. A failed start, a restart during the trial (a crash or
// a watchdog timeout) or the start limit (the unit enters "failed") rolls
// back to the committed slot and restarts kioskd on it.
//
// Rollback also happens without the installer: kioskd's OnFailure= unit
// runs Failed, which rolls back a slot on trial, and Boot, run early at
// every boot before kioskd, rolls back a slot that was still on trial when
// the kiosk restarted (power loss, watchdog reset: "a reboot without a
// commit rolls back", as in Mender) and repairs "current" if it points to
// an incomplete slot. Every write is durable (write, fsync, rename, fsync
// the directory) and ordered so that at any power loss "current" names a
// complete slot or Boot can make it so.
package update
