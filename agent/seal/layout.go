package seal

import (
	"encoding/binary"
	"fmt"
	"math"

	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Version is the SealedRecord format version this package writes and reads.
const Version = 1

// Domain-separation prefixes of the byte layouts (see the package comment).
// Each ends in a zero byte so that no prefix is a prefix of another.
const (
	InfoPrefix      = "RBDES-v1-CaptureRecord\x00"
	SignaturePrefix = "RBDES-v1-SealedRecord\x00"
)

// HashSize is the size of a chain link: a SHA-256 digest.
const HashSize = 32

// Layout encoders (see the package comment): u32, u64, i64, bin, str.

func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func appendI64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func appendBin(b, p []byte) []byte {
	b = appendU32(b, uint32(len(p)))
	return append(b, p...)
}

func appendStr(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

// Info returns the HPKE info of a record: InfoPrefix, the version, the kiosk
// id and the record id (see the package comment).
func Info(version uint32, kioskID, recordID string) []byte {
	b := make([]byte, 0, len(InfoPrefix)+12+len(kioskID)+len(recordID))
	b = append(b, InfoPrefix...)
	b = appendU32(b, version)
	b = appendStr(b, kioskID)
	return appendStr(b, recordID)
}

// SignatureInput returns the bytes the device key signs for sr: every field
// but the signature, in the fixed layout of the package comment. It fails
// only when a field is too long to be laid out (4 GiB or more).
func SignatureInput(sr *rbdesv1.SealedRecord) ([]byte, error) {
	n := len(SignaturePrefix) + 4 + 8 + 8 + 8 + 4*3
	for _, f := range [][]byte{sr.GetEnc(), sr.GetCiphertext(), sr.GetPrevHash()} {
		if uint64(len(f)) > math.MaxUint32 {
			return nil, fmt.Errorf("seal: a binary field of record %q is %d bytes, more than the layout's 4 GiB limit", sr.GetRecordId(), len(f))
		}
		n += 4 + len(f)
	}
	for _, s := range []string{sr.GetKioskId(), sr.GetRecordId(), sr.GetNodeKeyId(), sr.GetDeviceKeyId()} {
		if uint64(len(s)) > math.MaxUint32 {
			return nil, fmt.Errorf("seal: a string field of record %q is %d bytes, more than the layout's 4 GiB limit", sr.GetRecordId(), len(s))
		}
		n += 4 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, SignaturePrefix...)
	b = appendU32(b, sr.GetVersion())
	b = appendStr(b, sr.GetKioskId())
	b = appendStr(b, sr.GetRecordId())
	b = appendU64(b, sr.GetSeq())
	b = appendU64(b, sr.GetBootEpoch())
	b = appendI64(b, sr.GetCreatedUnixMs())
	b = appendU32(b, sr.GetKemId())
	b = appendU32(b, sr.GetKdfId())
	b = appendU32(b, sr.GetAeadId())
	b = appendStr(b, sr.GetNodeKeyId())
	b = appendBin(b, sr.GetEnc())
	b = appendBin(b, sr.GetCiphertext())
	b = appendBin(b, sr.GetPrevHash())
	b = appendStr(b, sr.GetDeviceKeyId())
	return b, nil
}
