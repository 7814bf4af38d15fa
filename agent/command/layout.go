// Package command signs node-to-kiosk Commands (on the node) and verifies
// them (on the kiosk), and carries out the two commands that change the
// kiosk's node key set: AddNodeKey and RetireNodeKey. Which command kinds a
// kiosk runs at all (the allow-list) is the uplink's decision; this package
// says whether a command is authentic, meant for this kiosk, in time and
// new.
//
// A kiosk accepts a command only when, in this order (the first failure is
// the proto rbdes.v1 CommandRejectReason):
//
//  1. it decodes, has no fields unknown to protocol version 1, a command
//     id, a 16-64 byte nonce, a key id, a 64-byte signature and a body, and
//     expires after it was issued (MALFORMED);
//  2. kiosk_id is this kiosk's (WRONG_KIOSK);
//  3. key_id names one of the kiosk's configured command keys
//     (UNKNOWN_KEY);
//  4. the Ed25519 signature verifies over the layout below (BAD_SIGNATURE);
//  5. now is before expires_unix_ms, issued_unix_ms is not in the future
//     beyond the tolerated clock skew, and the lifetime (expires - issued)
//     is within the kiosk's maximum (EXPIRED);
//  6. the nonce was never accepted before (REPLAYED). Nonces are kept in a
//     file in kioskd's state directory until the command has expired, so a
//     restart does not reopen the window.
//
// # Signature input, version 1
//
// Encoding as in agent/seal: u32, u64 and i64 big-endian, u8 one byte, str
// and bin a u32 length and the bytes.
//
//	"RBDES-v1-Command" 0x00     17 bytes, domain separation
//	str command_id              field 1
//	str kiosk_id                field 2
//	i64 issued_unix_ms          field 3
//	i64 expires_unix_ms         field 4
//	bin nonce                   field 5
//	str key_id                  field 6
//	u32 body field number       10 ping, 11 report_status, 12 add_node_key,
//	                            13 retire_node_key, 14 set_capture_policy
//	body fields:
//	  ping, report_status       nothing
//	  add_node_key              str key_id, u32 kem_id, bin public_key,
//	                            u8 make_current (0 or 1)
//	  retire_node_key           str key_id
//	  set_capture_policy        u32 n, then n pairs (str key, str value)
//	                            sorted by key (bytewise ascending)
//
// The signature (field 7) is the pure Ed25519 signature of that input.
package command

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// SignaturePrefix is the domain-separation prefix of the signature input.
const SignaturePrefix = "RBDES-v1-Command\x00"

// Body field numbers of the Command oneof.
const (
	bodyPing             = 10
	bodyReportStatus     = 11
	bodyAddNodeKey       = 12
	bodyRetireNodeKey    = 13
	bodySetCapturePolicy = 14
)

// errNoBody: the command has no body.
var errNoBody = errors.New("command has no body")

type enc []byte

func (b enc) u32(v uint32) enc { return binary.BigEndian.AppendUint32(b, v) }
func (b enc) i64(v int64) enc  { return binary.BigEndian.AppendUint64(b, uint64(v)) }
func (b enc) bin(p []byte) enc { return append(b.u32(uint32(len(p))), p...) }
func (b enc) str(s string) enc { return append(b.u32(uint32(len(s))), s...) }

// SignatureInput returns the bytes a command key signs for cmd (layout in
// the package comment). It fails when cmd has no body.
func SignatureInput(cmd *rbdesv1.Command) ([]byte, error) {
	b := make(enc, 0, 256)
	b = append(b, SignaturePrefix...)
	b = b.str(cmd.GetCommandId()).str(cmd.GetKioskId())
	b = b.i64(cmd.GetIssuedUnixMs()).i64(cmd.GetExpiresUnixMs())
	b = b.bin(cmd.GetNonce()).str(cmd.GetKeyId())
	switch body := cmd.GetBody().(type) {
	case *rbdesv1.Command_Ping:
		b = b.u32(bodyPing)
	case *rbdesv1.Command_ReportStatus:
		b = b.u32(bodyReportStatus)
	case *rbdesv1.Command_AddNodeKey:
		a := body.AddNodeKey
		b = b.u32(bodyAddNodeKey).str(a.GetKeyId()).u32(a.GetKemId()).bin(a.GetPublicKey())
		if a.GetMakeCurrent() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case *rbdesv1.Command_RetireNodeKey:
		b = b.u32(bodyRetireNodeKey).str(body.RetireNodeKey.GetKeyId())
	case *rbdesv1.Command_SetCapturePolicy:
		vals := body.SetCapturePolicy.GetValues()
		b = b.u32(bodySetCapturePolicy).u32(uint32(len(vals)))
		names := make([]string, 0, len(vals))
		for k := range vals {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			b = b.str(k).str(vals[k])
		}
	case nil:
		return nil, fmt.Errorf("command: command %q: %w", cmd.GetCommandId(), errNoBody)
	default:
		return nil, fmt.Errorf("command: command %q has a body of type %T unknown to protocol version 1", cmd.GetCommandId(), body)
	}
	return b, nil
}

// Kind names the command's body for logs and replies: ping,
// report_status, add_node_key, retire_node_key, set_capture_policy, or ""
// when it has none.
func Kind(cmd *rbdesv1.Command) string {
	switch cmd.GetBody().(type) {
	case *rbdesv1.Command_Ping:
		return "ping"
	case *rbdesv1.Command_ReportStatus:
		return "report_status"
	case *rbdesv1.Command_AddNodeKey:
		return "add_node_key"
	case *rbdesv1.Command_RetireNodeKey:
		return "retire_node_key"
	case *rbdesv1.Command_SetCapturePolicy:
		return "set_capture_policy"
	}
	return ""
}
