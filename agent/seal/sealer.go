package seal

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/clock"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Recipient is a national-node public key records can be sealed to.
type Recipient struct {
	// KeyID names the key in SealedRecord.node_key_id.
	KeyID string
	// Key is the HPKE public key; its KEM selects the suite.
	Key hpke.PublicKey
}

// Recipients tells a Sealer which node key to seal the next record to. The
// kiosk's node key set (agent/keys NodeKeySet) implements it, so that a key
// added or retired by a node command takes effect at the next record.
type Recipients interface {
	Current() Recipient
}

// Fixed returns Recipients that always answer r.
func Fixed(r Recipient) Recipients { return fixed(r) }

type fixed Recipient

func (f fixed) Current() Recipient { return Recipient(f) }

// Options tune a Sealer.
type Options struct {
	// Clock stamps created_unix_ms; nil means clock.Real().
	Clock clock.Clock
	// BootEpoch is the kiosk's boot counter, written into every record.
	BootEpoch uint64
	// Registerer receives kiosk_seal_* metrics; nil means no metrics.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the options nil stands for: the real clock, boot
// epoch 0, no metrics.
func DefaultOptions() *Options { return &Options{Clock: clock.Real()} }

// Sealer seals and signs CaptureRecords for one kiosk. It is safe for
// concurrent use.
type Sealer struct {
	kioskID     string
	deviceKeyID string
	signer      crypto.Signer
	to          Recipients
	clk         clock.Clock
	bootEpoch   uint64
	metrics     *sealMetrics
}

// New returns a Sealer for kioskID that signs with signer (an Ed25519 key:
// ed25519.PrivateKey, or a hardware key offering crypto.Signer) under
// deviceKeyID and seals to the key to names at each call. It signs and
// checks a test message so that a broken signer fails here, not at the
// first capture.
func New(kioskID, deviceKeyID string, signer crypto.Signer, to Recipients, opts *Options) (*Sealer, error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	if !ValidKioskID(kioskID) {
		return nil, fmt.Errorf("seal: kiosk id %q is not valid (want 3-64 characters of a-z, 0-9 and '-')", kioskID)
	}
	if !ValidKeyID(deviceKeyID) {
		return nil, fmt.Errorf("seal: device key id %q is not valid (want 1-64 characters of letters, digits, '.', '_' and '-')", deviceKeyID)
	}
	if signer == nil || to == nil {
		return nil, errors.New("seal: New needs a signer and recipients")
	}
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("seal: device key %s is a %T, want an Ed25519 key (kioskctl provision makes one)", deviceKeyID, signer.Public())
	}
	probe := []byte("rbdes seal: signer self-test")
	sig, err := signer.Sign(nil, probe, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("seal: device key %s cannot sign (check the key file or the key store): %w", deviceKeyID, err)
	}
	if !ed25519.Verify(pub, probe, sig) {
		return nil, fmt.Errorf("seal: device key %s made a signature its own public key does not verify (corrupt key?)", deviceKeyID)
	}
	if r := to.Current(); r.Key == nil || !ValidKeyID(r.KeyID) {
		return nil, fmt.Errorf("seal: no usable node key to seal to (got id %q)", r.KeyID)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real()
	}
	m, err := newSealMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Sealer{
		kioskID:     kioskID,
		deviceKeyID: deviceKeyID,
		signer:      signer,
		to:          to,
		clk:         clk,
		bootEpoch:   opts.BootEpoch,
		metrics:     m,
	}, nil
}

// Seal encrypts rec to the current node key, signs the result and returns
// the serialized SealedRecord with sequence number seq and chain link prev
// (the SHA-256 of the previous sealed record's bytes; zero for the first).
// It fits the outbox's AppendWith build function. rec must carry this
// kiosk's id and a canonical record id; Seal does not modify it (see Wipe).
// The serialized plaintext is cleared before Seal returns.
func (s *Sealer) Seal(rec *rbdesv1.CaptureRecord, seq uint64, prev [HashSize]byte) ([]byte, error) {
	start := s.clk.Now()
	out, suite, err := s.seal(rec, seq, prev)
	s.metrics.observe(suite, err, s.clk.Since(start))
	return out, err
}

