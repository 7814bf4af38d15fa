package wire

import "testing"

func TestTopics(t *testing.T) {
	tp := KioskTopics("IDN", "kiosk-001")
	tests := []struct{ name, got, want string }{
		{"capture", tp.Capture, "rbdes/v1/idn/kiosk/kiosk-001/capture"},
		{"ack", tp.Ack, "rbdes/v1/idn/kiosk/kiosk-001/ack"},
		{"status", tp.Status, "rbdes/v1/idn/kiosk/kiosk-001/status"},
		{"cmd", tp.Cmd, "rbdes/v1/idn/kiosk/kiosk-001/cmd"},
		{"cmd/reply", tp.CmdReply, "rbdes/v1/idn/kiosk/kiosk-001/cmd/reply"},
		{"shared capture", SharedFilter("rbdes-node", "IDN", KindCapture), "$share/rbdes-node/rbdes/v1/idn/kiosk/+/capture"},
		{"status filter", KindFilter("idn", KindStatus), "rbdes/v1/idn/kiosk/+/status"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s topic = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic    string
		id, kind string
		ok       bool
	}{
		{"rbdes/v1/idn/kiosk/kiosk-001/capture", "kiosk-001", KindCapture, true},
		{"rbdes/v1/idn/kiosk/kiosk-001/cmd/reply", "kiosk-001", KindCmdReply, true},
		{"rbdes/v1/idn/kiosk/kiosk-001/status", "kiosk-001", KindStatus, true},
		{"rbdes/v1/mys/kiosk/kiosk-001/capture", "", "", false},
		{"rbdes/v1/idn/kiosk/KIOSK/capture", "", "", false},
		{"rbdes/v1/idn/kiosk/kiosk-001", "", "", false},
		{"rbdes/v1/idn/kiosk/kiosk-001/other", "", "", false},
	}
	for _, tc := range tests {
		id, kind, err := ParseTopic("IDN", tc.topic)
		if (err == nil) != tc.ok || id != tc.id || kind != tc.kind {
			t.Errorf("ParseTopic(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.topic, id, kind, err, tc.id, tc.kind, tc.ok)
		}
	}
}
