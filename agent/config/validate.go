package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	kioskIDRe    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{1,62}[a-z0-9])$`)
	deviceNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	keyIDRe      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// Pin names as periph registers them: GPIO17, P1_11, GPIO_17, named
	// lines such as ID_SDA, or a bare line number.
	pinNameRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]{0,31}|[0-9]{1,4})$`)
)

// FingerNames maps the capture policy's finger names to ISO/IEC 19794-2
// finger position codes.
var FingerNames = map[string]int{
	"right_thumb": 1, "right_index": 2, "right_middle": 3, "right_ring": 4, "right_little": 5,
	"left_thumb": 6, "left_index": 7, "left_middle": 8, "left_ring": 9, "left_little": 10,
}

func (c *Kiosk) validate(ps *problems) {
	// kiosk
	if !kioskIDRe.MatchString(c.Kiosk.ID) {
		ps.add("kiosk.id", c.Kiosk.ID, "want 3-64 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (it is the MQTT client id and certificate CN)")
	}
	validCountry(ps, "kiosk.country", c.Kiosk.Country)
	if len(c.Kiosk.Site) > 200 {
		ps.add("kiosk.site", c.Kiosk.Site[:40]+"...", "want at most 200 characters")
	}

	c.validateDevices(ps)

	// capture
	cp := c.Capture
	if cp.Policy == "" {
		ps.add("capture.policy", "", "want a policy name")
	}
	seen := map[string]bool{}
	for i, f := range cp.Fingers {
		field := fmt.Sprintf("capture.fingers[%d]", i)
		if _, ok := FingerNames[f]; !ok {
			ps.add(field, f, "want one of "+strings.Join(sortedKeys(FingerNames), ", "))
		} else if seen[f] {
			ps.add(field, f, "listed twice")
		}
		seen[f] = true
	}
	intRange(ps, "capture.max_attempts", cp.MaxAttempts, 1, 10)
	intRange(ps, "capture.min_finger_quality", cp.MinFingerQuality, 0, 100)
	intRange(ps, "capture.good_finger_quality", cp.GoodFingerQuality, 0, 100)
	if cp.GoodFingerQuality < cp.MinFingerQuality {
		ps.add("capture.good_finger_quality", strconv.Itoa(cp.GoodFingerQuality), fmt.Sprintf("want at least min_finger_quality (%d)", cp.MinFingerQuality))
	}
	durRange(ps, "capture.face_budget", cp.FaceBudget, 500*time.Millisecond, 2*time.Minute)
	durRange(ps, "capture.step_timeout", cp.StepTimeout, time.Second, 10*time.Minute)
	durRange(ps, "capture.session_timeout", cp.SessionTimeout, 10*time.Second, time.Hour)
	intRange(ps, "capture.min_face_size", cp.MinFaceSize, 24, 4000)
	for _, k := range sortedKeys(cp.FaceAccept) {
		intRange(ps, "capture.face_accept."+k, cp.FaceAccept[k], 0, 100)
	}

	// outbox
	if c.Outbox.Dir == "" {
		ps.add("outbox.dir", "", "want the directory of the outbox segment files")
	}
	if c.Outbox.MaxBytes < 1<<20 {
		ps.add("outbox.max_bytes", c.Outbox.MaxBytes.String(), "want at least 1MiB")
	}
	if c.Outbox.SegmentBytes < 64<<10 || c.Outbox.SegmentBytes > 1<<30 {
		ps.add("outbox.segment_bytes", c.Outbox.SegmentBytes.String(), "want 64KiB to 1GiB")
	} else if c.Outbox.MaxBytes >= 1<<20 && c.Outbox.SegmentBytes > c.Outbox.MaxBytes {
		ps.add("outbox.segment_bytes", c.Outbox.SegmentBytes.String(), "want at most outbox.max_bytes ("+c.Outbox.MaxBytes.String()+")")
	}
	intRange(ps, "outbox.max_deliveries", c.Outbox.MaxDeliveries, 1, 1000)

	c.validateUplink(ps)
	c.validateKeys(ps)

	// http
	validListen(ps, "http.listen", c.HTTP.Listen, c.HTTP.AllowRemote)

	validLog(ps, "log", c.Log)
	if c.State.Dir == "" {
		ps.add("state.dir", "", "want a directory for kioskd's state files")
	}
}

