// Package uplink delivers the kiosk's sealed records from the outbox to the
// national node over MQTT 3.1.1 (github.com/eclipse/paho.mqtt.golang, used
// as a transport only) and deletes a record only when the node's signed
// Ack says it is stored.
//
// # What paho does and does not do here
//
// paho's own queue is not trusted (its tokens can complete before delivery,
// its stores resend out of order, a forbidden message blocks its queue
// forever, its file store does not fsync): every connection is a new paho
// client with a clean session, a memory store, no automatic reconnect and
// no connect retry. The outbox is the queue; this package resends.
//
// # Delivery
//
//   - Records are taken from the outbox (Next) in sequence order and
//     published at QoS 1 on rbdes/v1/{cc}/kiosk/{id}/capture, at most
//     Options.InFlight (1..16) awaiting the node's Ack at once, and at most
//     Options.ResumeRate per second during Options.ResumeWindow after each
//     (re)connection so that a slow link is not flooded by the backlog.
//   - An Ack whose signature verifies under one of the node's command keys
//     (Options.AckKeys), whose kiosk id is ours and whose record id and
//     SHA-256 match what was sent settles the record: STORED or DUPLICATE
//     acknowledge it in the outbox; REJECTED moves it to dead letters with
//     the reason and raises an alarm (REJECTED with STORAGE_UNAVAILABLE is
//     transient: the record is sent again). Unsigned, badly signed and
//     mismatched acks are ignored and counted: a broker cannot make the
//     kiosk drop a record.
//   - No Ack within Options.AckTimeout: when the node acknowledged other
//     records sent after this one, this record failed (outbox Fail: it is
//     sent again, and after the outbox's MaxDeliveries it goes to dead
//     letters); when the node acknowledged nothing since, the node (or the
//     path to it) is silent: every record in flight is sent again, nothing
//     is counted against the records, and the alarm "no_ack" is raised
//     until an Ack arrives. A broker that acknowledges and drops what its
//     ACL forbids (mosquitto) shows up this way.
//   - Connection drops: the records in flight are handed out again
//     (outbox Rewind) after reconnecting, in order. To find a record that
//     breaks the connection each time it is sent (mochi closes the
//     connection on a publish its ACL denies; paho would resend it first,
//     forever), the connection after a drop runs with a window of one
//     until every record that was in flight at the drop is settled. A
//     record that is alone in flight across Options.MaxDrops consecutive
//     drops goes to dead letters with the alarm "poison", and the records
//     behind it are delivered.
//   - Reconnects back off exponentially from ReconnectMin to ReconnectMax
//     with jitter, on the injected clock; the backoff starts over after a
//     connection that delivered a record.
//
// # Status and commands
//
// The will (retained, QoS 1) says offline; on every connection a retained
// birth says online with the boot epoch, a connect epoch that grows at
// every connection and survives restarts (so a node can tell a late will
// from a current birth), versions, device health and queue depth; a
// heartbeat with the queue depth and the oldest record's age follows every
// Options.Heartbeat; a clean shutdown publishes a retained offline status.
// Commands on the kiosk's own cmd topic are verified (agent/command:
// signature, expiry, nonce), checked against the allow-list and answered on
// cmd/reply.
//
// paho's callbacks never block: they hand messages and connection events to
// the session goroutine through non-blocking queues.
package uplink
