package config

import (
	"errors"
	"testing"
)

// FuzzParseKiosk: arbitrary bytes give a config or an *Error, never a panic.
func FuzzParseKiosk(f *testing.F) {
	f.Add([]byte(validKiosk("/nonexistent")))
	f.Add([]byte("kiosk:\n  id: a\n"))
	f.Add([]byte("devices:\n  - {name: x, driver: r30x, pins: {touch: GPIO1}}\n"))
	f.Add([]byte("outbox: {max_bytes: 1GiB}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("- 1\n- 2\n"))
	f.Add([]byte("capture:\n  face_accept: {sharpness: 50}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseKiosk(data)
		if err == nil {
			if c == nil {
				t.Fatal("ParseKiosk returned nil config and nil error")
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("ParseKiosk error %v is not an *Error with problems", err)
		}
	})
}

// FuzzParseNode is FuzzParseKiosk for the node config.
func FuzzParseNode(f *testing.F) {
	f.Add([]byte("node:\n  id: node-1\n  country: IDN\nstore:\n  driver: postgres\n"))
	f.Add([]byte("broker: {urls: [tls://a:1]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseNode(data)
		if err == nil {
			return
		}
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("ParseNode error %v is not an *Error with problems", err)
		}
	})
}
