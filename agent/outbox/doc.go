// Package outbox is the kiosk's durable queue of sealed records: a
// crash-safe, bounded segment log between the capture workflow, which may
// tell the officer "saved" only once Append has returned, and the MQTT
// uplink, which delivers the records to the national node and acknowledges
// them once the node has stored them.
//
// # Guarantees
//
//   - Append returns only when the record is on stable storage: written and
//     fsynced (fdatasync), the directory too when the record started a new
//     segment. Concurrent appenders share fsyncs (group commit): one
//     committer goroutine syncs whatever was written while the previous sync
//     ran, after waiting briefly (Options.CommitDelay, at most half the last
//     fsync's time) for the appenders the previous sync released, so with N
//     appenders one fsync saves up to N records. A lone appender costs one
//     fsync per record and never waits.
//   - Every record has a sequence number, 1, 2, 3, ..., that survives
//     restarts, and AppendWith hands the record builder the sequence number
//     and the SHA-256 of the previous payload, so the security layer can sign
//     both into the record (hash chain). The chain head survives even when
//     every record has been delivered and deleted (each segment's header
//     holds the head as it was when the segment started, and the newest
//     segment is never deleted).
//   - The outbox is bounded (Options.MaxBytes). When a record does not fit,
//     or the disk reports ENOSPC, Append fails with ErrFull and nothing is
//     dropped to make room; alarms fire at 50, 80 and 95%.
//   - Opening always succeeds without a human, whatever a crash or a power
//     cut left: a torn tail is cut back to the last whole record; a segment
//     with a damaged record (bad CRC between whole records) is copied to
//     DIR/quarantine and its whole records are still delivered; a segment
//     whose header is unreadable is moved to DIR/quarantine; a missing or
//     inconsistent acknowledgement state is rebuilt from the segments.
//     Every repair is logged and counted in kiosk_outbox_recoveries_total.
//     Opening reads only the footers of sealed segments and the newest
//     segment in full, so its cost does not grow with the size of the outbox
//     (about 0.3 s for 1 GiB in 64 MiB segments with a torn tail, measured
//     on a loaded cloud VM).
//
// # Delivery
//
// One deliverer (the uplink) calls Next to get records in sequence order
// from the oldest unacknowledged one, at most Options.Window at a time, and
// settles each record with one of:
//
//   - Ack(seq): the node stored it. Persisted in the ack log (written before
//     Ack returns, fsynced in the background), so a restart does not send it
//     again; whole segments are deleted once all their records are settled.
//   - Fail(seq, reason): this delivery failed (no acknowledgement in time);
//     the record is handed out again before newer ones. After
//     Options.MaxDeliveries failures, counted across restarts, it moves to
//     dead letters.
//   - DeadLetter(seq, reason): the node rejected it. The payload is copied
//     durably to the dead-letter file, logged and counted; DeadLetters and
//     DeadLetterPayload show it. Dead letters are never deleted by the
//     outbox: they are for a technician.
//
// After a reconnect the uplink calls Rewind: every in-flight record is
// handed out again, in order (delivery is at least once; the node
// deduplicates by record id). Stats reports depth, bytes, the age of the
// oldest unacknowledged record, dead letters, quarantined files and the
// alarm level; the same figures are kiosk_outbox_* metrics.
//
// # Files
//
// DIR holds numbered segment files (NNNNNNNNNNNNNNNNNNNN.seg, named by the
// first sequence number they may hold), acks.log (acknowledgements and
// failures since the last snapshot), state (the snapshot, replaced
// atomically), deadletters.log, quarantine/ and LOCK (an flock held while
// open). Every file starts with a 72-byte header (magic KIOSKOBX, version,
// kind, CRC) and continues with frames:
//
//	u32 length | u32 CRC32C | u64 seq | i64 unix ns | payload
//
// where the CRC covers the payload, then length, seq and time. A sealed segment ends
// with a footer frame (seq 0) counting its records. The payloads are sealed
// records: nothing here ever decrypts or prints them.
//
// The package is tested over internal/vfs.Mem, a filesystem that forgets
// everything not synced at a simulated power cut and tears the last write,
// with hundreds of cuts at random operations (including during recovery);
// and by internal/soak, which SIGKILLs a real appending process at random
// moments (make soak-outbox).
package outbox
