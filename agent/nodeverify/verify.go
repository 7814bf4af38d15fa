// Package nodeverify is the national node's side of the sealed-record
// protocol: the registry of kiosks (id, device signing keys with an overlap
// window for rotation, certificate, status), verify-then-open of a
// published SealedRecord with a precise rejection reason for every way it
// can fail, and the per-kiosk hash chain that detects gaps, forks and
// replays.
//
// The checks run in a fixed order, cheapest and least trusting first, and
// the first failure decides the reason (proto rbdes.v1 RejectReason):
//
//  1. size and form: canonical protobuf, no unknown fields, well-formed ids
//     and lengths (MALFORMED);
//  2. version (UNSUPPORTED_VERSION), then HPKE suite (UNSUPPORTED_SUITE);
//  3. the kiosk: the record's kiosk id is the publisher's (KIOSK_MISMATCH),
//     registered (UNKNOWN_KIOSK), not revoked (REVOKED_KIOSK);
//  4. the device key: known and inside its window (UNKNOWN_DEVICE_KEY);
//  5. the Ed25519 signature over every field (BAD_SIGNATURE);
//  6. the node key the record names (UNKNOWN_NODE_KEY), then HPKE open
//     (DECRYPT_FAILED), which also fails when the ciphertext was moved to
//     another kiosk id or record id, since the HPKE info binds both;
//  7. the plaintext: a CaptureRecord whose ids match the header
//     (INVALID_RECORD);
//  8. the chain, inside the store's transaction: same record id with other
//     bytes (REPLAY), a sequence position or predecessor link that
//     conflicts with a stored record (CHAIN_FORK). The same bytes again are
//     a DUPLICATE, acknowledged and not stored twice.
//
// Nothing is decrypted before the signature verifies. Verifier.Open does
// steps 1-7 and needs no storage; Place does step 8 over a ChainTx; and
// Verifier.Receive does all of it and yields the Ack to publish.
package nodeverify

