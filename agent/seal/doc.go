// Package seal turns a plaintext CaptureRecord into the SealedRecord the
// outbox stores and the uplink publishes, and holds the byte layouts a
// national node (this repository's agent/nodeverify, or another
// implementation) needs to check one.
//
// A sealed record is made in three steps, by Sealer.Seal:
//
//  1. The CaptureRecord is serialized (deterministic protobuf) into a buffer
//     that is cleared as soon as it is encrypted.
//  2. The buffer is encrypted with HPKE (RFC 9180, base mode, Go's
//     crypto/hpke) to the national node's current public key. The default
//     suite is KEM MLKEM768-X25519 (0x647A, draft-ietf-hpke-pq, "X-Wing"),
//     KDF HKDF-SHA256 (0x0001), AEAD AES-256-GCM (0x0002); the classic suite
//     DHKEM(X25519, HKDF-SHA256) (0x0020) with the same KDF and AEAD is
//     selectable. The HPKE info binds the ciphertext to the protocol
//     version, the kiosk id and the record id (layout below); the AAD is
//     empty.
//  3. Every field of the SealedRecord but the signature is laid out in the
//     fixed byte layout below and signed with the kiosk's Ed25519 device key
//     (pure Ed25519, RFC 8032, no pre-hash, no context).
//
// The hash chain: prev_hash of a record is the SHA-256 of the previous
// SealedRecord of the same kiosk exactly as serialized, stored and
// published (32 zero bytes for the first record of a chain). The outbox
// supplies it (agent/outbox AppendWith); the node hashes the bytes it
// receives the same way and echoes the hash in its Ack.
//
// # Encoding rules
//
// u32 and u64 are big-endian unsigned integers of 4 and 8 bytes; i64 is a
// big-endian two's-complement integer of 8 bytes; u8 is one byte; str and
// bin are a u32 byte length followed by that many bytes (UTF-8 for str).
// Fields appear in protobuf field-number order, each exactly once, zero
// values included (an empty string is the length 0).
//
// # HPKE info, version 1
//
//	"RBDES-v1-CaptureRecord" 0x00   23 bytes, domain separation
//	u32 version                     SealedRecord.version (1)
//	str kiosk_id
//	str record_id
//
// # Signature input, version 1
//
//	"RBDES-v1-SealedRecord" 0x00    22 bytes, domain separation
//	u32 version                     field 1
//	str kiosk_id                    field 2
//	str record_id                   field 3
//	u64 seq                         field 4
//	u64 boot_epoch                  field 5
//	i64 created_unix_ms             field 6
//	u32 kem_id                      field 7
//	u32 kdf_id                      field 8
//	u32 aead_id                     field 9
//	str node_key_id                 field 10
//	bin enc                         field 11
//	bin ciphertext                  field 12
//	bin prev_hash                   field 13
//	str device_key_id               field 14
//
// The signature (field 15) is the 64-byte Ed25519 signature of that input.
// The known-answer tests in this package hold hand-written examples of both
// layouts and a signature (layout_test.go), and, in testdata/kat.json, a
// complete sealed record of each suite with the keys that open it, so that
// another implementation can check itself. testdata/kat_x25519.py opens the
// x25519 vector with an independent RFC 9180 implementation in Python.
//
// # Canonical encoding
//
// The chain hash is taken over the serialized bytes, so a node accepts a
// SealedRecord only in its canonical protobuf encoding: fields in ascending
// field-number order, each at most once, zero values omitted, minimal
// varints, no unknown fields. That is what Go's proto.Marshal produces for
// this message; it stops a relay from re-encoding a record into different
// bytes that still verify (which would break the chain). Parse enforces it.
//
// # What this package does not do
//
// Go cannot guarantee that no copy of a secret survives in memory: the
// protobuf encoder, the AEAD and the garbage collector may leave copies
// that Sealer cannot reach, and strings cannot be cleared at all. Seal
// clears the one plaintext buffer it owns; Wipe clears the byte fields of
// a CaptureRecord (templates, images) when its owner is done with it.
// Hardware key storage (TPM, secure element) is not used yet.
package seal
