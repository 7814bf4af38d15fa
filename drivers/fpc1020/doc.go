// Package fpc1020 drives FPC1020-class capacitive fingerprint sensors
// (Fingerprint Cards AB) over SPI, with a reset line and an interrupt line,
// and returns the raw 8-bit grey image (192 x 192 pixels on the FPC1020).
//
// # Protocol documents
//
// Fingerprint Cards' FPC1020 product specification is not public. The facts
// used here come from what is: the FPC1020 Linux driver by Y. Oudjana
// (2021, GPL-2.0, facts only), the RIOT OS drivers/fpc1020 header (Fingerprint
// Cards AB 2013-2014, LGPL-2.1) and Android vendor headers, as summarised in
// the project's SPECS.md ("SPI raw-image sensors"), plus the product
// specification's rule for split image reads as quoted in an ESP-IDF port.
// No code was copied from any of them.
//
// # Wire format
//
//   - SPI mode 0, 8 bits, 8 MHz.
//   - A command is one byte with chip select low: 0x20 finger-present
//     query, 0x24 wait for finger, 0x28 sleep, 0x2C deep sleep, 0xC0
//     capture image.
//   - A register access is the register address followed by its data bytes
//     in the same chip-select cycle; on a read the sensor clocks the data
//     out while the master sends zeros. Multi-byte registers are
//     big-endian. Registers: 0x18 interrupt (1 byte), 0x1C interrupt with
//     read-and-clear (1 byte), 0xA0 ADC shift (bits 8-12) and gain (bits
//     0-3), 0xD4 finger-present status (2 bytes, one bit per detection
//     zone), 0xFC hardware id (2 bytes, 0x020A on the FPC1020).
//   - Interrupt bits: 0 finger down, 2 error, 5 image data available,
//     7 command done; 0xFF means "just came out of reset". The IRQ line is
//     high while an interrupt is pending and drops when 0x1C is read.
//   - Image read: 0xC4, one dummy byte, then the pixels row by row, for as
//     long as chip select stays low.
//
// # Quirks
//
//   - The whole 192 x 192 image (36,864 bytes) does not fit the Linux
//     spidev default transfer limit of 4096 bytes (spidev.bufsiz). The
//     sensor lets a read be split into several requests: each chip-select
//     cycle starts with 0xC4 again, and only the first carries the dummy
//     byte; the sensor's read pointer carries on. Reads are split so no
//     transfer is larger than the port's MaxTxSize or Options.Chunk.
//   - Sensors are set up for a window of rows: the 2021 Linux driver
//     captures 56 rows of 192 columns. Options.Rows must match the window
//     the sensor was set up for; the hardware id is read first so a
//     variant with another geometry is refused rather than misread.
//   - Reset: hold reset low for at least 1 ms, release it, then the sensor
//     raises the IRQ line within FPC102X_TIRQVALID = 1300 ms with the
//     interrupt register at 0xFF. An unexpected 0xFF later means the sensor
//     lost power or was reset; the driver reports ErrDeviceReset and resets
//     and re-probes it before the next command.
//   - A sensor whose MISO line is stuck answers all 0x00 or all 0xFF; such a
//     hardware id is reported as "no answer" and such an image as
//     ErrBadImage, not passed on as a blank finger.
//   - The driver does not own the SPI port or the pins: it never closes or
//     halts them.
package fpc1020