func (c *Kiosk) validateDevices(ps *problems) {
	names := map[string]bool{}
	roles := map[DeviceRole]int{}
	for i, d := range c.Devices {
		base := fmt.Sprintf("devices[%d]", i)
		if !deviceNameRe.MatchString(d.Name) {
			ps.add(base+".name", d.Name, "want 1-32 characters of a-z, 0-9, '-' and '_'")
		} else if names[d.Name] {
			ps.add(base+".name", d.Name, "another device already has this name")
		}
		names[d.Name] = true
		spec, ok := Drivers[d.Driver]
		if !ok {
			ps.add(base+".driver", d.Driver, "want one of "+strings.Join(sortedKeys(Drivers), ", "))
			continue
		}
		roles[spec.Role]++
		switch spec.Transport {
		case TransportUART:
			if d.Port == "" {
				ps.add(base+".port", "", "want the serial device, e.g. /dev/ttyUSB0 or /dev/fingerprint")
			} else if !strings.HasPrefix(d.Port, "/dev/") {
				ps.add(base+".port", d.Port, "want a serial device path under /dev/")
			}
		case TransportSPI, TransportSPII2C:
			if d.Port == "" {
				ps.add(base+".port", "", "want the SPI port, e.g. SPI0.0 or /dev/spidev0.0")
			}
			if spec.Transport == TransportSPII2C && d.Bus == "" {
				ps.add(base+".bus", "", "want the I2C bus, e.g. I2C1 or /dev/i2c-1")
			}
		case TransportVideo:
			if !strings.HasPrefix(d.Port, "/dev/") {
				ps.add(base+".port", d.Port, "want the video device, e.g. /dev/video0 or /dev/cam-face")
			}
		}
		if spec.Transport != TransportUART && !spec.Simulated && d.Baud != 0 {
			ps.add(base+".baud", strconv.Itoa(d.Baud), "only UART drivers take a baud rate")
		}
		if d.Baud != 0 && !validBaud(d.Baud) {
			ps.add(base+".baud", strconv.Itoa(d.Baud), "want one of 9600, 19200, 38400, 57600, 115200 or another multiple of 9600 up to 115200")
		}
		if d.SPIHz < 0 || d.SPIHz > 50_000_000 {
			ps.add(base+".spi_hz", strconv.Itoa(d.SPIHz), "want 0 (driver default) to 50000000")
		}
		known := append(append([]string{}, spec.RequiredPins...), spec.OptionalPins...)
		known = append(known, spec.AnyOfPins...)
		for _, role := range sortedKeys(d.Pins) {
			pin := d.Pins[role]
			if !slices.Contains(known, role) {
				want := "this driver takes no pins"
				if len(known) > 0 {
					want = "unknown pin role; want one of " + strings.Join(known, ", ")
				}
				ps.add(base+".pins."+role, role, want)
				continue
			}
			if !pinNameRe.MatchString(pin) {
				ps.add(base+".pins."+role, pin, "want a periph pin name such as GPIO17 or P1_11, or a line number")
			}
		}
		for _, role := range spec.RequiredPins {
			if _, ok := d.Pins[role]; !ok && !spec.Simulated {
				ps.add(base+".pins."+role, "", "required by driver "+d.Driver)
			}
		}
		if len(spec.AnyOfPins) > 0 && !spec.Simulated {
			found := false
			for _, r := range spec.AnyOfPins {
				if _, ok := d.Pins[r]; ok {
					found = true
				}
			}
			if !found {
				ps.add(base+".pins", "", "driver "+d.Driver+" needs at least one of "+strings.Join(spec.AnyOfPins, ", "))
			}
		}
		for _, k := range sortedKeys(d.Options) {
			if !slices.Contains(spec.Options, k) {
				want := "driver " + d.Driver + " takes no options"
				if len(spec.Options) > 0 {
					o := append([]string{}, spec.Options...)
					sort.Strings(o)
					want = "unknown option for driver " + d.Driver + "; want one of " + strings.Join(o, ", ")
				}
				ps.add(base+".options."+k, k, want)
			}
		}
	}
	if roles[RoleFingerprint] > 1 {
		ps.add("devices", "", "at most one fingerprint sensor")
	}
	if roles[RoleCamera] > 1 {
		ps.add("devices", "", "at most one face camera")
	}
}

