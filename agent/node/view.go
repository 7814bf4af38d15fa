package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// KioskView is what the node knows about one kiosk.
type KioskView struct {
	ID string
	// Online is the state of the latest birth, heartbeat, will or shutdown
	// whose connect epoch is not older than any seen before.
	Online       bool
	StatusKind   rbdesv1.StatusKind
	BootEpoch    uint64
	ConnectEpoch uint64
	// LastSeen is when any message of the kiosk last arrived; StatusAt
	// when its state last changed.
	FirstSeen, LastSeen, StatusAt time.Time
	// Records is the number stored; LastSeq the highest sequence number.
	Records int64
	LastSeq uint64
	// Lag is how long the newest record took from sealing at the kiosk to
	// storage here.
	Lag time.Duration
	// LastStored is when the newest record was stored.
	LastStored time.Time
	// QueueDepth, OldestUnacked and DeadLetters are the kiosk's own figures
	// from its latest status.
	QueueDepth    uint64
	OldestUnacked time.Duration
	DeadLetters   uint64
	AgentVersion  string
	Alarms        []string
	// Gaps are the runs of sequence numbers missing from its chain.
	Gaps []nodeverify.Gap
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Kiosks returns the view of every kiosk the node has heard from, sorted
// by id.
func (s *Store) Kiosks(ctx context.Context) ([]KioskView, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kiosk_id, online, status_kind, boot_epoch, connect_epoch, first_seen_ms, last_seen_ms, status_ms,
		records, last_seq, last_created_ms, last_stored_ms, queue_depth, oldest_unacked_age_ms, dead_letters, agent_version, alarms FROM kiosks ORDER BY kiosk_id`)
	if err != nil {
		return nil, fmt.Errorf("node: listing kiosks: %w", err)
	}
	defer rows.Close()
	var out []KioskView
	idx := map[string]int{}
	for rows.Next() {
		var v KioskView
		var online, kind int
		var boot, conn, first, last, statusMs, records, lastSeq, created, stored, depth, oldest, dead int64
		var alarms string
		if err := rows.Scan(&v.ID, &online, &kind, &boot, &conn, &first, &last, &statusMs, &records, &lastSeq, &created, &stored, &depth, &oldest, &dead, &v.AgentVersion, &alarms); err != nil {
			return nil, fmt.Errorf("node: reading kiosks: %w", err)
		}
		v.Online, v.StatusKind = online == 1, rbdesv1.StatusKind(kind)
		v.BootEpoch, v.ConnectEpoch = uint64(boot), uint64(conn)
		v.FirstSeen, v.LastSeen, v.StatusAt = msTime(first), msTime(last), msTime(statusMs)
		v.Records, v.LastSeq = records, uint64(lastSeq)
		if stored > 0 && created > 0 {
			v.Lag = time.Duration(stored-created) * time.Millisecond
		}
		v.LastStored = msTime(stored)
		v.QueueDepth, v.OldestUnacked, v.DeadLetters = uint64(depth), time.Duration(oldest)*time.Millisecond, uint64(dead)
		if alarms != "" {
			v.Alarms = strings.Split(alarms, "\n")
		}
		idx[v.ID] = len(out)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("node: reading kiosks: %w", err)
	}
	gaps, err := s.db.QueryContext(ctx, `SELECT kiosk_id, from_seq, to_seq, open_start FROM chain_gaps ORDER BY kiosk_id, from_seq`)
	if err != nil {
		return nil, fmt.Errorf("node: listing chain gaps: %w", err)
	}
	defer gaps.Close()
	for gaps.Next() {
		var id string
		var from, to int64
		var open int
		if err := gaps.Scan(&id, &from, &to, &open); err != nil {
			return nil, fmt.Errorf("node: reading chain gaps: %w", err)
		}
		if i, ok := idx[id]; ok {
			out[i].Gaps = append(out[i].Gaps, nodeverify.Gap{From: uint64(from), To: uint64(to), Open: open == 1})
		}
	}
	return out, gaps.Err()
}

// StoredRecord is a stored record's identity and chain position.
type StoredRecord struct {
	KioskID  string
	RecordID string
	Seq      uint64
	// Order is the storage order (the primary key).
	Order int64
}

// Records lists the stored records of kiosk (every kiosk when ""), in
// storage order.
func (s *Store) Records(ctx context.Context, kiosk string) ([]StoredRecord, error) {
	q := `SELECT id, kiosk_id, record_id, seq FROM records ORDER BY id`
	var args []any
	if kiosk != "" {
		q = s.d.q(`SELECT id, kiosk_id, record_id, seq FROM records WHERE kiosk_id = ? ORDER BY id`)
		args = append(args, kiosk)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("node: listing records: %w", err)
	}
	defer rows.Close()
	var out []StoredRecord
	for rows.Next() {
		var r StoredRecord
		var seq int64
		if err := rows.Scan(&r.Order, &r.KioskID, &r.RecordID, &seq); err != nil {
			return nil, fmt.Errorf("node: reading records: %w", err)
		}
		r.Seq = uint64(seq)
		out = append(out, r)
	}
	return out, rows.Err()
}

// StoredBy returns, for every stored record in storage order, the id of
// the node instance that stored it.
func (s *Store) StoredBy(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT node_id FROM records ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("node: listing records: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("node: reading records: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
