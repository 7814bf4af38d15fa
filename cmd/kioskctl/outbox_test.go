package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/outbox"
)

func runOutboxCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &stdio{out: &out, err: &errb}, args)
	return code, out.String(), errb.String()
}

// makeOutbox writes an outbox with 5 records, 2 of them acknowledged and 1
// dead-lettered, and returns its directory.
func makeOutbox(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "outbox")
	ob, err := outbox.New(dir, &outbox.Options{MaxBytes: 8 << 20, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := ob.Append(ctx, []byte("SECRET-PAYLOAD-"+strings.Repeat("x", 100))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		d, err := ob.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			err = ob.DeadLetter(d.Seq, "node: REJECTED")
		} else {
			err = ob.Ack(d.Seq)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOutboxStatAndVerify(t *testing.T) {
	dir := makeOutbox(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"stat", []string{"outbox", "stat", dir}, 0, []string{"records waiting  2", "dead letters     1", "seq 3", "node: REJECTED", "quarantined      0 files", "last seq 5"}},
		{"verify clean", []string{"outbox", "verify", dir}, 0, []string{"no damage"}},
		{"help", []string{"outbox", "stat", "-h"}, 0, nil},
		{"no dir", []string{"outbox", "verify"}, 2, nil},
		{"missing dir", []string{"outbox", "stat", filepath.Join(dir, "nope")}, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runOutboxCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("kioskctl %v: exit %d, want %d; stderr %s", tc.args, code, tc.wantCode, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("kioskctl %v output lacks %q:\n%s", tc.args, w, out)
				}
			}
			if strings.Contains(out+errOut, "SECRET-PAYLOAD") {
				t.Errorf("kioskctl %v printed a payload", tc.args)
			}
		})
	}
}

func TestOutboxVerifyDamage(t *testing.T) {
	dir := makeOutbox(t)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[72+24+3] ^= 0xff // inside the first record, which whole records follow
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runOutboxCLI(t, "outbox", "verify", dir)
	if code != 1 || !strings.Contains(out, "DAMAGE") || !strings.Contains(errOut, "damaged") {
		t.Fatalf("verify of a damaged outbox: exit %d, want 1 with DAMAGE lines\n%s%s", code, out, errOut)
	}
	code, out, _ = runOutboxCLI(t, "outbox", "stat", "-json", dir)
	var rep outbox.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Records < 1 {
		t.Fatalf("stat -json: exit %d, records %d:\n%s", code, rep.Records, out)
	}
}
