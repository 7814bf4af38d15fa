package wire

import (
	"fmt"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// Topic kinds: the last part of a kiosk topic.
const (
	KindCapture  = "capture"
	KindAck      = "ack"
	KindStatus   = "status"
	KindCmd      = "cmd"
	KindCmdReply = "cmd/reply"
)

// Topics are the MQTT topics of one kiosk.
type Topics struct {
	Capture  string
	Ack      string
	Status   string
	Cmd      string
	CmdReply string
}

// Prefix returns "rbdes/v1/{cc}/kiosk/" for country code cc (any case).
func Prefix(country string) string {
	return "rbdes/v1/" + strings.ToLower(country) + "/kiosk/"
}

// KioskTopics returns the topics of kiosk id under the national node of
// country (ISO 3166-1 alpha-3, any case).
func KioskTopics(country, id string) Topics {
	base := Prefix(country) + id + "/"
	return Topics{
		Capture:  base + KindCapture,
		Ack:      base + KindAck,
		Status:   base + KindStatus,
		Cmd:      base + KindCmd,
		CmdReply: base + KindCmdReply,
	}
}

// KindFilter returns the filter matching topic kind of every kiosk of
// country, e.g. rbdes/v1/idn/kiosk/+/capture.
func KindFilter(country, kind string) string {
	return Prefix(country) + "+/" + kind
}

// SharedFilter returns the shared subscription of node instances in group
// to topic kind of every kiosk of country:
// $share/{group}/rbdes/v1/{cc}/kiosk/+/{kind}.
func SharedFilter(group, country, kind string) string {
	return "$share/" + group + "/" + KindFilter(country, kind)
}

// ParseTopic splits a kiosk topic of country into the kiosk id and the
// kind (capture, ack, status, cmd or cmd/reply). It fails for any other
// topic and for a kiosk id that is not valid.
func ParseTopic(country, topic string) (kioskID, kind string, err error) {
	p := Prefix(country)
	rest, ok := strings.CutPrefix(topic, p)
	if !ok {
		return "", "", fmt.Errorf("wire: topic %q is not under %s", topic, p)
	}
	id, kind, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("wire: topic %q has no kind after the kiosk id", topic)
	}
	if !seal.ValidKioskID(id) {
		return "", "", fmt.Errorf("wire: topic %q names %q, which is not a kiosk id", topic, id)
	}
	switch kind {
	case KindCapture, KindAck, KindStatus, KindCmd, KindCmdReply:
		return id, kind, nil
	}
	return "", "", fmt.Errorf("wire: topic %q has unknown kind %q", topic, kind)
}