func validBaud(b int) bool { return b >= 9600 && b <= 115200 && b%9600 == 0 }

func (c *Kiosk) validateUplink(ps *problems) {
	u := c.Uplink
	for i, b := range u.Brokers {
		field := fmt.Sprintf("uplink.brokers[%d]", i)
		pu, err := url.Parse(b)
		if err != nil || pu.Host == "" || pu.Port() == "" {
			ps.add(field, b, "want a broker URL such as tls://broker.example:8883")
			continue
		}
		switch pu.Scheme {
		case "tls", "ssl", "mqtts":
		case "tcp", "mqtt":
			if !u.Insecure {
				ps.add(field, b, "plain tcp:// sends over an unencrypted link; use tls:// or set uplink.insecure: true for development")
			}
		default:
			ps.add(field, b, "want scheme tls://, ssl:// or mqtts:// (tcp:// only with uplink.insecure)")
		}
		if pu.Path != "" && pu.Path != "/" {
			ps.add(field, b, "a broker URL has no path")
		}
	}
	if u.Enabled() && !u.Insecure {
		readableFile(ps, "uplink.ca_file", u.CAFile, "the PEM file of the CA that signed the broker's certificate")
		readableFile(ps, "uplink.cert_file", u.CertFile, "the kiosk's PEM client certificate")
		privateFile(ps, "uplink.key_file", u.KeyFile, "the kiosk's PEM TLS private key")
	}
	if u.Enabled() {
		durRange(ps, "uplink.keepalive", u.KeepAlive, 5*time.Second, 20*time.Minute)
		durRange(ps, "uplink.connect_timeout", u.ConnectTimeout, time.Second, 5*time.Minute)
		durRange(ps, "uplink.reconnect_min", u.ReconnectMin, 10*time.Millisecond, 10*time.Minute)
		durRange(ps, "uplink.reconnect_max", u.ReconnectMax, u.ReconnectMin, time.Hour)
		intRange(ps, "uplink.inflight", u.InFlight, 1, 16)
		durRange(ps, "uplink.ack_timeout", u.AckTimeout, 100*time.Millisecond, time.Hour)
		intRange(ps, "uplink.max_drops", u.MaxDrops, 1, 100)
		intRange(ps, "uplink.resume_rate", u.ResumeRate, 1, 100000)
		durRange(ps, "uplink.resume_window", u.ResumeWindow, 0, time.Hour)
		durRange(ps, "uplink.heartbeat", u.Heartbeat, time.Second, time.Hour)
	}
}

