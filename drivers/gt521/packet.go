package gt521

import (
	"encoding/binary"
	"fmt"
)

// Packet framing.
const (
	cmdStart1, cmdStart2   = 0x55, 0xAA // command and response packets
	dataStart1, dataStart2 = 0x5A, 0xA5 // data packets
	// PacketLen is the length of every command and response packet.
	PacketLen = 12
	// DataOverhead is what a data packet adds to its data: start code (2),
	// device id (2) and checksum (2).
	DataOverhead = 6
)

// Response codes in bytes 8-9 of a response packet.
const (
	Ack  = 0x30
	Nack = 0x31
)

// Command codes.
const (
	CmdOpen           = 0x01
	CmdClose          = 0x02
	CmdChangeBaudRate = 0x04
	CmdCmosLed        = 0x12
	CmdGetEnrollCount = 0x20
	CmdIsPressFinger  = 0x26
	CmdCaptureFinger  = 0x60
	CmdGetImage       = 0x62
	CmdGetRawImage    = 0x63
)

// Packet is a command or response packet: device id, 32-bit parameter and
// a command (in a response: Ack or Nack).
type Packet struct {
	DeviceID uint16
	Param    uint32
	Code     uint16
}

// AppendPacket appends the 12-byte wire form of p: 55 AA, device id LE,
// parameter LE, code LE, and the 16-bit sum of the first 10 bytes LE.
func AppendPacket(b []byte, p Packet) []byte {
	start := len(b)
	b = append(b, cmdStart1, cmdStart2)
	b = binary.LittleEndian.AppendUint16(b, p.DeviceID)
	b = binary.LittleEndian.AppendUint32(b, p.Param)
	b = binary.LittleEndian.AppendUint16(b, p.Code)
	return binary.LittleEndian.AppendUint16(b, sum(b[start:]))
}

// ParsePacket decodes a 12-byte command or response packet.
func ParsePacket(b []byte) (Packet, error) {
	if len(b) != PacketLen {
		return Packet{}, linkErrorf(ErrFrame, "gt521: packet is %d bytes, want %d", len(b), PacketLen)
	}
	if b[0] != cmdStart1 || b[1] != cmdStart2 {
		return Packet{}, linkErrorf(ErrFrame, "gt521: packet starts % X, want 55 AA", b[:2])
	}
	le := binary.LittleEndian
	if got, want := le.Uint16(b[10:]), sum(b[:10]); got != want {
		return Packet{}, linkErrorf(ErrChecksum, "gt521: packet checksum 0x%04X, want 0x%04X", got, want)
	}
	return Packet{DeviceID: le.Uint16(b[2:]), Param: le.Uint32(b[4:]), Code: le.Uint16(b[8:])}, nil
}

// AppendData appends a data packet carrying data.
func AppendData(b []byte, deviceID uint16, data []byte) []byte {
	start := len(b)
	b = append(b, dataStart1, dataStart2)
	b = binary.LittleEndian.AppendUint16(b, deviceID)
	b = append(b, data...)
	return binary.LittleEndian.AppendUint16(b, sum(b[start:]))
}

// ParseData decodes a data packet of n data bytes from b, which must be
// exactly n+DataOverhead bytes; the returned data aliases b.
func ParseData(b []byte, n int, deviceID uint16) ([]byte, error) {
	if len(b) != n+DataOverhead {
		return nil, linkErrorf(ErrFrame, "gt521: data packet is %d bytes, want %d", len(b), n+DataOverhead)
	}
	if b[0] != dataStart1 || b[1] != dataStart2 {
		return nil, linkErrorf(ErrFrame, "gt521: data packet starts % X, want 5A A5", b[:2])
	}
	le := binary.LittleEndian
	if id := le.Uint16(b[2:]); id != deviceID {
		return nil, linkErrorf(ErrFrame, "gt521: data packet from device %d, want %d", id, deviceID)
	}
	if got, want := le.Uint16(b[len(b)-2:]), sum(b[:len(b)-2]); got != want {
		return nil, linkErrorf(ErrChecksum, "gt521: %d-byte data packet checksum 0x%04X, want 0x%04X", n, got, want)
	}
	return b[4 : len(b)-2], nil
}

func sum(b []byte) uint16 {
	var s uint16
	for _, c := range b {
		s += uint16(c)
	}
	return s
}

// Info is what Open reports about the module.
type Info struct {
	Firmware   uint32   // firmware version, printed as 0x%08X
	ISOAreaMax uint32   // largest ISO template area
	Serial     [16]byte // device serial number
}

// InfoLen is the size of the Open data packet's data.
const InfoLen = 24

// ParseInfo decodes the data of the Open reply: firmware version (LE u32),
// ISO area maximum (LE u32), 16-byte serial number.
func ParseInfo(b []byte) (Info, error) {
	if len(b) != InfoLen {
		return Info{}, linkErrorf(ErrFrame, "gt521: device info is %d bytes, want %d", len(b), InfoLen)
	}
	var in Info
	in.Firmware = binary.LittleEndian.Uint32(b)
	in.ISOAreaMax = binary.LittleEndian.Uint32(b[4:])
	copy(in.Serial[:], b[8:])
	return in, nil
}

// AppendInfo appends the wire form of in, for simulators.
func AppendInfo(b []byte, in Info) []byte {
	b = binary.LittleEndian.AppendUint32(b, in.Firmware)
	b = binary.LittleEndian.AppendUint32(b, in.ISOAreaMax)
	return append(b, in.Serial[:]...)
}

// SerialString is the serial number in hex, as the vendor's tools print it.
func (in Info) SerialString() string { return fmt.Sprintf("%X", in.Serial[:]) }

// FirmwareString is the firmware version as 8 hex digits.
func (in Info) FirmwareString() string { return fmt.Sprintf("%08X", in.Firmware) }
