// Package wire is the MQTT contract of protocol version 1 shared by the
// kiosk's uplink and the national node: topic names and filters, the signed
// Ack (its byte layout, Sign and Verify), and the bounded decoders of the
// messages each side receives from the network (Ack on the kiosk, Status
// and CommandReply on the node).
//
// # Topics
//
// All lowercase, {cc} the ISO 3166-1 alpha-3 code of the national node in
// lowercase, {id} the kiosk id (also its MQTT client id and the CN of its
// client certificate):
//
//	rbdes/v1/{cc}/kiosk/{id}/capture     kiosk to node, QoS 1, SealedRecord
//	rbdes/v1/{cc}/kiosk/{id}/ack         node to kiosk, QoS 1, Ack (signed)
//	rbdes/v1/{cc}/kiosk/{id}/status      kiosk to all, QoS 1, retained, Status
//	rbdes/v1/{cc}/kiosk/{id}/cmd         node to kiosk, QoS 1, Command (signed)
//	rbdes/v1/{cc}/kiosk/{id}/cmd/reply   kiosk to node, QoS 1, CommandReply
//
// Node instances share the capture load with the shared subscription
// $share/{group}/rbdes/v1/{cc}/kiosk/+/capture.
//
// # Ack signature input, version 1
//
// The node signs every Ack with one of its Ed25519 command keys, and the
// kiosk acts on an Ack only when the signature verifies under one of its
// configured command public keys: a compromised broker cannot forge an Ack
// and make a kiosk delete a record the node never stored. Encoding as in
// agent/seal: u32, u64 and i64 big-endian, str and bin a u32 length and the
// bytes; fields in field-number order, each exactly once, zero values
// included; enums as the u32 of their number.
//
//	"RBDES-v1-Ack" 0x00         13 bytes, domain separation
//	str record_id               field 1
//	bin sha256                  field 2
//	u32 status                  field 3
//	u32 reason                  field 4
//	str detail                  field 5
//	str node_id                 field 6
//	i64 stored_unix_ms          field 7
//	u64 seq                     field 8
//	str kiosk_id                field 9
//	str key_id                  field 11
//
// The signature (field 10) is the pure Ed25519 signature (RFC 8032, no
// pre-hash, no context) of that input. The known-answer test in
// ack_test.go holds a hand-written example of the layout and its signature
// under a fixed key, so that another implementation can check itself.
package wire
