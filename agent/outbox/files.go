package outbox

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// Names in the outbox directory.
const (
	segSuffix     = ".seg"
	ackLogName    = "acks.log"
	deadName      = "deadletters.log"
	stateName     = "state"
	lockName      = "LOCK"
	quarantineDir = "quarantine"
	tmpSuffix     = ".tmp"
)

func segName(base uint64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

// parseSegName returns the base sequence number a segment file name holds.
func parseSegName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	base, err := strconv.ParseUint(s, 10, 64)
	if err != nil || base == 0 || base >= maxSeq {
		return 0, false
	}
	return base, true
}

// head is a link of the hash chain: a sequence number and the SHA-256 of
// that record's payload.
type head struct {
	seq  uint64
	hash [32]byte
}

// ackLog entry kinds.
const (
	ackKindAck  = 1
	ackKindFail = 2
)

const ackBodySize = 9 // kind u8, seq u64

func ackBody(kind byte, seq uint64) []byte {
	b := make([]byte, ackBodySize)
	b[0] = kind
	binary.LittleEndian.PutUint64(b[1:], seq)
	return b
}

// stateData is the snapshot in the state file: how far every record is
// acknowledged or dead-lettered, what is acknowledged beyond that, failure
// counts, the chain head, and which ack log generation it has absorbed.
type stateData struct {
	doneThrough uint64
	head        head
	ackGen      uint64
	acked       []uint64
	fails       map[uint64]int
}

func (s *stateData) encode() []byte {
	b := make([]byte, 0, 64+8*len(s.acked)+12*len(s.fails))
	b = binary.LittleEndian.AppendUint64(b, s.doneThrough)
	b = binary.LittleEndian.AppendUint64(b, s.head.seq)
	b = append(b, s.head.hash[:]...)
	b = binary.LittleEndian.AppendUint64(b, s.ackGen)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.acked)))
	for _, seq := range s.acked {
		b = binary.LittleEndian.AppendUint64(b, seq)
	}
	seqs := make([]uint64, 0, len(s.fails))
	for seq := range s.fails {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	b = binary.LittleEndian.AppendUint32(b, uint32(len(seqs)))
	for _, seq := range seqs {
		b = binary.LittleEndian.AppendUint64(b, seq)
		b = binary.LittleEndian.AppendUint32(b, uint32(s.fails[seq]))
	}
	return b
}

var errBadState = errors.New("bad state snapshot")

func decodeState(b []byte) (*stateData, error) {
	s := &stateData{fails: map[uint64]int{}}
	if len(b) < 60 {
		return nil, fmt.Errorf("%w: %d bytes", errBadState, len(b))
	}
	s.doneThrough = binary.LittleEndian.Uint64(b)
	s.head.seq = binary.LittleEndian.Uint64(b[8:])
	copy(s.head.hash[:], b[16:48])
	s.ackGen = binary.LittleEndian.Uint64(b[48:])
	n := binary.LittleEndian.Uint32(b[56:])
	b = b[60:]
	if uint64(len(b)) < uint64(n)*8+4 {
		return nil, fmt.Errorf("%w: %d acknowledged entries do not fit", errBadState, n)
	}
	for i := uint32(0); i < n; i++ {
		s.acked = append(s.acked, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	n = binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(len(b)) != uint64(n)*12 {
		return nil, fmt.Errorf("%w: %d failure counts do not fit", errBadState, n)
	}
	for i := uint32(0); i < n; i++ {
		s.fails[binary.LittleEndian.Uint64(b)] = int(binary.LittleEndian.Uint32(b[8:]))
		b = b[12:]
	}
	return s, nil
}

// deadEntry is one dead letter in the dead-letter file.
type deadEntry struct {
	DeadLetter
	off int64 // of the frame
	n   uint32
}

const deadFixed = 18 // seq u64, appended ns i64, reason length u16

func deadBody(seq uint64, appendedNs int64, reason string, payload []byte) []byte {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	b := make([]byte, 0, deadFixed+len(reason)+len(payload))
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(appendedNs))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(reason)))
	b = append(b, reason...)
	return append(b, payload...)
}

// decodeDeadBody splits a dead-letter body; ok is false when it is malformed.
func decodeDeadBody(b []byte) (seq uint64, appendedNs int64, reason string, payload []byte, ok bool) {
	if len(b) < deadFixed {
		return 0, 0, "", nil, false
	}
	seq = binary.LittleEndian.Uint64(b)
	appendedNs = int64(binary.LittleEndian.Uint64(b[8:]))
	n := int(binary.LittleEndian.Uint16(b[16:]))
	if len(b) < deadFixed+n || seq == 0 {
		return 0, 0, "", nil, false
	}
	return seq, appendedNs, string(b[deadFixed : deadFixed+n]), b[deadFixed+n:], true
}

// writeFileAtomic writes a file with a header and one frame: write a
// temporary file, sync it, rename it over name, sync the directory.
func writeFileAtomic(fsys vfs.FS, dir, name string, contents []byte) error {
	tmp := filepath.Join(dir, name+tmpSuffix)
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(contents, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		_ = fsys.Remove(tmp)
	}
	return err
}

// createLogFile creates name in dir holding only a file header, durably,
// and returns it open for writing.
func createLogFile(fsys vfs.FS, dir, name string, h fileHeader) (vfs.File, error) {
	if err := writeFileAtomic(fsys, dir, name, h.encode()); err != nil {
		return nil, err
	}
	return fsys.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
}

// readAll reads a whole file.
func readAll(fsys vfs.FS, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// readBody reads and checks the frame at l: its CRC and seq.
func readBody(f io.ReaderAt, l loc) ([]byte, error) {
	b := make([]byte, frameHeaderSize+int(l.n))
	if n, err := f.ReadAt(b, l.off); n < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	h := decodeFrameHeader(b)
	if h.length != l.n || h.seq != l.seq || frameCRC(b, b[frameHeaderSize:]) != h.crc {
		return nil, errCorruptFrame
	}
	return b[frameHeaderSize:], nil
}

var errCorruptFrame = errors.New("frame fails its CRC or does not match the index")

func sum(b []byte) [32]byte { return sha256.Sum256(b) }
