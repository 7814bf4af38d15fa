package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bali-rbdes/kiosk/agent/config"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Finger is a finger position as ISO/IEC 19794-2 numbers it: 1-5 right
// thumb to little finger, 6-10 left thumb to little finger.
type Finger int

var fingerNames = [11]string{"", "right_thumb", "right_index", "right_middle", "right_ring", "right_little",
	"left_thumb", "left_index", "left_middle", "left_ring", "left_little"}

// ParseFinger reads a policy finger name such as "right_index".
func ParseFinger(name string) (Finger, error) {
	if p, ok := config.FingerNames[name]; ok {
		return Finger(p), nil
	}
	return 0, fmt.Errorf("capture: unknown finger %q: want right_ or left_ followed by thumb, index, middle, ring or little", name)
}

// String returns the policy name of the finger ("right_index").
func (f Finger) String() string {
	if f < 1 || f > 10 {
		return fmt.Sprintf("finger(%d)", int(f))
	}
	return fingerNames[f]
}

// Spoken returns the finger as a prompt says it ("right index finger",
// "left thumb").
func (f Finger) Spoken() string {
	s := strings.ReplaceAll(f.String(), "_", " ")
	if strings.HasSuffix(s, "thumb") {
		return s
	}
	return s + " finger"
}

// Proto returns the finger as the record's FingerPosition.
func (f Finger) Proto() rbdesv1.FingerPosition { return rbdesv1.FingerPosition(f) }

// Policy is the capture policy in force for a session.
type Policy struct {
	// Name is recorded in every CaptureRecord.
	Name string
	// Fingers are captured in this order, one at a time.
	Fingers []Finger
	// MaxAttempts per finger; the best attempt by quality is kept.
	MaxAttempts int
	// MinFingerQuality: a finger whose best attempt stays below it is
	// recorded as missing with reason low quality.
	MinFingerQuality int
	// GoodFingerQuality: an attempt this good ends the finger early.
	GoodFingerQuality int
	// KeepFingerImages keeps the kept attempt's image (PNG) in the record.
	KeepFingerImages bool
	// FaceBudget is the time the face pipeline has to find a portrait.
	FaceBudget time.Duration
	// StepTimeout bounds each wait for the traveller (a finger to be
	// placed).
	StepTimeout time.Duration
	// SessionTimeout bounds the whole session.
	SessionTimeout time.Duration
}

// PolicyFromConfig returns the policy of a kioskd config's capture
// section, which must be valid.
func PolicyFromConfig(c config.Capture) (Policy, error) {
	if err := validCapture(c); err != nil {
		return Policy{}, err
	}
	p := Policy{
		Name: c.Policy, MaxAttempts: c.MaxAttempts, MinFingerQuality: c.MinFingerQuality,
		GoodFingerQuality: c.GoodFingerQuality, KeepFingerImages: c.KeepFingerImages,
		FaceBudget: c.FaceBudget, StepTimeout: c.StepTimeout, SessionTimeout: c.SessionTimeout,
	}
	for _, name := range c.Fingers {
		f, err := ParseFinger(name)
		if err != nil {
			return Policy{}, err
		}
		p.Fingers = append(p.Fingers, f)
	}
	return p, nil
}

// validCapture checks a capture section with the config's own rules.
func validCapture(c config.Capture) error {
	k := config.DefaultKiosk()
	k.Capture = c
	var ce *config.Error
	err := k.Validate()
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	var msgs []string
	for _, p := range ce.Problems {
		if strings.HasPrefix(p.Field, "capture.") {
			msgs = append(msgs, fmt.Sprintf("%s %q: %s", strings.TrimPrefix(p.Field, "capture."), p.Value, p.Want))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidPolicy, strings.Join(msgs, "; "))
}

// PolicyValues are the capture settings that may be changed at run time
// (the set_capture_policy command), named as in the config's capture
// section. Settings that change what leaves the kiosk (keep_finger_images)
// or how the face pipeline is built (min_face_size, face_accept) need a
// config change and a restart.
var PolicyValues = []string{"policy", "fingers", "max_attempts", "min_finger_quality", "good_finger_quality",
	"face_budget", "step_timeout", "session_timeout"}

// applyValues returns c with values (names as in PolicyValues, values as
// text) applied. Fingers are a comma- or space-separated list, optionally
// in brackets: "right_index, right_middle" or "[right_index]"; an empty
// list means no fingers.
func applyValues(c config.Capture, values map[string]string) (config.Capture, error) {
	if len(values) == 0 {
		return c, fmt.Errorf("%w: no values given (allowed: %s)", ErrInvalidPolicy, strings.Join(PolicyValues, ", "))
	}
	c.Fingers = slices.Clone(c.Fingers)
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	slices.Sort(names)
	var bad []string
	for _, name := range names {
		v := strings.TrimSpace(values[name])
		var err error
		switch name {
		case "policy":
			if v == "" || len(v) > 64 || !printable(v) {
				err = errors.New("want 1-64 printable characters")
			}
			c.Policy = v
		case "fingers":
			c.Fingers = splitList(v)
		case "max_attempts":
			c.MaxAttempts, err = strconv.Atoi(v)
		case "min_finger_quality":
			c.MinFingerQuality, err = strconv.Atoi(v)
		case "good_finger_quality":
			c.GoodFingerQuality, err = strconv.Atoi(v)
		case "face_budget":
			c.FaceBudget, err = time.ParseDuration(v)
		case "step_timeout":
			c.StepTimeout, err = time.ParseDuration(v)
		case "session_timeout":
			c.SessionTimeout, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("not a value that may be changed at run time (allowed: %s)", strings.Join(PolicyValues, ", "))
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %q: %v", name, clip(v), err))
		}
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("%w: %s", ErrInvalidPolicy, strings.Join(bad, "; "))
	}
	return c, validCapture(c)
}

func splitList(v string) []string {
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	out := []string{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		out = append(out, strings.Trim(f, `"'`))
	}
	return out
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// clip shortens a value for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "..."
	}
	return s
}

// policyFile is the durable record of run-time policy changes.
type policyFile struct {
	// Values are the changes in force, on top of the config.
	Values map[string]string `json:"values"`
	// Changed is when they were last changed.
	Changed time.Time `json:"changed"`
}

// maxPolicyFile bounds what loadPolicyFile reads.
const maxPolicyFile = 64 << 10

// loadPolicyFile reads the changes saved at path; a missing file means
// none.
func loadPolicyFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("capture: reading the saved policy changes %s: %w", path, err)
	}
	return parsePolicyFile(b)
}

func parsePolicyFile(b []byte) (map[string]string, error) {
	if len(b) > maxPolicyFile {
		return nil, fmt.Errorf("capture: saved policy changes are %d bytes, more than the %d allowed", len(b), maxPolicyFile)
	}
	var f policyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("capture: saved policy changes are not valid JSON: %w", err)
	}
	return f.Values, nil
}

// savePolicyFile writes the changes durably: temporary file, fsync,
// rename, fsync of the directory.
func savePolicyFile(path string, values map[string]string, now time.Time) error {
	b, err := json.MarshalIndent(policyFile{Values: values, Changed: now.UTC()}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("capture: creating %s for the policy changes: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".capture-policy-*")
	if err != nil {
		return fmt.Errorf("capture: saving the policy changes in %s (check the state directory is writable): %w", dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("capture: writing the policy changes: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("capture: syncing the policy changes: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("capture: writing the policy changes: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("capture: replacing %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("capture: syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("capture: syncing %s: %w", dir, err)
	}
	return nil
}
