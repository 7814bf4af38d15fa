package nodeverify

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Link is one stored record's place in its kiosk's hash chain.
type Link struct {
	KioskID   string
	RecordID  string
	Seq       uint64
	BootEpoch uint64
	// Hash is the SHA-256 of the record's bytes; Prev is its prev_hash.
	Hash, Prev [seal.HashSize]byte
}

// ChainTx reads and extends one kiosk's chain inside a transaction of the
// node's store. Every method concerns the kiosk the transaction was opened
// for.
type ChainTx interface {
	// ByRecordID returns the stored link with that record id.
	ByRecordID(recordID string) (Link, bool, error)
	// At returns the stored link at sequence number seq.
	At(seq uint64) (Link, bool, error)
	// Before returns the stored link with the greatest seq below seq.
	Before(seq uint64) (Link, bool, error)
	// After returns the stored link with the smallest seq above seq.
	After(seq uint64) (Link, bool, error)
	// Put stores a link; it is visible to other transactions only once the
	// transaction commits.
	Put(l Link) error
}

// ChainStore runs fn in a transaction over one kiosk's chain, committing
// what fn stored when fn returns nil and discarding it otherwise.
// Transactions of the same kiosk must be serializable (one at a time, or
// SERIALIZABLE isolation with retries), because several node instances
// behind a shared subscription may receive one kiosk's records at once.
// The node's record store implements it so that a record and its link
// commit together; MemChain is the in-memory implementation.
//
// In SQL terms the store needs a table of links keyed by (kiosk_id, seq)
// and unique on (kiosk_id, record_id); Before and After are
// "ORDER BY seq DESC/ASC LIMIT 1" queries.
type ChainStore interface {
	Update(ctx context.Context, kioskID string, fn func(tx ChainTx) error) error
}

// Gap is a run of sequence numbers missing from a kiosk's chain, From to
// To inclusive.
type Gap struct {
	From, To uint64
	// Open is set when no earlier record of the kiosk is stored and the
	// record does not start a chain (its prev_hash is not zero), so the
	// run's true beginning is unknown; From is then 0.
	Open bool
}

func (g Gap) String() string {
	if g.Open {
		return fmt.Sprintf("..%d", g.To)
	}
	return fmt.Sprintf("%d..%d", g.From, g.To)
}

// Placement is where an accepted record landed in its chain.
type Placement struct {
	// Duplicate: the same record (same id, same bytes) was stored before;
	// nothing new was stored.
	Duplicate bool
	// Gap, when not nil, is the run of records still missing just before
	// this one (lost, or still on its way: records may arrive out of
	// order).
	Gap *Gap
	// Late: records after this one were already stored, so it filled (part
	// of) a gap.
	Late bool
}

var zeroHash [seal.HashSize]byte

// Place checks l against the stored chain and stores it (tx.Put) when it
// fits: a new record id at a free sequence position whose prev_hash is the
// hash of the stored record just before it (if any) and whose hash is the
// prev_hash of the stored record just after it (if any), with boot epochs
// that never go backwards along the chain. It returns a *Rejection with
// REPLAY when the record id is stored with other bytes and CHAIN_FORK when
// the position conflicts; the same bytes again are a Duplicate. Call it
// only for a record Verifier.Open accepted.
func Place(tx ChainTx, l Link) (Placement, error) {
	const (
		replay = rbdesv1.RejectReason_REJECT_REASON_REPLAY
		fork   = rbdesv1.RejectReason_REJECT_REASON_CHAIN_FORK
	)
	var p Placement
	if e, ok, err := tx.ByRecordID(l.RecordID); err != nil {
		return p, err
	} else if ok {
		if e.Hash == l.Hash {
			p.Duplicate = true
			return p, nil
		}
		return p, reject(replay, nil, "kiosk %s record %s was stored before at seq %d with hash %s; this copy (seq %d) has hash %s", l.KioskID, l.RecordID, e.Seq, short(e.Hash), l.Seq, short(l.Hash))
	}
	if e, ok, err := tx.At(l.Seq); err != nil {
		return p, err
	} else if ok {
		return p, reject(fork, nil, "kiosk %s seq %d already holds record %s (hash %s); record %s claims the same position (cloned kiosk or restored outbox?)", l.KioskID, l.Seq, e.RecordID, short(e.Hash), l.RecordID)
	}
	b, okb, err := tx.Before(l.Seq)
	if err != nil {
		return p, err
	}
	switch {
	case okb && b.BootEpoch > l.BootEpoch:
		return p, reject(fork, nil, "kiosk %s record %s (seq %d) has boot epoch %d, lower than %d of record %s at seq %d before it", l.KioskID, l.RecordID, l.Seq, l.BootEpoch, b.BootEpoch, b.RecordID, b.Seq)
	case okb && b.Seq == l.Seq-1 && b.Hash != l.Prev:
		return p, reject(fork, nil, "kiosk %s record %s (seq %d) names predecessor %s but seq %d holds record %s with hash %s", l.KioskID, l.RecordID, l.Seq, short(l.Prev), b.Seq, b.RecordID, short(b.Hash))
	case okb && b.Seq < l.Seq-1:
		p.Gap = &Gap{From: b.Seq + 1, To: l.Seq - 1}
	case !okb && l.Prev != zeroHash && l.Seq > 0:
		p.Gap = &Gap{To: l.Seq - 1, Open: true}
	}
	a, oka, err := tx.After(l.Seq)
	if err != nil {
		return p, err
	}
	switch {
	case oka && a.BootEpoch < l.BootEpoch:
		return p, reject(fork, nil, "kiosk %s record %s (seq %d) has boot epoch %d, higher than %d of record %s at seq %d after it", l.KioskID, l.RecordID, l.Seq, l.BootEpoch, a.BootEpoch, a.RecordID, a.Seq)
	case oka && a.Seq == l.Seq+1 && a.Prev != l.Hash:
		return p, reject(fork, nil, "kiosk %s record %s at seq %d names predecessor %s, not record %s (seq %d, hash %s)", l.KioskID, a.RecordID, a.Seq, short(a.Prev), l.RecordID, l.Seq, short(l.Hash))
	case oka:
		p.Late = true
	}
	return p, tx.Put(l)
}