import (
	"crypto/hpke"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Rejection is why the node refuses a record. Detail names ids, sequence
// numbers and keys, never biometric data.
type Rejection struct {
	Reason rbdesv1.RejectReason
	Detail string
	// Err is the underlying error, when there is one.
	Err error
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("nodeverify: record rejected (%s): %s", reasonName(r.Reason), r.Detail)
}

// Unwrap returns the underlying error.
func (r *Rejection) Unwrap() error { return r.Err }

// ReasonOf returns the rejection reason of err, or UNSPECIFIED when err is
// not a *Rejection.
func ReasonOf(err error) rbdesv1.RejectReason {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return rbdesv1.RejectReason_REJECT_REASON_UNSPECIFIED
}

func reject(reason rbdesv1.RejectReason, err error, format string, args ...any) *Rejection {
	return &Rejection{Reason: reason, Detail: fmt.Sprintf(format, args...), Err: err}
}

func reasonName(r rbdesv1.RejectReason) string {
	if n, ok := rbdesv1.RejectReason_name[int32(r)]; ok {
		return n
	}
	return fmt.Sprintf("REJECT_REASON_%d", r)
}

// Opened is a record that verified and decrypted.
type Opened struct {
	// Sealed is the record as received (its Ciphertext stays sealed).
	Sealed *rbdesv1.SealedRecord
	// Record is the decrypted CaptureRecord. The caller owns it and should
	// seal.Wipe it when stored.
	Record *rbdesv1.CaptureRecord
	// Hash is the SHA-256 of the received bytes: the chain link and the
	// hash the Ack echoes.
	Hash [seal.HashSize]byte
	// Suite is the HPKE suite the record was sealed with.
	Suite seal.Suite
}

// Link returns the record's place in its kiosk's chain.
func (o *Opened) Link() Link {
	l := Link{
		KioskID:   o.Sealed.GetKioskId(),
		RecordID:  o.Sealed.GetRecordId(),
		Seq:       o.Sealed.GetSeq(),
		BootEpoch: o.Sealed.GetBootEpoch(),
		Hash:      o.Hash,
	}
	copy(l.Prev[:], o.Sealed.GetPrevHash())
	return l
}

// Options tune a Verifier.
type Options struct {
	// Clock decides whether a device key's overlap window has ended; nil
	// means clock.Real().
	Clock clock.Clock
	// MaxRecordBytes refuses larger payloads as MALFORMED before any
	// decoding; 0 means seal.MaxSealedBytes.
	MaxRecordBytes int
	// Registerer receives rbdes_node_verify_* metrics; nil means none.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{Clock: clock.Real(), MaxRecordBytes: seal.MaxSealedBytes}
}

// Verifier checks and opens sealed records. It is safe for concurrent use.
type Verifier struct {
	dir      Directory
	openKeys map[string]hpke.PrivateKey
	clk      clock.Clock
	maxBytes int
	metrics  *verifyMetrics
}

// New returns a Verifier that looks kiosks up in dir and opens records
// with openKeys (node key id to HPKE private key; agent/keys LoadNode reads
// them).
func New(dir Directory, openKeys map[string]hpke.PrivateKey, opts *Options) (*Verifier, error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	if dir == nil {
		return nil, errors.New("nodeverify: New needs a kiosk directory (a *Registry)")
	}
	if len(openKeys) == 0 {
		return nil, errors.New("nodeverify: New needs at least one node private key to open records with (keys.node_keys)")
	}
	keys := make(map[string]hpke.PrivateKey, len(openKeys))
	for id, k := range openKeys {
		if !seal.ValidKeyID(id) || k == nil {
			return nil, fmt.Errorf("nodeverify: node key %q is not usable (bad id or nil key)", id)
		}
		if _, err := seal.SuiteForKEM(k.KEM().ID()); err != nil {
			return nil, fmt.Errorf("nodeverify: node key %s: %w", id, err)
		}
		keys[id] = k
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real()
	}
	maxBytes := opts.MaxRecordBytes
	if maxBytes <= 0 || maxBytes > seal.MaxSealedBytes {
		maxBytes = seal.MaxSealedBytes
	}
	m, err := newVerifyMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Verifier{dir: dir, openKeys: keys, clk: clk, maxBytes: maxBytes, metrics: m}, nil
}

// Open verifies and decrypts one published SealedRecord (checks 1-7 of the
// package comment). publisher is the kiosk id the transport vouches for
// (from the MQTT topic, which the broker's ACL ties to the client
// certificate's CN), or "" to skip that check. A refusal is a *Rejection.
func (v *Verifier) Open(publisher string, payload []byte) (*Opened, error) {
	start := v.clk.Now()
	o, _, err := v.open(publisher, payload, sha256.Sum256(payload))
	v.metrics.observe(err, v.clk.Since(start))
	return o, err
}

// open returns the opened record, or the rejection and the parsed header
// when the payload got that far.
func (v *Verifier) open(publisher string, payload []byte, hash [seal.HashSize]byte) (*Opened, *rbdesv1.SealedRecord, error) {
	const (
		malformed   = rbdesv1.RejectReason_REJECT_REASON_MALFORMED
		badVersion  = rbdesv1.RejectReason_REJECT_REASON_UNSUPPORTED_VERSION
		badSuite    = rbdesv1.RejectReason_REJECT_REASON_UNSUPPORTED_SUITE
		unknown     = rbdesv1.RejectReason_REJECT_REASON_UNKNOWN_KIOSK
		revoked     = rbdesv1.RejectReason_REJECT_REASON_REVOKED_KIOSK
		mismatch    = rbdesv1.RejectReason_REJECT_REASON_KIOSK_MISMATCH
		unknownDev  = rbdesv1.RejectReason_REJECT_REASON_UNKNOWN_DEVICE_KEY
		badSig      = rbdesv1.RejectReason_REJECT_REASON_BAD_SIGNATURE
		unknownNode = rbdesv1.RejectReason_REJECT_REASON_UNKNOWN_NODE_KEY
		decrypt     = rbdesv1.RejectReason_REJECT_REASON_DECRYPT_FAILED
		invalid     = rbdesv1.RejectReason_REJECT_REASON_INVALID_RECORD
	)
	if len(payload) > v.maxBytes {
		return nil, nil, reject(malformed, nil, "payload of %d bytes exceeds the node's limit of %d", len(payload), v.maxBytes)
	}
	sr, err := seal.Parse(payload)
	if err != nil {
		return nil, nil, reject(malformed, err, "%v", err)
	}
	id := sr.GetRecordId()
	if sr.GetVersion() != seal.Version {
		return nil, sr, reject(badVersion, nil, "record %s has format version %d; this node reads version %d", id, sr.GetVersion(), seal.Version)
	}
	suite, err := seal.RecordSuite(sr)
	if err != nil {
		return nil, sr, reject(badSuite, err, "%v", err)
	}
	kid := sr.GetKioskId()
	if publisher != "" && publisher != kid {
		return nil, sr, reject(mismatch, nil, "record %s names kiosk %s but was published by kiosk %s", id, kid, publisher)
	}
	k, ok := v.dir.Kiosk(kid)
	if !ok {
		return nil, sr, reject(unknown, nil, "kiosk %s is not in the node's registry (register its device public key)", kid)
	}
	if k.Status != StatusActive {
		return nil, sr, reject(revoked, nil, "kiosk %s is %s", kid, k.Status)
	}
	dk, ok := k.DeviceKey(sr.GetDeviceKeyId())
	if !ok {
		return nil, sr, reject(unknownDev, nil, "kiosk %s has no device key %s in the registry", kid, sr.GetDeviceKeyId())
	}
	created := time.UnixMilli(sr.GetCreatedUnixMs())
	if !dk.RetiredAt.IsZero() && created.After(dk.RetiredAt) {
		return nil, sr, reject(unknownDev, nil, "record %s was created at %s, after kiosk %s retired device key %s at %s", id, created.UTC().Format(time.RFC3339), kid, dk.ID, dk.RetiredAt.UTC().Format(time.RFC3339))
	}
	if now := v.clk.Now(); !dk.AcceptUntil.IsZero() && now.After(dk.AcceptUntil) {
		return nil, sr, reject(unknownDev, nil, "the overlap window of kiosk %s device key %s ended at %s", kid, dk.ID, dk.AcceptUntil.UTC().Format(time.RFC3339))
	}
	if err := seal.VerifySignature(sr, dk.Public); err != nil {
		return nil, sr, reject(badSig, err, "record %s: signature does not verify under kiosk %s device key %s", id, kid, dk.ID)
	}
	nk, ok := v.openKeys[sr.GetNodeKeyId()]
	if !ok {
		return nil, sr, reject(unknownNode, nil, "record %s is sealed to node key %s, which this node does not hold", id, sr.GetNodeKeyId())
	}
	if nk.KEM().ID() != suite.KEM {
		return nil, sr, reject(unknownNode, nil, "record %s is sealed with %s but node key %s is a %s key", id, seal.KEMName(suite.KEM), sr.GetNodeKeyId(), seal.KEMName(nk.KEM().ID()))
	}
	plain, err := seal.Open(sr, nk)
	if err != nil {
		return nil, sr, reject(decrypt, err, "record %s from kiosk %s does not decrypt with node key %s", id, kid, sr.GetNodeKeyId())
	}
	rec := &rbdesv1.CaptureRecord{}
	err = proto.Unmarshal(plain, rec)
	clear(plain)
	if err != nil {
		return nil, sr, reject(invalid, err, "record %s from kiosk %s decrypts to bytes that are not a CaptureRecord", id, kid)
	}
	if rec.GetRecordId() != id || rec.GetKioskId() != kid {
		seal.Wipe(rec)
		return nil, sr, reject(invalid, nil, "record %s from kiosk %s holds a CaptureRecord of record %q, kiosk %q", id, kid, rec.GetRecordId(), rec.GetKioskId())
	}
	return &Opened{Sealed: sr, Record: rec, Hash: hash, Suite: suite}, sr, nil
}

type verifyMetrics struct {
	results *prometheus.CounterVec
	seconds prometheus.Histogram
}

func newVerifyMetrics(reg prometheus.Registerer) (*verifyMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &verifyMetrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rbdes_node_verify_total",
			Help: "Sealed records checked, by result: ok or the rejection reason.",
		}, []string{"result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rbdes_node_verify_duration_seconds",
			Help:    "Time to verify and open one sealed record.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
	}
	for _, c := range []prometheus.Collector{m.results, m.seconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("nodeverify: cannot register metrics (two verifiers on one registry?): %w", err)
		}
	}
	return m, nil
}

func (m *verifyMetrics) observe(err error, d time.Duration) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = reasonName(ReasonOf(err))
	}
	m.results.WithLabelValues(result).Inc()
	m.seconds.Observe(d.Seconds())
}
