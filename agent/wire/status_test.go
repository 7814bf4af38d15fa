package wire

import (
	"errors"
	"strings"
	"testing"

	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

func birth() *rbdesv1.Status {
	return &rbdesv1.Status{
		KioskId: "kiosk-001", State: rbdesv1.KioskState_KIOSK_STATE_ONLINE, Kind: rbdesv1.StatusKind_STATUS_KIND_BIRTH,
		BootEpoch: 3, ConnectEpoch: 17, SentUnixMs: 1767225600000, AgentVersion: "v1.2.3",
		Devices:    []*rbdesv1.DeviceHealth{{Name: "fingerprint", Driver: "r30x", Ok: true}},
		QueueDepth: 12, Alarms: []string{"outbox 50% full"},
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name string
		mod  func(s *rbdesv1.Status)
		ok   bool
	}{
		{"birth", nil, true},
		{"will", func(s *rbdesv1.Status) {
			s.State, s.Kind = rbdesv1.KioskState_KIOSK_STATE_OFFLINE, rbdesv1.StatusKind_STATUS_KIND_WILL
		}, true},
		{"bad kiosk id", func(s *rbdesv1.Status) { s.KioskId = "../x" }, false},
		{"no state", func(s *rbdesv1.Status) { s.State = 0 }, false},
		{"unknown kind", func(s *rbdesv1.Status) { s.Kind = 99 }, false},
		{"too many alarms", func(s *rbdesv1.Status) { s.Alarms = make([]string, MaxStatusItems+1) }, false},
		{"long device detail", func(s *rbdesv1.Status) { s.Devices[0].Detail = strings.Repeat("x", MaxTextLen+1) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := birth()
			if tc.mod != nil {
				tc.mod(s)
			}
			_, err := ParseStatus(marshal(t, s))
			if tc.ok && err != nil {
				t.Errorf("ParseStatus(%s) = %v, want nil", tc.name, err)
			}
			if !tc.ok && !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseStatus(%s) = %v, want ErrMalformed", tc.name, err)
			}
		})
	}
	if _, err := ParseStatus(make([]byte, MaxStatusBytes+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseStatus(oversized) = %v, want ErrMalformed", err)
	}
}

func TestParseCommandReply(t *testing.T) {
	good := &rbdesv1.CommandReply{CommandId: "c-1", KioskId: "kiosk-001", Result: rbdesv1.CommandResult_COMMAND_RESULT_OK, Status: birth()}
	if _, err := ParseCommandReply(marshal(t, good)); err != nil {
		t.Errorf("ParseCommandReply(good) = %v, want nil", err)
	}
	bad := &rbdesv1.CommandReply{CommandId: "c-1", KioskId: "kiosk-001", Result: rbdesv1.CommandResult_COMMAND_RESULT_OK, Status: &rbdesv1.Status{KioskId: "kiosk-001"}}
	if _, err := ParseCommandReply(marshal(t, bad)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseCommandReply(reply with a stateless status) = %v, want ErrMalformed", err)
	}
	noID := &rbdesv1.CommandReply{KioskId: "kiosk-001", Result: rbdesv1.CommandResult_COMMAND_RESULT_OK}
	if _, err := ParseCommandReply(marshal(t, noID)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseCommandReply(no command id) = %v, want ErrMalformed", err)
	}
}

// FuzzParseStatus feeds arbitrary bytes to the node's status decoder: no
// panic, refusals wrap ErrMalformed, and what it accepts re-encodes and
// parses again to the same message.
func FuzzParseStatus(f *testing.F) {
	b := marshal(f, birth())
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatus(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseStatus error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := ParseStatus(marshal(t, s))
		if err != nil {
			t.Fatalf("accepted status does not parse again after re-encoding: %v", err)
		}
		if again.GetKioskId() != s.GetKioskId() || again.GetConnectEpoch() != s.GetConnectEpoch() {
			t.Fatalf("re-encoded status differs: %v vs %v", again, s)
		}
	})
}

// FuzzParseCommandReply feeds arbitrary bytes to the node's command reply
// decoder: no panic, refusals wrap ErrMalformed.
func FuzzParseCommandReply(f *testing.F) {
	f.Add(marshal(f, &rbdesv1.CommandReply{CommandId: "c-1", KioskId: "kiosk-001", Result: rbdesv1.CommandResult_COMMAND_RESULT_OK, Status: birth()}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseCommandReply(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseCommandReply error %v does not wrap ErrMalformed", err)
		}
	})
}
