package vfs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
)

func writeFile(t *testing.T, m *Mem, name string, data []byte, sync bool) File {
	t.Helper()
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("OpenFile(%s) = %v", name, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatalf("WriteAt = %v", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatalf("Sync = %v", err)
		}
	}
	return f
}

func TestMemRestartKeepsOnlySynced(t *testing.T) {
	tests := []struct {
		name              string
		syncFile, syncDir bool
		wantExists        bool
		wantData          string
	}{
		{"nothing synced", false, false, false, ""},
		{"file synced, directory not", true, false, false, ""},
		{"directory synced, file not", false, true, true, ""},
		{"both synced", true, true, true, "hello"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem()
			if err := m.MkdirAll("/d", 0o700); err != nil {
				t.Fatal(err)
			}
			f := writeFile(t, m, "/d/f", []byte("hello"), tc.syncFile)
			defer f.Close()
			if tc.syncDir {
				if err := m.SyncDir("/d"); err != nil {
					t.Fatal(err)
				}
			}
			// A restart keeping none of the unsynced writes: rng whose first
			// IntN(2) is 0 is not guaranteed, so check every outcome is allowed.
			for seed := uint64(0); seed < 20; seed++ {
				r := m.Restart(rand.New(rand.NewPCG(seed, 1)))
				got, err := r.ReadFile("/d/f")
				if exists := err == nil; exists != tc.wantExists {
					t.Fatalf("seed %d: file exists = %v, want %v", seed, exists, tc.wantExists)
				}
				if err != nil {
					continue
				}
				if tc.syncFile && string(got) != tc.wantData {
					t.Errorf("seed %d: data = %q, want %q", seed, got, tc.wantData)
				}
				if !tc.syncFile && !bytes.HasPrefix([]byte("hello"), got) && len(got) > 5 {
					t.Errorf("seed %d: unsynced data = %q, want a torn prefix of hello", seed, got)
				}
			}
		})
	}
}

func TestMemCutAfter(t *testing.T) {
	m := NewMem()
	m.CutAfter(2)
	f, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o600) // op 1
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("a"), 0); err != nil { // op 2
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, ErrPowerCut) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync after the budget = %v, want ErrPowerCut wrapping EIO", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrPowerCut) {
		t.Fatalf("ReadAt after the cut = %v, want ErrPowerCut", err)
	}
}

func TestMemCapacityAndFailSyncs(t *testing.T) {
	m := NewMem()
	m.SetCapacity(10)
	f, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 8), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 8), 8); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteAt past capacity = %v, want ENOSPC", err)
	}
	m.FailSyncs(1)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("second Sync = %v, want nil", err)
	}
}

func TestMemRenameNeedsDirSync(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/a", 0o700); err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, m, "/a/x.tmp", []byte("v2"), true)
	f.Close()
	if err := m.Rename("/a/x.tmp", "/a/x"); err != nil {
		t.Fatal(err)
	}
	r := m.Restart(rand.New(rand.NewPCG(1, 2)))
	if _, err := r.ReadFile("/a/x"); err == nil {
		t.Errorf("renamed file without a directory sync survived a power cut")
	}
	m2 := r
	f = writeFile(t, m2, "/a/x.tmp", []byte("v3"), true)
	f.Close()
	if err := m2.Rename("/a/x.tmp", "/a/x"); err != nil {
		t.Fatal(err)
	}
	if err := m2.SyncDir("/a"); err != nil {
		t.Fatal(err)
	}
	got, err := m2.Restart(rand.New(rand.NewPCG(1, 2))).ReadFile("/a/x")
	if err != nil || string(got) != "v3" {
		t.Errorf("after rename and directory sync: %q, %v; want v3", got, err)
	}
}
