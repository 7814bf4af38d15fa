package r30x

import (
	"encoding/binary"
	"fmt"
)

// Packet identifiers (the PID byte after the address).
const (
	PIDCommand = 0x01 // host to module: an instruction
	PIDData    = 0x02 // a data packet, more follow
	PIDAck     = 0x07 // module to host: confirmation code and results
	PIDEnd     = 0x08 // the last data packet
)

// Instruction codes used by this driver.
const (
	cmdGenImg     = 0x01
	cmdImg2Tz     = 0x02
	cmdUpImage    = 0x0A
	cmdSetSysPara = 0x0E
	cmdReadSys    = 0x0F
	cmdVfyPwd     = 0x13
	cmdTemplNum   = 0x1D
	cmdAuraLed    = 0x35
)

// DefaultAddress is the module address every R30x ships with.
const DefaultAddress = 0xFFFFFFFF

const (
	headerLen = 9 // EF 01, address (4), PID, length (2)
	// MaxPayload is the largest payload a packet may carry: a 256-byte data
	// packet. The length field counts the payload plus the 2 checksum bytes.
	MaxPayload = 256
)

// Packet is one frame on the wire.
type Packet struct {
	Addr    uint32
	PID     byte
	Payload []byte
}

// AppendPacket appends the wire form of p to b: start code EF 01, address,
// PID, length (payload + 2), payload, and the 16-bit sum of PID, length and
// payload bytes.
func AppendPacket(b []byte, p Packet) []byte {
	n := len(p.Payload) + 2
	b = append(b, 0xEF, 0x01)
	b = binary.BigEndian.AppendUint32(b, p.Addr)
	b = append(b, p.PID, byte(n>>8), byte(n))
	b = append(b, p.Payload...)
	return binary.BigEndian.AppendUint16(b, checksum(p.PID, p.Payload))
}

func checksum(pid byte, payload []byte) uint16 {
	n := len(payload) + 2
	s := uint16(pid) + uint16(n>>8) + uint16(n&0xFF)
	for _, c := range payload {
		s += uint16(c)
	}
	return s
}

// ParsePacket parses the packet at the start of b, which must begin with the
// start code EF 01. It returns the packet (whose Payload aliases b), the
// number of bytes it used, and an error:
//   - errShort when b holds only part of a packet (n is 0; read more);
//   - ErrFrame when the header is impossible (n is 2, so a caller scanning
//     a stream skips the bad start code and looks for the next one);
//   - ErrChecksum when the sum does not match (n covers the whole packet).
func ParsePacket(b []byte) (Packet, int, error) {
	if len(b) >= 1 && b[0] != 0xEF || len(b) >= 2 && b[1] != 0x01 {
		return Packet{}, 1, linkErrorf(ErrFrame, "r30x: packet does not start with EF 01 (got % X)", b[:min(2, len(b))])
	}
	if len(b) < headerLen {
		return Packet{}, 0, errShort
	}
	p := Packet{Addr: binary.BigEndian.Uint32(b[2:6]), PID: b[6]}
	switch p.PID {
	case PIDCommand, PIDData, PIDAck, PIDEnd:
	default:
		return Packet{}, 2, linkErrorf(ErrFrame, "r30x: unknown packet type 0x%02X", p.PID)
	}
	n := int(binary.BigEndian.Uint16(b[7:9]))
	if n < 2 || n > MaxPayload+2 {
		return Packet{}, 2, linkErrorf(ErrFrame, "r30x: packet length %d out of range 2..%d", n, MaxPayload+2)
	}
	if len(b) < headerLen+n {
		return Packet{}, 0, errShort
	}
	p.Payload = b[headerLen : headerLen+n-2]
	got := binary.BigEndian.Uint16(b[headerLen+n-2:])
	if want := checksum(p.PID, p.Payload); got != want {
		return Packet{}, headerLen + n, linkErrorf(ErrChecksum, "r30x: packet type 0x%02X with %d-byte payload has checksum 0x%04X, want 0x%04X", p.PID, len(p.Payload), got, want)
	}
	return p, headerLen + n, nil
}

// SysParams are the module's system parameters (ReadSysPara).
type SysParams struct {
	Status        uint16 // status register: bit 0 busy, 1 matched, 2 password verified, 3 image buffer valid
	SystemID      uint16
	Capacity      int    // template library size
	SecurityLevel int    // 1..5
	Addr          uint32 // module address
	PacketSize    int    // data packet payload: 32, 64, 128 or 256 bytes
	Baud          int    // link speed in baud (N x 9600)
}

// sysParamsLen is the ReadSysPara result length after the confirmation code.
const sysParamsLen = 16

// ParseSysParams decodes the 16 bytes ReadSysPara returns after the
// confirmation code and checks each field is in range.
func ParseSysParams(b []byte) (SysParams, error) {
	if len(b) != sysParamsLen {
		return SysParams{}, linkErrorf(ErrFrame, "r30x: system parameters are %d bytes, want %d", len(b), sysParamsLen)
	}
	be := binary.BigEndian
	p := SysParams{
		Status:        be.Uint16(b[0:]),
		SystemID:      be.Uint16(b[2:]),
		Capacity:      int(be.Uint16(b[4:])),
		SecurityLevel: int(be.Uint16(b[6:])),
		Addr:          be.Uint32(b[8:]),
	}
	code := be.Uint16(b[12:])
	if code > 3 {
		return SysParams{}, linkErrorf(ErrFrame, "r30x: system parameters give packet-size code %d, want 0..3", code)
	}
	p.PacketSize = 32 << code
	n := be.Uint16(b[14:])
	if n < 1 || n > 12 {
		return SysParams{}, linkErrorf(ErrFrame, "r30x: system parameters give baud factor %d, want 1..12 (x9600)", n)
	}
	p.Baud = int(n) * 9600
	if p.SecurityLevel < 1 || p.SecurityLevel > 5 {
		return SysParams{}, linkErrorf(ErrFrame, "r30x: system parameters give security level %d, want 1..5", p.SecurityLevel)
	}
	return p, nil
}

// AppendSysParams appends the 16-byte wire form of p (as ReadSysPara
// returns it after the confirmation code). Simulators use it.
func AppendSysParams(b []byte, p SysParams) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, p.Status)
	b = be.AppendUint16(b, p.SystemID)
	b = be.AppendUint16(b, uint16(p.Capacity))
	b = be.AppendUint16(b, uint16(p.SecurityLevel))
	b = be.AppendUint32(b, p.Addr)
	b = be.AppendUint16(b, uint16(PacketSizeCode(p.PacketSize)))
	return be.AppendUint16(b, uint16(p.Baud/9600))
}

// PacketSizeCode returns the SetSysPara code (0..3) of a data packet size of
// 32, 64, 128 or 256 bytes, or -1 for any other size.
func PacketSizeCode(size int) int {
	switch size {
	case 32:
		return 0
	case 64:
		return 1
	case 128:
		return 2
	case 256:
		return 3
	}
	return -1
}

// System parameter registers for SetSysPara.
const (
	RegBaud       = 4 // N x 9600, N = 1..12
	RegSecurity   = 5 // 1..5
	RegPacketSize = 6 // code 0..3: 32, 64, 128, 256 bytes
)

func (p SysParams) String() string {
	return fmt.Sprintf("address 0x%08X, system id 0x%04X, capacity %d, security level %d, packet size %d, baud %d, status 0x%04X",
		p.Addr, p.SystemID, p.Capacity, p.SecurityLevel, p.PacketSize, p.Baud, p.Status)
}