func short(h [seal.HashSize]byte) string { return hex.EncodeToString(h[:6]) }

// MemChain is an in-memory ChainStore for tests and the demo. Transactions
// run one at a time.
type MemChain struct {
	mu     sync.Mutex
	kiosks map[string]*memKiosk
}

type memKiosk struct {
	byID  map[string]Link
	links []Link // sorted by Seq
}

// NewMemChain returns an empty MemChain.
func NewMemChain() *MemChain { return &MemChain{kiosks: map[string]*memKiosk{}} }

// Update implements ChainStore.
func (m *MemChain) Update(ctx context.Context, kioskID string, fn func(tx ChainTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.kiosks[kioskID]
	if k == nil {
		k = &memKiosk{byID: map[string]Link{}}
	}
	tx := &memTx{kioskID: kioskID, k: k}
	if err := fn(tx); err != nil {
		return err
	}
	for _, l := range tx.puts {
		k.byID[l.RecordID] = l
		i, _ := slices.BinarySearchFunc(k.links, l.Seq, cmpSeq)
		k.links = slices.Insert(k.links, i, l)
	}
	m.kiosks[kioskID] = k
	return nil
}

// Links returns the stored links of a kiosk in sequence order.
func (m *MemChain) Links(kioskID string) []Link {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k := m.kiosks[kioskID]; k != nil {
		return slices.Clone(k.links)
	}
	return nil
}

// Gaps returns the runs of sequence numbers missing between a kiosk's
// stored records.
func (m *MemChain) Gaps(kioskID string) []Gap {
	m.mu.Lock()
	defer m.mu.Unlock()
	var gaps []Gap
	if k := m.kiosks[kioskID]; k != nil {
		for i := 1; i < len(k.links); i++ {
			if prev, cur := k.links[i-1].Seq, k.links[i].Seq; cur > prev+1 {
				gaps = append(gaps, Gap{From: prev + 1, To: cur - 1})
			}
		}
	}
	return gaps
}

func cmpSeq(l Link, seq uint64) int {
	switch {
	case l.Seq < seq:
		return -1
	case l.Seq > seq:
		return 1
	}
	return 0
}

type memTx struct {
	kioskID string
	k       *memKiosk
	puts    []Link
}

func (t *memTx) ByRecordID(id string) (Link, bool, error) {
	for _, l := range t.puts {
		if l.RecordID == id {
			return l, true, nil
		}
	}
	l, ok := t.k.byID[id]
	return l, ok, nil
}

func (t *memTx) At(seq uint64) (Link, bool, error) {
	for _, l := range t.puts {
		if l.Seq == seq {
			return l, true, nil
		}
	}
	if i, ok := slices.BinarySearchFunc(t.k.links, seq, cmpSeq); ok {
		return t.k.links[i], true, nil
	}
	return Link{}, false, nil
}

func (t *memTx) Before(seq uint64) (Link, bool, error) {
	var best Link
	found := false
	if i, _ := slices.BinarySearchFunc(t.k.links, seq, cmpSeq); i > 0 {
		best, found = t.k.links[i-1], true
	}
	for _, l := range t.puts {
		if l.Seq < seq && (!found || l.Seq > best.Seq) {
			best, found = l, true
		}
	}
	return best, found, nil
}

func (t *memTx) After(seq uint64) (Link, bool, error) {
	var best Link
	found := false
	i, ok := slices.BinarySearchFunc(t.k.links, seq, cmpSeq)
	if ok {
		i++
	}
	if i < len(t.k.links) {
		best, found = t.k.links[i], true
	}
	for _, l := range t.puts {
		if l.Seq > seq && (!found || l.Seq < best.Seq) {
			best, found = l, true
		}
	}
	return best, found, nil
}

func (t *memTx) Put(l Link) error {
	if l.KioskID != t.kioskID {
		return fmt.Errorf("nodeverify: link of kiosk %s put in a transaction of kiosk %s", l.KioskID, t.kioskID)
	}
	if _, ok, _ := t.ByRecordID(l.RecordID); ok {
		return fmt.Errorf("nodeverify: kiosk %s record %s is already stored", l.KioskID, l.RecordID)
	}
	if _, ok, _ := t.At(l.Seq); ok {
		return fmt.Errorf("nodeverify: kiosk %s seq %d is already stored", l.KioskID, l.Seq)
	}
	t.puts = append(t.puts, l)
	return nil
}
