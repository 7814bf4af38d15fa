// Package arducam drives the ArduCAM Mini 2MP Plus camera: an OmniVision
// OV2640 image sensor, set up over SCCB (I2C), in front of the board's
// ArduChip frame FIFO, read over SPI. Capture returns one JPEG.
//
// # Protocol documents
//
//   - ArduChip SPI register map and capture flow: the ArduCAM/Arduino
//     library @066a7ea (ArduCAM.h, ArduCAM.cpp and the Mini examples; the
//     repository says MIT, the header LGPL-2.1), as summarised in the
//     project's SPECS.md ("ArduCAM Mini 2MP Plus"). No code was copied.
//   - OV2640 registers: OmniVision OV2640 datasheet v1.6; the register
//     tables are data in ov2640.regs, whose header names their sources.
//
// # Wire format
//
//   - SPI mode 0, 8 bits (4 MHz by default; the board takes up to 8 MHz).
//     A register access is two bytes in one chip-select cycle:
//     [addr|0x80, value] writes, [addr, 0] reads with the value in the
//     second reply byte. 0x00 test register, 0x04 FIFO control (0x01
//     clear the done flag, 0x02 start), 0x07 CPLD reset (bit 7), 0x40
//     revision, 0x41 trigger (bit 3: capture done), 0x42-0x44 FIFO length
//     (23 bits, little-endian). 0x3C is the burst-read command.
//   - SCCB: 7-bit address 0x30, 8-bit registers and values; register 0xFF
//     selects the bank (0x00 DSP, 0x01 sensor). Product id: sensor bank
//     0x0A = 0x26, 0x0B = 0x41 or 0x42.
//
// # Capture flow
//
// Clear the done flag twice (flush, then clear), start, poll 0x41 until
// bit 3 or the deadline, read the FIFO length, burst-read that many bytes,
// clear the done flag, and cut the JPEG out from FF D8 to FF D9.
//
// # Quirks
//
//   - The burst read is split into transfers no larger than the SPI
//     port's MaxTxSize (spidev's bufsiz, 4096 by default) or
//     Options.Chunk. Each transfer re-issues the 0x3C command, whose reply
//     byte is dropped; the FIFO read pointer carries on across
//     chip-select cycles (the ArduCAM examples do the same).
//   - The FIFO length is not the JPEG length: the OV2640 may lead with a
//     0x00 and the length is rounded up past FF D9. The JPEG is found by
//     walking its marker segments, so an FF D9 inside a segment is not
//     taken for its end. A length of 0 or at or above the FIFO size
//     (Options.MaxFIFO) is an error.
//   - The ArduCAM 2MP example's sensor check
//     "(vid != 0x26) && ((pid != 0x41) || (pid != 0x42))" tests only the
//     high byte (its inner condition is always true); this driver checks
//     both bytes.
//   - 0xFF is both the OV2640's bank-select register and the ArduCAM
//     tables' end marker {0xff,0xff}; the tables here have no end marker.
//   - Output sizes are the DSP's zoom registers (ZMOW, ZMOH, ZMHH, each a
//     size / 4) over one of three sensor windows (CIF 400x296, SVGA
//     800x600, UXGA 1600x1200), so 176x144 and 1280x1024 are scaled with a
//     slight change of aspect, as on the ArduCAM boards.
//   - After any error the next Capture resets the CPLD and sets the sensor
//     up again: a camera that lost power comes back with its registers at
//     their defaults (YUV, not JPEG).
//   - The driver owns neither the SPI port nor the I2C bus.
package arducam
