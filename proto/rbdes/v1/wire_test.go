package rbdesv1

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// samples returns one fully populated message of each type. Changing a
// field number or type changes their encoding and fails TestGolden: that is
// the point, field numbers are a published contract.
func samples() map[string]proto.Message {
	finger := &FingerSample{
		Position: FingerPosition_FINGER_POSITION_RIGHT_INDEX, IsoTemplate: []byte("FMR\x00 20\x00"),
		Quality: 71, Attempts: 2, Minutiae: 42, Device: "fingerprint", DurationMs: 2300,
		Image: &FingerImage{Format: ImageFormat_IMAGE_FORMAT_PNG, Width: 256, Height: 288, Ppi: 508, Data: []byte{0x89, 'P', 'N', 'G'}},
	}
	missing := &FingerSample{Position: FingerPosition_FINGER_POSITION_RIGHT_LITTLE, MissingReason: MissingReason_MISSING_REASON_AMPUTATED}
	face := &FaceSample{IsoRecord: []byte("FAC\x00010\x00"), Quality: 88, Measures: map[string]uint32{"sharpness": 90, "inter_eye_distance": 100},
		Accepted: true, Frames: 7, Device: "face", DurationMs: 1900}
	status := &Status{KioskId: "kiosk-idn-0001", State: KioskState_KIOSK_STATE_ONLINE, Kind: StatusKind_STATUS_KIND_BIRTH,
		BootEpoch: 12, ConnectEpoch: 40, SentUnixMs: 1795000000000, AgentVersion: "v1.0.0", AgentCommit: "abc",
		Devices:    []*DeviceHealth{{Name: "fingerprint", Driver: "r30x", Ok: true}, {Name: "face", Driver: "uvc", Detail: "no frames"}},
		QueueDepth: 3, QueueBytes: 60000, OldestUnackedAgeMs: 4000, DeadLetters: 1, Site: "lane 4", Alarms: []string{"outbox 50% full"}}
	return map[string]proto.Message{
		"DeviceInfo":   &DeviceInfo{Kind: DeviceKind_DEVICE_KIND_FINGERPRINT_SENSOR, Name: "fingerprint", Driver: "r30x", Model: "R503", Serial: "0042", Firmware: "1.2"},
		"FingerSample": finger,
		"FaceSample":   face,
		"CaptureRecord": &CaptureRecord{RecordId: "01936b2e-6c1a-7cc0-8f4e-3f0d5c9b1a2b", KioskId: "kiosk-idn-0001", Site: "lane 4",
			CapturedUnixMs: 1795000000000, SessionId: "s-1", OfficerId: "officer-7",
			Devices: []*DeviceInfo{{Kind: DeviceKind_DEVICE_KIND_FACE_CAMERA, Name: "face", Driver: "uvc"}},
			Face:    face, Fingers: []*FingerSample{finger, missing},
			Timings: &CaptureTimings{FaceMs: 1900, FingersMs: 9000, AssembleMs: 3, TotalMs: 11000}, Policy: "ees-4", AgentVersion: "v1.0.0"},
		"SealedRecord": &SealedRecord{Version: 1, KioskId: "kiosk-idn-0001", RecordId: "01936b2e-6c1a-7cc0-8f4e-3f0d5c9b1a2b", Seq: 1234,
			BootEpoch: 12, CreatedUnixMs: 1795000000000, KemId: 0x647a, KdfId: 1, AeadId: 2, NodeKeyId: "node-2026a",
			Enc: bytes.Repeat([]byte{0xE1}, 8), Ciphertext: bytes.Repeat([]byte{0xC7}, 16), PrevHash: bytes.Repeat([]byte{0xAB}, 32),
			DeviceKeyId: "device-1", Signature: bytes.Repeat([]byte{0x5A}, 64)},
		"Ack": &Ack{RecordId: "01936b2e-6c1a-7cc0-8f4e-3f0d5c9b1a2b", Sha256: bytes.Repeat([]byte{0x11}, 32), Status: AckStatus_ACK_STATUS_REJECTED,
			Reason: RejectReason_REJECT_REASON_BAD_SIGNATURE, Detail: "signature does not verify", NodeId: "node-idn-1", StoredUnixMs: 1795000000500, Seq: 1234, KioskId: "kiosk-idn-0001",
			Signature: bytes.Repeat([]byte{0x5C}, 64), KeyId: "cmd-2026a"},
		"Status": status,
		"Command": &Command{CommandId: "c-1", KioskId: "kiosk-idn-0001", IssuedUnixMs: 1795000000000, ExpiresUnixMs: 1795000600000,
			Nonce: bytes.Repeat([]byte{0x42}, 16), KeyId: "cmd-2026a", Signature: bytes.Repeat([]byte{0x5B}, 64),
			Body: &Command_AddNodeKey{AddNodeKey: &AddNodeKey{KeyId: "node-2027a", KemId: 0x647a, PublicKey: []byte{1, 2, 3}, MakeCurrent: true}}},
		"CommandReply": &CommandReply{CommandId: "c-1", KioskId: "kiosk-idn-0001", Result: CommandResult_COMMAND_RESULT_REJECTED,
			Reason: CommandRejectReason_COMMAND_REJECT_REASON_EXPIRED, Detail: "expired 3s ago", RepliedUnixMs: 1795000700000, Status: status},
	}
}

func TestGolden(t *testing.T) {
	for name, msg := range samples() {
		t.Run(name, func(t *testing.T) {
			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".hex")
			if *update {
				if err := os.WriteFile(path, []byte(hex.EncodeToString(got)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if g, w := hex.EncodeToString(got), strings.TrimSpace(string(want)); g != w {
				t.Errorf("encoding of %s changed:\n got %s\nwant %s\nField numbers and types are a published contract; if this change is intended, bump the protocol and rerun with -update.", name, g, w)
			}
			// And the golden bytes decode back into an equal message.
			wb, _ := hex.DecodeString(strings.TrimSpace(string(want)))
			back := msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(wb, back); err != nil {
				t.Fatalf("Unmarshal(golden %s): %v", name, err)
			}
			if !proto.Equal(back, msg) {
				t.Errorf("golden %s decodes to %v, want %v", name, back, msg)
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder of every message type:
// it must return an error or a message, never panic, and a decoded message
// must re-encode and decode to an equal message.
func FuzzDecode(f *testing.F) {
	for _, msg := range samples() {
		b, _ := proto.Marshal(msg)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	types := []proto.Message{&CaptureRecord{}, &FingerSample{}, &FaceSample{}, &DeviceInfo{}, &SealedRecord{}, &Ack{}, &Status{}, &Command{}, &CommandReply{}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			m := typ.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(data, m); err != nil {
				continue
			}
			again, err := proto.Marshal(m)
			if err != nil {
				t.Fatalf("%T decoded but does not re-encode: %v", m, err)
			}
			m2 := typ.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(again, m2); err != nil || !proto.Equal(m, m2) {
				t.Fatalf("%T does not round-trip: %v", m, err)
			}
		}
	})
}
