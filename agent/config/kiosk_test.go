package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testFiles writes the key and TLS files a valid config refers to and
// returns the directory.
func testFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"device.key": 0o600, "node.pub": 0o644, "ca.crt": 0o644, "kiosk.crt": 0o644, "kiosk.key": 0o600, "cmd.pub": 0o644,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("test"), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func validKiosk(dir string) string {
	return strings.ReplaceAll(`
kiosk:
  id: kiosk-idn-0001
  country: IDN
  site: Soekarno-Hatta T3 arrivals, lane 4
devices:
  - name: tamper
    driver: sim-tamper
  - name: face
    driver: sim-uvc
  - name: presence
    driver: sim-presence
  - name: real-finger
    driver: r30x
    port: /dev/ttyUSB0
    baud: 57600
    pins:
      touch: GPIO17
    options:
      link_baud: "115200"
capture:
  fingers: [right_index, right_middle, right_ring, right_little]
  max_attempts: 3
  face_budget: 5s
outbox:
  dir: DIR/outbox
  max_bytes: 512MiB
uplink:
  brokers: [tls://127.0.0.1:8883]
  ca_file: DIR/ca.crt
  cert_file: DIR/kiosk.crt
  key_file: DIR/kiosk.key
  inflight: 4
keys:
  device_key: DIR/device.key
  node_keys:
    - id: node-2026a
      file: DIR/node.pub
  command_keys:
    - id: cmd-2026a
      file: DIR/cmd.pub
http:
  listen: 127.0.0.1:0
log:
  level: debug
  format: console
state:
  dir: DIR/state
`, "DIR", dir)
}

func TestParseKioskValid(t *testing.T) {
	dir := testFiles(t)
	c, err := ParseKiosk([]byte(validKiosk(dir)))
	if err != nil {
		t.Fatalf("ParseKiosk(valid) = %v", err)
	}
	if c.Kiosk.ID != "kiosk-idn-0001" || c.Kiosk.Country != "IDN" {
		t.Errorf("identity = %+v", c.Kiosk)
	}
	if got, want := c.Outbox.MaxBytes, ByteSize(512<<20); got != want {
		t.Errorf("outbox.max_bytes = %v, want %v", got, want)
	}
	if got, want := c.Capture.FaceBudget, 5*time.Second; got != want {
		t.Errorf("capture.face_budget = %v, want %v", got, want)
	}
	// Defaults survive for fields the file does not set.
	if got, want := c.Uplink.AckTimeout, 30*time.Second; got != want {
		t.Errorf("uplink.ack_timeout default = %v, want %v", got, want)
	}
	if got, want := c.Keys.Suite, "mlkem768-x25519"; got != want {
		t.Errorf("keys.suite default = %q, want %q", got, want)
	}
	if len(c.Devices) != 4 || c.Devices[3].Pins["touch"] != "GPIO17" {
		t.Errorf("devices = %+v", c.Devices)
	}
}