func (s *Sealer) seal(rec *rbdesv1.CaptureRecord, seq uint64, prev [HashSize]byte) ([]byte, Suite, error) {
	if rec == nil {
		return nil, Suite{}, errors.New("seal: nil CaptureRecord")
	}
	if rec.GetKioskId() != s.kioskID {
		return nil, Suite{}, fmt.Errorf("seal: record %s carries kiosk id %q but this kiosk is %q (the record builder must use the configured kiosk.id)", rec.GetRecordId(), rec.GetKioskId(), s.kioskID)
	}
	if !ValidRecordID(rec.GetRecordId()) {
		return nil, Suite{}, fmt.Errorf("seal: record id %q is not a canonical lowercase UUID", rec.GetRecordId())
	}
	r := s.to.Current()
	if r.Key == nil {
		return nil, Suite{}, fmt.Errorf("seal: node key %q has no public key", r.KeyID)
	}
	suite, err := SuiteForKEM(r.Key.KEM().ID())
	if err != nil {
		return nil, Suite{}, fmt.Errorf("seal: node key %s: %w", r.KeyID, err)
	}
	kdf, aead, err := suite.primitives()
	if err != nil {
		return nil, suite, err
	}
	info := Info(Version, s.kioskID, rec.GetRecordId())

	mo := proto.MarshalOptions{Deterministic: true}
	plain, err := mo.MarshalAppend(make([]byte, 0, mo.Size(rec)), rec)
	if err != nil {
		clear(plain)
		return nil, suite, fmt.Errorf("seal: cannot serialize record %s: %w", rec.GetRecordId(), err)
	}
	enc, sender, err := hpke.NewSender(r.Key, kdf, aead, info)
	if err != nil {
		clear(plain)
		return nil, suite, fmt.Errorf("seal: HPKE setup to node key %s failed: %w", r.KeyID, err)
	}
	ct, err := sender.Seal(nil, plain)
	clear(plain)
	if err != nil {
		return nil, suite, fmt.Errorf("seal: HPKE encryption of record %s failed: %w", rec.GetRecordId(), err)
	}

	sr := &rbdesv1.SealedRecord{
		Version:       Version,
		KioskId:       s.kioskID,
		RecordId:      rec.GetRecordId(),
		Seq:           seq,
		BootEpoch:     s.bootEpoch,
		CreatedUnixMs: s.clk.Now().UnixMilli(),
		KemId:         uint32(suite.KEM),
		KdfId:         uint32(suite.KDF),
		AeadId:        uint32(suite.AEAD),
		NodeKeyId:     r.KeyID,
		Enc:           enc,
		Ciphertext:    ct,
		PrevHash:      prev[:],
		DeviceKeyId:   s.deviceKeyID,
	}
	msg, err := SignatureInput(sr)
	if err != nil {
		return nil, suite, err
	}
	sig, err := s.signer.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return nil, suite, fmt.Errorf("seal: device key %s failed to sign record %s: %w", s.deviceKeyID, rec.GetRecordId(), err)
	}
	sr.Signature = sig
	out, err := mo.Marshal(sr)
	if err != nil {
		return nil, suite, fmt.Errorf("seal: cannot serialize sealed record %s: %w", rec.GetRecordId(), err)
	}
	return out, suite, nil
}

// KioskID returns the kiosk the Sealer seals for.
func (s *Sealer) KioskID() string { return s.kioskID }

// DeviceKeyID returns the id of the key the Sealer signs with.
func (s *Sealer) DeviceKeyID() string { return s.deviceKeyID }

// Hash returns the chain link of a serialized sealed record: the SHA-256
// of its bytes exactly as stored and published.
func Hash(sealed []byte) [HashSize]byte { return sha256.Sum256(sealed) }

// Wipe overwrites with zeros the byte fields of rec that hold biometric
// data: the face record, the finger templates and any finger images. Call
// it when the record has been sealed and appended. Strings (ids, names)
// cannot be cleared in Go and hold no biometric data.
func Wipe(rec *rbdesv1.CaptureRecord) {
	if rec == nil {
		return
	}
	if f := rec.GetFace(); f != nil {
		clear(f.IsoRecord)
	}
	for _, fs := range rec.GetFingers() {
		clear(fs.IsoTemplate)
		if img := fs.GetImage(); img != nil {
			clear(img.Data)
		}
	}
}

type sealMetrics struct {
	records  *prometheus.CounterVec
	failures prometheus.Counter
	seconds  prometheus.Histogram
}

func newSealMetrics(reg prometheus.Registerer) (*sealMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &sealMetrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_seal_records_total",
			Help: "Capture records sealed and signed, by HPKE suite.",
		}, []string{"suite"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kiosk_seal_failures_total",
			Help: "Capture records that could not be sealed.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kiosk_seal_duration_seconds",
			Help:    "Time to serialize, encrypt and sign one capture record.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
	}
	for _, c := range []prometheus.Collector{m.records, m.failures, m.seconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("seal: cannot register metrics (two sealers on one registry?): %w", err)
		}
	}
	return m, nil
}

func (m *sealMetrics) observe(s Suite, err error, d time.Duration) {
	if m == nil {
		return
	}
	if err != nil {
		m.failures.Inc()
		return
	}
	m.records.WithLabelValues(s.Name()).Inc()
	m.seconds.Observe(d.Seconds())
}
