// Package gt521 drives the ADH-Tech GT-511C3, GT-521F32 and GT-521F52
// optical fingerprint modules over their UART protocol of 12-byte command
// and response packets (start code 55 AA) and variable-length data packets
// (start code 5A A5).
//
// The driver takes a Port (an io.ReadWriter with a read timeout), never a
// device path: open the serial device with drivers/serialport. New opens
// the module (Open with the info request: firmware version, ISO area and
// 16-byte serial number) and, when asked, raises the link speed with
// ChangeBaudRate and proves the module answers at it. NACK codes are
// sentinel errors (ErrFingerNotPressed, ErrBadFinger, ...) wrapped in a
// *NackError; link failures match ErrLink and one of ErrTimeout,
// ErrChecksum or ErrFrame.
//
// # Sources
//
// The vendor's "GT-521F52 programming manual" (ADH-Tech), and, read for
// facts only, sparkfun/Fingerprint_Scanner-TTL @0636188 (whose original code
// is licensed for non-commercial use, so none is copied) and
// the-AjK/GT-511C3 lib/gt511c3.js. The project's facts sheet is
// docs/SPECS.md, section "GT-511C3 / GT-521F32 / GT-521F52".
//
// # Frames
//
//	command/response: 55 AA | device id (2) | parameter (4) | command or 30/31 (2) | sum (2)
//	data:             5A A5 | device id (2) | data (N) | sum (2)
//
// Multi-byte fields are little-endian; each sum is the 16-bit sum of all
// bytes before it. A response's code is 0x30 (ACK) or 0x31 (NACK, the
// parameter holding the error code; a parameter below 200 is the template
// ID a duplicate finger matched).
//
// # Quirks
//
//   - The module starts at 9600 baud after every power-on; a GetImage
//     (52,116 bytes) takes about 54 s at 9600 and 4.5 s at 115200, so raise
//     the speed at open (Options.LinkBaud). The module acknowledges
//     ChangeBaudRate at the old speed and needs about 200 ms before it
//     listens at the new one.
//   - Image geometry: GetImage 258 x 202 (52,116 bytes), GetRawImage 160 x
//     120 (19,200 bytes), both one data packet. This is per the GT-511C3-era
//     libraries and unverified for the GT-521F52; Options.ImageWidth and
//     ImageHeight correct it without a code change.
//   - IsPressFinger needs the backlight on (CmosLed); its parameter is 0
//     when a finger is pressed.
//   - Responses carry no sequence number. After a link error the next
//     command first drops everything the module may still send (a reply up
//     to one Timeout late, the rest of an aborted data packet) and waits for
//     the line to go quiet.
package gt521