func (c *Kiosk) validateKeys(ps *problems) {
	k := c.Keys
	privateFile(ps, "keys.device_key", k.DeviceKey, "the kiosk's Ed25519 signing key (kioskctl provision makes it)")
	if !keyIDRe.MatchString(k.DeviceKeyID) {
		ps.add("keys.device_key_id", k.DeviceKeyID, "want 1-64 characters of letters, digits, '.', '_' and '-'")
	}
	if k.Suite != "mlkem768-x25519" && k.Suite != "x25519" {
		ps.add("keys.suite", k.Suite, "want mlkem768-x25519 (post-quantum hybrid, default) or x25519")
	}
	if len(k.NodeKeys) == 0 {
		ps.add("keys.node_keys", "", "want at least one node public key to seal records to")
	}
	if len(k.NodeKeys) > 2 {
		ps.add("keys.node_keys", strconv.Itoa(len(k.NodeKeys))+" keys", "want at most two (current and next)")
	}
	ids := map[string]bool{}
	for i, nk := range k.NodeKeys {
		base := fmt.Sprintf("keys.node_keys[%d]", i)
		if !keyIDRe.MatchString(nk.ID) {
			ps.add(base+".id", nk.ID, "want 1-64 characters of letters, digits, '.', '_' and '-'")
		} else if ids[nk.ID] {
			ps.add(base+".id", nk.ID, "two node keys have this id")
		}
		ids[nk.ID] = true
		readableFile(ps, base+".file", nk.File, "the node's public sealing key")
	}
	if k.Current != "" && !ids[k.Current] {
		ps.add("keys.current", k.Current, "want the id of one of keys.node_keys")
	}
	if len(k.CommandKeys) == 0 && c.Uplink.Enabled() {
		ps.add("keys.command_keys", "", "want at least one node command public key when uplink.brokers is set: the node signs every ack with it, and unsigned acks are ignored")
	}
	for i, ck := range k.CommandKeys {
		base := fmt.Sprintf("keys.command_keys[%d]", i)
		if !keyIDRe.MatchString(ck.ID) {
			ps.add(base+".id", ck.ID, "want 1-64 characters of letters, digits, '.', '_' and '-'")
		}
		readableFile(ps, base+".file", ck.File, "the node's Ed25519 command-signing public key")
	}
}

func validCountry(ps *problems, field, cc string) {
	if !countries[cc] {
		want := "want an ISO 3166-1 alpha-3 country code in capitals, e.g. IDN, AUS, THA"
		if countries[strings.ToUpper(cc)] {
			want = "write it in capitals: " + strings.ToUpper(cc)
		}
		ps.add(field, cc, want)
	}
}

func validListen(ps *problems, field, addr string, allowRemote bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ps.add(field, addr, "want host:port, e.g. 127.0.0.1:8480")
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		ps.add(field, addr, "want a port from 0 to 65535")
	}
	if allowRemote {
		return
	}
	if host == "localhost" {
		return
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		ps.add(field, addr, "want a loopback address (127.0.0.1 or [::1]); set allow_remote: true to listen elsewhere")
	}
}

func validLog(ps *problems, base string, l Log) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.add(base+".level", l.Level, "want debug, info, warn or error")
	}
	switch l.Format {
	case "json", "console":
	default:
		ps.add(base+".format", l.Format, "want json (production) or console (development)")
	}
}

func intRange(ps *problems, field string, v, lo, hi int) {
	if v < lo || v > hi {
		ps.addf(field, strconv.Itoa(v), "want %d to %d", lo, hi)
	}
}

func durRange(ps *problems, field string, v, lo, hi time.Duration) {
	if v < lo || v > hi {
		ps.addf(field, v.String(), "want %v to %v", lo, hi)
	}
}

// readableFile checks that path names a regular file this process can read.
func readableFile(ps *problems, field, path, what string) {
	if path == "" {
		ps.add(field, "", "want the path of "+what)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		ps.add(field, path, "cannot read "+what+": "+errText(err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		ps.add(field, path, "want a regular file holding "+what)
	}
}

// privateFile is readableFile for private keys, which must also be
// unreadable by group and others.
func privateFile(ps *problems, field, path, what string) {
	n := len(ps.list)
	readableFile(ps, field, path, what)
	if len(ps.list) > n {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		ps.addf(field, path, "private key is readable by group or others (mode %04o); run chmod 600 %s", fi.Mode().Perm(), path)
	}
}

func errText(err error) string {
	var pe *os.PathError
	if e, ok := err.(*os.PathError); ok {
		pe = e
		return pe.Err.Error()
	}
	return err.Error()
}