func TestParseKioskInvalid(t *testing.T) {
	dir := testFiles(t)
	if err := os.WriteFile(filepath.Join(dir, "open.key"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	valid := validKiosk(dir)
	tests := []struct {
		name      string
		edit      func(string) string
		wantField string
	}{
		{"bad yaml", func(s string) string { return s + "\n  : - [\n" }, "(file)"},
		{"unknown top-level field", func(s string) string { return s + "\nloggin:\n  level: info\n" }, "loggin"},
		{"unknown nested field (typo)", func(s string) string {
			return strings.Replace(s, "  max_attempts: 3", "  max_attempt: 3", 1)
		}, "capture.max_attempt"},
		{"missing id", func(s string) string { return strings.Replace(s, "  id: kiosk-idn-0001\n", "", 1) }, "kiosk.id"},
		{"id with capitals", func(s string) string { return strings.Replace(s, "kiosk-idn-0001", "Kiosk_1", 1) }, "kiosk.id"},
		{"bad country code", func(s string) string { return strings.Replace(s, "country: IDN", "country: XYZ", 1) }, "kiosk.country"},
		{"lowercase country code", func(s string) string { return strings.Replace(s, "country: IDN", "country: idn", 1) }, "kiosk.country"},
		{"bad broker URL", func(s string) string {
			return strings.Replace(s, "tls://127.0.0.1:8883", "broker.example", 1)
		}, "uplink.brokers[0]"},
		{"plain tcp broker without insecure", func(s string) string {
			return strings.Replace(s, "tls://127.0.0.1:8883", "tcp://127.0.0.1:1883", 1)
		}, "uplink.brokers[0]"},
		{"unreadable TLS file", func(s string) string {
			return strings.Replace(s, dir+"/ca.crt", dir+"/missing-ca.crt", 1)
		}, "uplink.ca_file"},
		{"private key readable by others", func(s string) string {
			return strings.Replace(s, dir+"/device.key", dir+"/open.key", 1)
		}, "keys.device_key"},
		{"bad pin name", func(s string) string { return strings.Replace(s, "touch: GPIO17", "touch: GPIO 17!", 1) }, "devices[3].pins.touch"},
		{"unknown pin role", func(s string) string { return strings.Replace(s, "touch: GPIO17", "irq: GPIO17", 1) }, "devices[3].pins.irq"},
		{"negative size", func(s string) string { return strings.Replace(s, "max_bytes: 512MiB", "max_bytes: -5", 1) }, "outbox.max_bytes"},
		{"size with bad unit", func(s string) string { return strings.Replace(s, "max_bytes: 512MiB", "max_bytes: 5 parsecs", 1) }, "outbox.max_bytes"},
		{"negative attempts", func(s string) string { return strings.Replace(s, "max_attempts: 3", "max_attempts: -1", 1) }, "capture.max_attempts"},
		{"wrong type", func(s string) string { return strings.Replace(s, "max_attempts: 3", "max_attempts: lots", 1) }, "capture.max_attempts"},
		{"bad duration", func(s string) string { return strings.Replace(s, "face_budget: 5s", "face_budget: soon", 1) }, "capture.face_budget"},
		{"unknown driver", func(s string) string { return strings.Replace(s, "driver: sim-uvc", "driver: webcam9000", 1) }, "devices[1].driver"},
		{"duplicate device name", func(s string) string { return strings.Replace(s, "name: face", "name: tamper", 1) }, "devices[1].name"},
		{"uart driver without port", func(s string) string { return strings.Replace(s, "    port: /dev/ttyUSB0\n", "", 1) }, "devices[3].port"},
		{"odd baud", func(s string) string { return strings.Replace(s, "baud: 57600", "baud: 12345", 1) }, "devices[3].baud"},
		{"unknown driver option", func(s string) string { return strings.Replace(s, "link_baud: \"115200\"", "speed: fast", 1) }, "devices[3].options.speed"},
		{"unknown finger", func(s string) string { return strings.Replace(s, "right_little]", "right_pinky]", 1) }, "capture.fingers[3]"},
		{"inflight out of range", func(s string) string { return strings.Replace(s, "inflight: 4", "inflight: 64", 1) }, "uplink.inflight"},
		{"remote listen address", func(s string) string { return strings.Replace(s, "listen: 127.0.0.1:0", "listen: 0.0.0.0:80", 1) }, "http.listen"},
		{"bad log level", func(s string) string { return strings.Replace(s, "level: debug", "level: loud", 1) }, "log.level"},
		{"no node key", func(s string) string {
			return strings.Replace(s, "  node_keys:\n    - id: node-2026a\n      file: "+dir+"/node.pub\n", "", 1)
		}, "keys.node_keys"},
		{"bad suite", func(s string) string { return strings.Replace(s, "keys:\n", "keys:\n  suite: rsa2048\n", 1) }, "keys.suite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.edit(valid)
			if data == valid {
				t.Fatal("test edit changed nothing")
			}
			_, err := ParseKiosk([]byte(data))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("ParseKiosk = %v, want *config.Error", err)
			}
			if !ce.Has(tt.wantField) {
				t.Errorf("ParseKiosk error does not name %s:\n%v", tt.wantField, err)
			}
			if len(ce.Problems) != 1 && tt.wantField != "(file)" {
				t.Errorf("want exactly one problem for one edit, got:\n%v", err)
			}
		})
	}
}

func TestParseKioskReportsEveryProblem(t *testing.T) {
	data := `
kiosk:
  id: X
  country: ZZZ
capture:
  max_attempts: 0
  colour: blue
log:
  level: chatty
`
	_, err := ParseKiosk([]byte(data))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("ParseKiosk = %v, want *config.Error", err)
	}
	for _, f := range []string{"kiosk.id", "kiosk.country", "capture.max_attempts", "capture.colour", "log.level", "keys.device_key", "keys.node_keys"} {
		if !ce.Has(f) {
			t.Errorf("error does not name %s:\n%v", f, err)
		}
	}
	if !strings.Contains(err.Error(), "(line 6)") {
		t.Errorf("error does not give the line of max_attempts:\n%v", err)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"1024", 1024, true}, {"64MiB", 64 << 20, true}, {"2GiB", 2 << 30, true}, {"20MB", 20e6, true},
		{"1 KiB", 1024, true}, {"12B", 12, true}, {"", 0, false}, {"MiB", 0, false}, {"1.5GiB", 0, false},
		{"99999999999999TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if s := ByteSize(64 << 20).String(); s != "64MiB" {
		t.Errorf("ByteSize(64MiB).String() = %q", s)
	}
}

func TestLoadKioskMissingFile(t *testing.T) {
	_, err := LoadKiosk(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("LoadKiosk(missing) = %v, want an error naming the file", err)
	}
}
