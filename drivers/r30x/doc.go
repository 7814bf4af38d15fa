// Package r30x drives the R30x family of UART fingerprint modules (R307,
// R503, ZFM-20, AS608, and the many clones sold under the "Adafruit"
// fingerprint sensor name) through their 0xEF01 packet protocol.
//
// The driver takes a Port (an io.ReadWriter with a read timeout), never a
// device path: open the serial device with drivers/serialport. New verifies
// the password, reads the system parameters, applies the configured packet
// size and security level and, when asked, raises the link speed and proves
// the module answers at it. The module's confirmation codes are sentinel
// errors (ErrNoFinger, ErrImageMessy, ErrFewFeatures, ...) wrapped in a
// *CodeError; link failures match ErrLink and one of ErrTimeout,
// ErrChecksum or ErrFrame.
//
// # Sources
//
// The protocol is described by the vendor's "R30X user manual" (Hangzhou
// Grow Technology) and by two open implementations that were read for facts
// only: adafruit/Adafruit-Fingerprint-Sensor-Library @b5de3ff (BSD) and
// bastianraschke/pyfingerprint @83101c6, whose code this package does not
// copy. The project's facts sheet is docs/SPECS.md, section "R30x".
//
// # Frame
//
//	EF 01 | address (4) | PID | length (2) = payload+2 | payload | sum (2)
//
// All multi-byte fields are big-endian; the sum is the 16-bit sum of PID,
// the two length bytes and the payload. PID 0x01 is a command, 0x07 an
// acknowledgement whose first payload byte is the confirmation code, 0x02 a
// data packet with more to follow and 0x08 the last data packet.
//
// # Quirks
//
//   - The Adafruit library does not verify received checksums and cannot
//     receive data packets (64-byte buffer); this driver checks every
//     checksum, the address, the packet type and the length of every
//     packet, and bounds every reply and every image data packet by a
//     deadline.
//   - Acknowledgements carry no sequence number, so a reply that comes after
//     its deadline could be taken for the reply to the next command. After
//     any link error the next command first resynchronises: it drops unread
//     input, sends ReadSysPara and skips everything up to its 16-byte result
//     (which no other reply has), then waits for the line to go quiet. A
//     reply of an unexpected result length is treated as stale (ErrFrame).
//   - The R503 sends one byte 0x55 when it powers up; the packet reader skips
//     any bytes before a start code, so it is harmless.
//   - UpImage returns 256 x 288 pixels at 4 bits, left pixel in the high
//     nibble (36,864 bytes; with 128-byte packets 40,032 bytes on the wire,
//     about 7.0 s at 57600 baud and 3.5 s at 115200). What an R503 (192 x 192
//     sensing array) returns is unverified; check on hardware.
//   - SetSysPara(4) changes the speed and the module keeps it in flash, so
//     after a kiosk restart the module answers at the raised speed: New tries
//     Options.LinkBaud when the module is silent at Options.Baud. Some
//     firmware is reported to apply the speed only after a power cycle; the
//     proof step catches that and returns ErrBaudNotApplied.
//   - The R503 WAKEUP (touch) output can replace GenImg polling
//     (Options.Touch). Its active level is taken as high; set
//     Options.TouchActive if a module differs (unverified on hardware).
//   - The protocol has no instruction for a firmware version or serial
//     number common to the family; ReadSysPara's system ID and capacity are
//     what identifies a module.
package r30x
