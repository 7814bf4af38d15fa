package outbox

import (
	"context"
	"errors"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// seedFiles returns the files of a real outbox: two segments (the first
// sealed), the state, the ack log and the dead letters.
func seedFiles(t testing.TB) (seg1, seg2, state, acks, dead []byte) {
	fs := vfs.NewMem()
	opts := testOpts(fs)
	opts.SegmentBytes = 4 << 10
	o, err := New("/ob", opts)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, o, 6, 900)
	ctx := context.Background()
	d, _ := o.Next(ctx)
	o.Ack(d.Seq)
	d, _ = o.Next(ctx)
	o.DeadLetter(d.Seq, "rejected")
	d, _ = o.Next(ctx)
	o.Fail(d.Seq, "timeout")
	// Leave the ack log unsnapshotted: copy the files before Close.
	names, _ := fs.ReadDir("/ob")
	var segs [][]byte
	for _, n := range names {
		b, _ := fs.ReadFile("/ob/" + n)
		switch n {
		case stateName:
			state = b
		case ackLogName:
			acks = b
		case deadName:
			dead = b
		default:
			if _, ok := parseSegName(n); ok {
				segs = append(segs, b)
			}
		}
	}
	o.Close()
	return segs[0], segs[1], state, acks, dead
}

// FuzzScanFrames feeds arbitrary bytes to the frame scanner: it must not
// panic, and what it accepts must be in bounds and in order.
func FuzzScanFrames(f *testing.F) {
	// Seeds built directly (no outbox, no goroutines): a sealed segment, an
	// active one with a torn tail, an ack log.
	h := fileHeader{kind: kindSegment, base: 1}
	seg := h.encode()
	for seq := uint64(1); seq <= 4; seq++ {
		seg = appendFrame(seg, seq, int64(seq), payloadFor(seq, [32]byte{}, 100*int(seq)))
	}
	sealed := appendFrame(append([]byte(nil), seg...), 0, 9, (&footer{count: 4, first: 1, last: 4, dataBytes: uint64(len(seg) - fileHeaderSize)}).body())
	acks := (&fileHeader{kind: kindAckLog, base: 1}).encode()
	acks = appendFrame(acks, 1, 1, ackBody(ackKindAck, 3))
	for _, s := range [][]byte{sealed, seg[:len(seg)-7], acks, nil, make([]byte, 100)} {
		f.Add(s, uint64(0), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, after uint64, footers bool) {
		size := int64(len(data))
		res, err := scanFrames(readerAt(data), min(fileHeaderSize, size), size, after%maxSeq, footers, 1<<20, func(l loc, body []byte) {
			if int64(len(body)) != int64(l.n) {
				t.Fatalf("body of %d bytes for a frame of %d", len(body), l.n)
			}
		})
		if err != nil {
			t.Fatalf("scanFrames over memory = %v", err)
		}
		prev, end := after%maxSeq, min(fileHeaderSize, size)
		for _, l := range res.locs {
			if l.seq <= prev || l.off < end || l.off+frameHeaderSize+int64(l.n) > size {
				t.Fatalf("frame seq %d at %d+%d out of order or bounds (prev %d, end %d, size %d)", l.seq, l.off, l.n, prev, end, size)
			}
			body, err := readBody(readerAt(data), l)
			if err != nil {
				t.Fatalf("accepted frame %d does not read back: %v", l.seq, err)
			}
			_ = body
			prev, end = l.seq, l.off+frameHeaderSize+int64(l.n)
		}
		if res.validEnd > size || res.validEnd+res.tail != size && res.footer == nil {
			t.Fatalf("validEnd %d + tail %d, size %d", res.validEnd, res.tail, size)
		}
		_, _ = readFooter(readerAt(data), size, 1)
		_, _ = decodeFileHeader(data, kindSegment)
		_, _ = parseStateFile(data)
		_, _, _, _, _ = decodeDeadBody(data)
	})
}

// FuzzOpen puts arbitrary bytes in the files of an outbox directory: New
// must succeed without a human, deliver only whole records, keep
// appending, and open again.
func FuzzOpen(f *testing.F) {
	seg1, seg2, state, acks, dead := seedFiles(f)
	f.Add(seg1, seg2, state, acks, dead)
	f.Add(seg1, seg2[:len(seg2)-3], state[:10], acks, dead)
	f.Add(seg1[:100], seg2, []byte{}, []byte{}, []byte{})
	f.Add([]byte{}, []byte("KIOSKOBX"), state, acks, dead[:len(dead)-1])
	f.Fuzz(func(t *testing.T, s1, s2, state, acks, dead []byte) {
		fs := vfs.NewMem()
		files := map[string][]byte{segName(1): s1, segName(5): s2, stateName: state, ackLogName: acks, deadName: dead}
		if err := fs.MkdirAll("/ob", 0o700); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if b != nil {
				if err := fs.WriteFile("/ob/"+name, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		opts := testOpts(fs)
		opts.SegmentBytes = 4 << 10
		for round := 0; round < 2; round++ {
			o, err := New("/ob", opts)
			if err != nil {
				t.Fatalf("round %d: New = %v", round, err)
			}
			var last uint64
			for _, d := range drain(t, o) {
				if d.Seq <= last {
					t.Fatalf("round %d: delivery %d after %d", round, d.Seq, last)
				}
				last = d.Seq
			}
			if _, err := o.Append(context.Background(), []byte("after recovery")); err != nil && !errors.Is(err, ErrFull) {
				t.Fatalf("round %d: Append = %v", round, err)
			}
			_ = o.Stats()
			_ = o.DeadLetters()
			if err := o.Close(); err != nil {
				t.Fatalf("round %d: Close = %v", round, err)
			}
		}
		if _, err := inspect(fs, "/ob", true); err != nil {
			t.Fatalf("inspect = %v", err)
		}
	})
}
