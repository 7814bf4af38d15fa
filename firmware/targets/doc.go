// Package targets tests the Makefile's firmware targets and the files
// under firmware/ the way a technician meets them: make flash's guards and
// a real flash to a loop device with its read-back, make provision into a
// kiosk image file, make firmware's reproducible bundle, and the
// consistency of the systemd units, udev rules and sysusers file that the
// bundle installs. It holds no code of its own.
package targets
