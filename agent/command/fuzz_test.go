package command

import (
	"crypto/ed25519"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// memNonces is an in-memory NonceStore for the fuzzer, fresh per input.
type memNonces map[string]bool

func (m memNonces) Use(n []byte, _, _ time.Time) (bool, error) {
	if m[string(n)] {
		return false, nil
	}
	m[string(n)] = true
	return true, nil
}

// FuzzVerify feeds arbitrary bytes to command verification: it must never
// panic, every refusal must carry a reason, and whatever it accepts must be
// one of the genuine signed commands, field for field.
func FuzzVerify(f *testing.F) {
	e := newEnv(f)
	var genuine []*rbdesv1.Command
	add := func(c *rbdesv1.Command) {
		c.KioskId = "kiosk-001"
		if err := e.signer.Sign(c); err != nil {
			f.Fatal(err)
		}
		genuine = append(genuine, c)
		b := marshal(f, c)
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	add(&rbdesv1.Command{Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}})
	add(&rbdesv1.Command{Body: &rbdesv1.Command_AddNodeKey{AddNodeKey: &rbdesv1.AddNodeKey{KeyId: "node-2", KemId: 0x647A, PublicKey: make([]byte, 1216), MakeCurrent: true}}})
	add(&rbdesv1.Command{Body: &rbdesv1.Command_SetCapturePolicy{SetCapturePolicy: &rbdesv1.SetCapturePolicy{Values: map[string]string{"max_attempts": "3", "min_finger_quality": "20"}}}})
	f.Add([]byte{})
	f.Add([]byte{0x52, 0x00})
	keys := map[string]ed25519.PublicKey{"cmd-1": e.pub}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := NewVerifier("kiosk-001", keys, memNonces{}, &Options{Clock: e.clk})
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := v.Verify(b)
		if err != nil {
			if ReasonOf(err) == rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNSPECIFIED {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		for _, g := range genuine {
			if proto.Equal(cmd, g) {
				return
			}
		}
		t.Fatalf("accepted a command that was never signed: %v", cmd)
	})
}
