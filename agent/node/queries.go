package node

// The statements of a record transaction, prepared once per store (SQL
// parsing costs more than running them).
const (
	qLinkByID          = `SELECT ` + linkCols + ` FROM records WHERE kiosk_id = ? AND record_id = ?`
	qLinkAt            = `SELECT ` + linkCols + ` FROM records WHERE kiosk_id = ? AND seq = ?`
	qLinkBefore        = `SELECT ` + linkCols + ` FROM records WHERE kiosk_id = ? AND seq < ? ORDER BY seq DESC LIMIT 1`
	qLinkAfter         = `SELECT ` + linkCols + ` FROM records WHERE kiosk_id = ? AND seq > ? ORDER BY seq ASC LIMIT 1`
	qInsertRecord      = `INSERT INTO records (kiosk_id, record_id, seq, boot_epoch, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`
	qInsertRecordWhole = `INSERT INTO records (kiosk_id, record_id, seq, boot_epoch, hash, prev_hash,
		created_ms, captured_ms, stored_ms, node_id, suite, node_key_id, device_key_id, site, session_id, officer_id, policy, agent_version, devices, timings)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	qRecordMetadata = `UPDATE records SET created_ms = ?, captured_ms = ?, stored_ms = ?, node_id = ?, suite = ?, node_key_id = ?, device_key_id = ?,
		site = ?, session_id = ?, officer_id = ?, policy = ?, agent_version = ?, devices = ?, timings = ? WHERE id = ?`
	qInsertTemplate = `INSERT INTO templates (record_pk, idx, position, iso_template, quality, attempts, missing_reason, minutiae, device, duration_ms,
			image_format, image_width, image_height, image_ppi, image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertFace         = `INSERT INTO faces (record_pk, iso_record, quality, accepted, frames, measures, reasons, device, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qRegisterKiosk      = `INSERT INTO kiosks (kiosk_id) VALUES (?) ON CONFLICT (kiosk_id) DO NOTHING`
	qKioskRecordsStored = `UPDATE kiosks SET records = records + ?,
		first_seen_ms = CASE WHEN first_seen_ms = 0 THEN ? ELSE first_seen_ms END,
		last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END,
		last_created_ms = CASE WHEN last_seq < ? THEN ? ELSE last_created_ms END,
		last_stored_ms = CASE WHEN last_seq < ? THEN ? ELSE last_stored_ms END,
		last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END
		WHERE kiosk_id = ?`
	qInsertGap      = `INSERT INTO chain_gaps (kiosk_id, from_seq, to_seq, open_start, found_ms) VALUES (?, ?, ?, ?, ?)`
	qGapContaining  = `SELECT from_seq, to_seq, open_start FROM chain_gaps WHERE kiosk_id = ? AND from_seq <= ? AND to_seq >= ?`
	qDeleteGap      = `DELETE FROM chain_gaps WHERE kiosk_id = ? AND from_seq = ?`
	qInsertGapAfter = `INSERT INTO chain_gaps (kiosk_id, from_seq, to_seq, open_start, found_ms) VALUES (?, ?, ?, 0, ?)`
	qKioskStatus    = `UPDATE kiosks SET online = ?, status_kind = ?, boot_epoch = ?, connect_epoch = ?, status_ms = ?,
		queue_depth = ?, oldest_unacked_age_ms = ?, dead_letters = ?, agent_version = ?, alarms = ?,
		first_seen_ms = CASE WHEN first_seen_ms = 0 THEN ? ELSE first_seen_ms END,
		last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END
		WHERE kiosk_id = ? AND connect_epoch <= ?`
	qKioskSeenOnly = `UPDATE kiosks SET last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END WHERE kiosk_id = ?`
	qKioskSeen     = `UPDATE kiosks SET last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END,
		first_seen_ms = CASE WHEN first_seen_ms = 0 THEN ? ELSE first_seen_ms END WHERE kiosk_id = ?`
)

// txQueries lists them for Store.init.
var txQueries = []string{qLinkByID, qLinkAt, qLinkBefore, qLinkAfter, qInsertRecord, qRecordMetadata, qInsertTemplate, qInsertFace, qRegisterKiosk, qInsertRecordWhole, qKioskRecordsStored, qInsertGap, qGapContaining, qDeleteGap, qInsertGapAfter, qKioskStatus, qKioskSeenOnly, qKioskSeen}
