package uplink

import (
	"errors"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// maxInbox bounds the messages waiting for the session goroutine; beyond
// it paho's callbacks drop messages (counted) rather than wait. An Ack
// dropped this way only delays its record: it is sent again and the node
// answers DUPLICATE.
const maxInbox = 4096

// message is what paho's callbacks hand to the session goroutine: an
// inbound publish, or (lost != nil) the loss of session sid's connection.
type message struct {
	sid     uint64
	topic   string
	payload []byte
	lost    error
}

// inbox is the non-blocking queue between paho's goroutines and the
// session goroutine.
type inbox struct {
	mu      sync.Mutex
	msgs    []message
	dropped int
	notify  chan struct{}
}

func newInbox() *inbox { return &inbox{notify: make(chan struct{}, 1)} }

// put queues m without ever blocking; it reports false when m was dropped.
func (in *inbox) put(m message) bool {
	in.mu.Lock()
	if m.lost == nil && len(in.msgs) >= maxInbox {
		in.dropped++
		in.mu.Unlock()
		return false
	}
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
	select {
	case in.notify <- struct{}{}:
	default:
	}
	return true
}

// take returns every queued message, oldest first.
func (in *inbox) take() []message {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := in.msgs
	in.msgs = nil
	return m
}

// errNoRecordID: a payload handed out by the outbox is not a sealed record.
var errNoRecordID = errors.New("payload has no canonical record id (field 3)")

// recordID reads SealedRecord.record_id (field 3) from a serialized sealed
// record without decoding the rest.
func recordID(b []byte) (string, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", errNoRecordID
		}
		b = b[n:]
		if num == 3 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !seal.ValidRecordID(string(v)) {
				return "", errNoRecordID
			}
			return string(v), nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", errNoRecordID
		}
		b = b[n:]
	}
	return "", errNoRecordID
}
