package wire

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Limits of a well-formed Status and CommandReply.
const (
	MaxStatusBytes = 64 << 10
	MaxStatusItems = 64
	MaxTextLen     = 512
)

// ParseStatus decodes a Status published on a kiosk's status topic and
// checks its form: at most MaxStatusBytes, a kiosk id, a known state and
// kind, at most MaxStatusItems devices and alarms, and text fields of at
// most MaxTextLen bytes of UTF-8. Fields unknown to this version are
// ignored (a Status is informational and unsigned). Errors wrap
// ErrMalformed.
func ParseStatus(b []byte) (*rbdesv1.Status, error) {
	if len(b) > MaxStatusBytes {
		return nil, fmt.Errorf("wire: status of %d bytes exceeds the %d-byte limit: %w", len(b), MaxStatusBytes, ErrMalformed)
	}
	s := &rbdesv1.Status{}
	if err := proto.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("wire: payload is not a Status protobuf (%v): %w", err, ErrMalformed)
	}
	if err := checkStatus(s); err != nil {
		return nil, err
	}
	return s, nil
}

func checkStatus(s *rbdesv1.Status) error {
	id := s.GetKioskId()
	switch {
	case !seal.ValidKioskID(id):
		return fmt.Errorf("wire: status names %q, not a kiosk id: %w", id, ErrMalformed)
	case s.GetState() < rbdesv1.KioskState_KIOSK_STATE_ONLINE || s.GetState() > rbdesv1.KioskState_KIOSK_STATE_OFFLINE:
		return fmt.Errorf("wire: status of %s has state %d, want ONLINE or OFFLINE: %w", id, s.GetState(), ErrMalformed)
	case s.GetKind() < rbdesv1.StatusKind_STATUS_KIND_BIRTH || s.GetKind() > rbdesv1.StatusKind_STATUS_KIND_REPORT:
		return fmt.Errorf("wire: status of %s has kind %d: %w", id, s.GetKind(), ErrMalformed)
	case len(s.GetDevices()) > MaxStatusItems || len(s.GetAlarms()) > MaxStatusItems:
		return fmt.Errorf("wire: status of %s lists %d devices and %d alarms, more than %d: %w", id, len(s.GetDevices()), len(s.GetAlarms()), MaxStatusItems, ErrMalformed)
	}
	texts := []string{s.GetAgentVersion(), s.GetAgentCommit(), s.GetSite()}
	texts = append(texts, s.GetAlarms()...)
	for _, d := range s.GetDevices() {
		texts = append(texts, d.GetName(), d.GetDriver(), d.GetDetail())
	}
	for _, t := range texts {
		if len(t) > MaxTextLen || !utf8.ValidString(t) {
			return fmt.Errorf("wire: status of %s holds a text field longer than %d bytes or not UTF-8: %w", id, MaxTextLen, ErrMalformed)
		}
	}
	return nil
}

// ParseCommandReply decodes a CommandReply published on a kiosk's
// cmd/reply topic and checks its form like ParseStatus (the embedded
// Status, when present, included). Errors wrap ErrMalformed.
func ParseCommandReply(b []byte) (*rbdesv1.CommandReply, error) {
	if len(b) > MaxStatusBytes {
		return nil, fmt.Errorf("wire: command reply of %d bytes exceeds the %d-byte limit: %w", len(b), MaxStatusBytes, ErrMalformed)
	}
	r := &rbdesv1.CommandReply{}
	if err := proto.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("wire: payload is not a CommandReply protobuf (%v): %w", err, ErrMalformed)
	}
	switch {
	case !seal.ValidKioskID(r.GetKioskId()):
		return nil, fmt.Errorf("wire: command reply names %q, not a kiosk id: %w", r.GetKioskId(), ErrMalformed)
	case r.GetCommandId() == "" || len(r.GetCommandId()) > 64:
		return nil, fmt.Errorf("wire: command reply of %s has command id %q: %w", r.GetKioskId(), r.GetCommandId(), ErrMalformed)
	case r.GetResult() < rbdesv1.CommandResult_COMMAND_RESULT_OK || r.GetResult() > rbdesv1.CommandResult_COMMAND_RESULT_FAILED:
		return nil, fmt.Errorf("wire: command reply of %s has result %d: %w", r.GetKioskId(), r.GetResult(), ErrMalformed)
	case len(r.GetDetail()) > MaxTextLen || !utf8.ValidString(r.GetDetail()):
		return nil, fmt.Errorf("wire: command reply of %s has a detail longer than %d bytes or not UTF-8: %w", r.GetKioskId(), MaxTextLen, ErrMalformed)
	}
	if s := r.GetStatus(); s != nil {
		if err := checkStatus(s); err != nil {
			return nil, err
		}
	}
	return r, nil
}
