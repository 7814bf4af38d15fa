package outbox

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// filled returns a Mem holding a closed outbox with n records of size bytes.
func filled(t *testing.T, n, size int) *vfs.Mem {
	t.Helper()
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs))
	appendN(t, o, n, size)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return fs
}

func mutate(t *testing.T, fs *vfs.Mem, name string, f func([]byte) []byte) {
	t.Helper()
	b, err := fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFile(name, f(b)); err != nil {
		t.Fatal(err)
	}
}

func seqsOf(ds []Delivery) []uint64 {
	var out []uint64
	for _, d := range ds {
		out = append(out, d.Seq)
	}
	return out
}

func TestRecovery(t *testing.T) {
	const n, size = 30, 900 // 8 KiB segments: about 8 records each
	tests := []struct {
		name string
		// damage changes the files of a closed outbox of records 1..n.
		damage func(t *testing.T, fs *vfs.Mem, segs []string)
		// want: records delivered, files in quarantine, records found lost,
		// and the recovery counted.
		wantRecords     int
		wantQuarantined int
		wantLost        int64
		wantRecovery    string
	}{
		{"clean", func(*testing.T, *vfs.Mem, []string) {}, n, 0, 0, ""},
		{"torn tail: half a frame", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, segs[len(segs)-1], func(b []byte) []byte {
				return append(b, appendFrame(nil, n+1, 1, make([]byte, 500))[:300]...)
			})
		}, n, 0, 0, "torn_tail"},
		{"torn tail: zeros", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, segs[len(segs)-1], func(b []byte) []byte { return append(b, make([]byte, 4096)...) })
		}, n, 0, 0, "torn_tail"},
		{"torn tail: last record scrambled", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, segs[len(segs)-1], func(b []byte) []byte { b[len(b)-10] ^= 0xff; return b })
		}, n - 1, 0, 0, "torn_tail"},
		{"bit flip inside a sealed segment", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, segs[1], func(b []byte) []byte { b[fileHeaderSize+frameHeaderSize+5] ^= 1; return b })
		}, n - 1, 1, 1, "damaged_segment"},
		{"bit flip inside the active segment", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, segs[len(segs)-1], func(b []byte) []byte { b[fileHeaderSize+frameHeaderSize+5] ^= 1; return b })
		}, n - 1, 1, 0, "damaged_segment"},
		{"segment header destroyed", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, segs[0], func(b []byte) []byte { copy(b, "garbage!"); return b })
		}, -1, 1, 0, "quarantined"},
		{"state missing", func(t *testing.T, fs *vfs.Mem, segs []string) {
			if err := fs.Remove("/ob/state"); err != nil {
				t.Fatal(err)
			}
		}, n, 0, 0, "state_rebuilt"},
		{"state scrambled", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, "/ob/state", func(b []byte) []byte { b[len(b)-1] ^= 0x55; return b })
		}, n, 0, 0, "state_rebuilt"},
		{"ack log header destroyed", func(t *testing.T, fs *vfs.Mem, segs []string) {
			mutate(t, fs, "/ob/acks.log", func(b []byte) []byte { return bytes.Repeat([]byte{0xAA}, len(b)) })
		}, n, 0, 0, "ack_log_damaged"},
		{"leftover temporary file", func(t *testing.T, fs *vfs.Mem, segs []string) {
			if err := fs.WriteFile("/ob/state.tmp", []byte("half")); err != nil {
				t.Fatal(err)
			}
		}, n, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := filled(t, n, size)
			segs := segFiles(t, fs, "/ob")
			if len(segs) < 3 {
				t.Fatalf("want at least 3 segments, have %d", len(segs))
			}
			tc.damage(t, fs, segs)
			o := mustNew(t, "/ob", testOpts(fs))
			defer o.Close()
			ds := drain(t, o)
			for _, d := range ds {
				if seq, _, err := checkPayload(d.Payload); err != nil || seq != d.Seq {
					t.Fatalf("record %d damaged: %v", d.Seq, err)
				}
			}
			if tc.wantRecords >= 0 && len(ds) != tc.wantRecords {
				t.Errorf("records delivered = %d (%v), want %d", len(ds), seqsOf(ds), tc.wantRecords)
			}
			st := o.Stats()
			if st.Quarantined != tc.wantQuarantined || st.Lost != tc.wantLost {
				t.Errorf("Quarantined %d Lost %d, want %d %d", st.Quarantined, st.Lost, tc.wantQuarantined, tc.wantLost)
			}
			if tc.wantRecovery != "" {
				if got := testutil.ToFloat64(o.m.recoveries.WithLabelValues(tc.wantRecovery)); got < 1 {
					t.Errorf("recoveries{kind=%s} = %v, want >= 1", tc.wantRecovery, got)
				}
			}
			// The outbox goes on: append, deliver, and a second open finds
			// nothing more to repair.
			seq, err := o.Append(context.Background(), payloadFor(0, [32]byte{}, 100))
			if err != nil {
				t.Fatalf("Append after recovery = %v", err)
			}
			if seq <= uint64(n)-1 {
				t.Errorf("seq after recovery = %d, want > %d", seq, n-1)
			}
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := inspect(fs, "/ob", true)
			if err != nil {
				t.Fatal(err)
			}
			inQuarantine := map[string]bool{quarantineDir: true}
			for _, q := range rep.Quarantined {
				inQuarantine[q] = true
			}
			for _, p := range rep.Problems {
				if p.Damage && !inQuarantine[p.File] {
					t.Errorf("after recovery: %v", p)
				}
			}
		})
	}
}

func TestOpenTornTailNeedsNoScanOfSealedSegments(t *testing.T) {
	fs := filled(t, 60, 900)
	segs := segFiles(t, fs, "/ob")
	// Scramble the middle of a sealed segment: opening must not notice
	// (sealed segments are not read at open), delivery must.
	mutate(t, fs, segs[2], func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b })
	o := mustNew(t, "/ob", testOpts(fs))
	defer o.Close()
	if q := o.Stats().Quarantined; q != 0 {
		t.Errorf("Quarantined right after open = %d, want 0 (sealed segments are not read)", q)
	}
	ds := drain(t, o)
	if st := o.Stats(); st.Quarantined != 1 || st.Lost < 1 || int64(len(ds))+st.Lost != 60 {
		t.Errorf("after delivery: %d delivered, Quarantined %d, Lost %d; want 1 quarantined and delivered+lost = 60",
			len(ds), st.Quarantined, st.Lost)
	}
	q, _ := fs.ReadDir(filepath.Join("/ob", quarantineDir))
	if len(q) != 1 || q[0] != filepath.Base(segs[2]) {
		t.Errorf("quarantine holds %v, want %s", q, filepath.Base(segs[2]))
	}
}
