// Package bundle reads, writes and signs kiosk firmware bundles: the
// signed file that carries a new version of the agent to a kiosk.
//
// A bundle is a payload followed by a fixed 112-byte signature trailer:
//
//	payload   a POSIX ustar archive: manifest.json first, then every file
//	          the manifest lists, in its order, and nothing else
//	trailer   64-byte Ed25519ph signature | 32-byte signer public key |
//	          8-byte big-endian payload length | "KIOSKFW1"
//
// The signature is Ed25519ph (RFC 8032, SHA-512 prehash) over the whole
// payload with the context "rbdes-kiosk-firmware-v1", so a bundle is
// verified in one streaming pass and a byte changed anywhere (payload,
// signature, key, length or magic) makes it invalid. The manifest (version,
// build sequence, board, architecture, minimum previous build, and every
// file's path, mode, size and SHA-256) is checked against the archive
// entries after the signature, and again while files are extracted, so a
// bundle that changes on disk between verification and extraction is
// caught too.
//
// Bundles are reproducible: archive entries have fixed owners (0:0) and the
// manifest's creation time as their modification time, and Ed25519
// signatures are deterministic, so the same inputs and key give the same
// bytes. Because the payload is a plain ustar archive, "tar -tvf" lists a
// bundle (tar stops at the archive's end and ignores the trailer).
//
// This follows the shape of RAUC and SWUpdate (signed metadata that carries
// a hash per image) with a detached-style signature over everything, so
// nothing in the file is outside the signature.
package bundle
