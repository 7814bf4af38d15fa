package broker

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDesignACL(t *testing.T) {
	acl := DesignACL([]string{"node-idn-1"})
	tests := []struct {
		id, topic string
		write     bool
		want      bool
	}{
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-001/capture", true, true},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-001/status", true, true},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-001/cmd/reply", true, true},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-001/ack", false, true},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-001/cmd", false, true},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-002/capture", true, false},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-002/ack", false, false},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-001/ack", true, false},
		{"kiosk-001", "rbdes/v1/idn/kiosk/kiosk-001/capture", false, false},
		{"kiosk-001", "rbdes/v1/idn/kiosk/+/ack", false, false},
		{"kiosk-001", "rbdes/v1/idn/kiosk/#", false, false},
		{"kiosk-001", "#", false, false},
		{"kiosk-001", "$share/g/rbdes/v1/idn/kiosk/+/capture", false, false},
		{"node-idn-1", "$share/rbdes-node/rbdes/v1/idn/kiosk/+/capture", false, true},
		{"node-idn-1", "rbdes/v1/idn/kiosk/+/status", false, true},
		{"node-idn-1", "rbdes/v1/idn/kiosk/+/cmd/reply", false, true},
		{"node-idn-1", "rbdes/v1/idn/kiosk/kiosk-001/ack", true, true},
		{"node-idn-1", "rbdes/v1/idn/kiosk/kiosk-001/cmd", true, true},
		{"node-idn-1", "rbdes/v1/idn/kiosk/+/ack", true, false},
		{"node-idn-1", "rbdes/v1/idn/kiosk/kiosk-001/capture", true, false},
		{"node-idn-1", "rbdes/v1/idn/kiosk/#", false, false},
		{"node-idn-1", "rbdes/v1/+/kiosk/+/capture", false, false},
	}
	for _, tc := range tests {
		if got := acl(tc.id, tc.topic, tc.write); got != tc.want {
			t.Errorf("ACL(%s, %s, write=%v) = %v, want %v", tc.id, tc.topic, tc.write, got, tc.want)
		}
	}
}
