package bundle

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// testKey derives a fixed key from seed, so tests are reproducible.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func testManifest() Manifest {
	return Manifest{
		Version:     "v1.2.0-3-gabcdef0",
		Sequence:    42,
		MinPrevious: 40,
		Commit:      "abcdef0123456789abcdef0123456789abcdef01",
		Board:       "rpi4",
		Arch:        "arm64",
		Created:     time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func testFiles() []Input {
	return []Input{
		{Path: "bin/kioskd", Mode: 0o755, Data: bytes.Repeat([]byte("ELF kioskd "), 60)},
		{Path: "systemd/kioskd.service", Mode: 0o644, Data: []byte("[Service]\nType=notify\n")},
		{Path: "config/kioskd.yaml", Mode: 0o644, Data: []byte("kiosk: {id: x}\n")},
		{Path: "empty", Mode: 0o644, Data: nil},
	}
}

func build(t *testing.T, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Write(&buf, testManifest(), testFiles(), key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	key := testKey(1)
	data := build(t, key)
	b, err := Open(bytes.NewReader(data), int64(len(data)), []ed25519.PublicKey{testKey(9).Public().(ed25519.PublicKey), key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if !b.Trusted || b.KeyID() != KeyID(key.Public().(ed25519.PublicKey)) {
		t.Errorf("Open: trusted %v key %s, want trusted by %s", b.Trusted, b.KeyID(), KeyID(key.Public().(ed25519.PublicKey)))
	}
	m := b.Manifest
	if m.Board != "rpi4" || m.Sequence != 42 || m.MinPrevious != 40 || len(m.Files) != 4 {
		t.Errorf("manifest = %+v", m)
	}
	want := testFiles()
	i := 0
	err = b.Files(func(f File, r io.Reader) error {
		got, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if f.Path != want[i].Path || !bytes.Equal(got, want[i].Data) || f.Mode != Mode(want[i].Mode) {
			t.Errorf("file %d = %s %o (%d bytes), want %s %o (%d bytes)", i, f.Path, f.Mode, len(got), want[i].Path, want[i].Mode, len(want[i].Data))
		}
		i++
		return nil
	})
	if err != nil || i != len(want) {
		t.Errorf("Files = %v after %d files, want nil after %d", err, i, len(want))
	}
}

func TestReproducible(t *testing.T) {
	a, b := build(t, testKey(1)), build(t, testKey(1))
	if !bytes.Equal(a, b) {
		t.Fatalf("two builds of the same input and key differ (%d and %d bytes)", len(a), len(b))
	}
	if c := build(t, testKey(2)); bytes.Equal(a, c) {
		t.Errorf("builds with different keys are identical")
	}
}

// TestEveryByteFlipRejected flips each byte of a bundle in turn (one bit,
// then all bits) and wants every result rejected.
func TestEveryByteFlipRejected(t *testing.T) {
	key := testKey(1)
	data := build(t, key)
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	for _, flip := range []struct {
		mask   byte
		stride int
	}{{0x01, 1}, {0xff, 31}} {
		mask, stride := flip.mask, flip.stride
		if testing.Short() {
			stride *= 7 // under qemu and -short: a sample
		}
		for i := 0; i < len(data); i += stride {
			bad := bytes.Clone(data)
			bad[i] ^= mask
			if _, err := Open(bytes.NewReader(bad), int64(len(bad)), trusted); err == nil {
				t.Fatalf("byte %d of %d xor %#x: Open accepted the damaged bundle", i, len(data), mask)
			}
		}
	}
}

func TestOpenRejects(t *testing.T) {
	key := testKey(1)
	data := build(t, key)
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	other := build(t, testKey(2))
	tests := []struct {
		name    string
		data    []byte
		trusted []ed25519.PublicKey
		want    error
	}{
		{"untrusted signer", other, trusted, ErrUntrusted},
		{"no trusted keys", data, nil, ErrUntrusted},
		{"truncated by one byte", data[:len(data)-1], trusted, ErrFormat},
		{"trailer cut off", data[:len(data)-trailerSize], trusted, ErrFormat},
		{"empty", nil, trusted, ErrFormat},
		{"appended byte", append(bytes.Clone(data), 0), trusted, ErrFormat},
		{"payload flipped", flip(data, 700), trusted, ErrSignature},
		{"signature flipped", flip(data, len(data)-trailerSize+3), trusted, ErrSignature},
		{"key flipped", flip(data, len(data)-trailerSize+70), trusted, ErrUntrusted},
		{"length flipped", flip(data, len(data)-12), trusted, ErrFormat},
		{"magic flipped", flip(data, len(data)-1), trusted, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(tt.data), int64(len(tt.data)), tt.trusted)
			if !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

func flip(data []byte, i int) []byte {
	b := bytes.Clone(data)
	b[i] ^= 0x20
	return b
}

func TestInspectShowsUntrustedSigner(t *testing.T) {
	data := build(t, testKey(3))
	b, err := Inspect(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Inspect = %v", err)
	}
	if b.Trusted || b.KeyID() != KeyID(testKey(3).Public().(ed25519.PublicKey)) {
		t.Errorf("Inspect: trusted %v key %s", b.Trusted, b.KeyID())
	}
	if _, err := Inspect(bytes.NewReader(flip(data, 600)), int64(len(data))); !errors.Is(err, ErrSignature) {
		t.Errorf("Inspect of a damaged bundle = %v, want ErrSignature", err)
	}
}

func TestSignReplacesSignature(t *testing.T) {
	dev, release := testKey(1), testKey(2)
	data := build(t, dev)
	var out bytes.Buffer
	if _, err := Sign(&out, bytes.NewReader(data), int64(len(data)), release); err != nil {
		t.Fatalf("Sign = %v", err)
	}
	re := out.Bytes()
	if _, err := Open(bytes.NewReader(re), int64(len(re)), []ed25519.PublicKey{release.Public().(ed25519.PublicKey)}); err != nil {
		t.Errorf("re-signed bundle: Open with the release key = %v", err)
	}
	if _, err := Open(bytes.NewReader(re), int64(len(re)), []ed25519.PublicKey{dev.Public().(ed25519.PublicKey)}); !errors.Is(err, ErrUntrusted) {
		t.Errorf("re-signed bundle: Open with the old key = %v, want ErrUntrusted", err)
	}
	if !bytes.Equal(re, build(t, release)) {
		t.Errorf("re-signing differs from signing with the release key directly")
	}
	// An unsigned payload can be signed too.
	var payload bytes.Buffer
	if _, err := WritePayload(&payload, testManifest(), testFiles()); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := Sign(&out, bytes.NewReader(payload.Bytes()), int64(payload.Len()), release); err != nil {
		t.Fatalf("Sign(payload) = %v", err)
	}
	if !bytes.Equal(out.Bytes(), re) {
		t.Errorf("signing the bare payload differs from re-signing the bundle")
	}
}

// changingReader serves first until changed is set and later afterwards,
// like a bundle file replaced between verification and extraction.
type changingReader struct {
	first, later []byte
	changed      bool
}

func (c *changingReader) ReadAt(p []byte, off int64) (int, error) {
	src := c.first
	if c.changed {
		src = c.later
	}
	if off >= int64(len(src)) {
		return 0, io.EOF
	}
	n := copy(p, src[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestFilesDetectsChangeAfterOpen(t *testing.T) {
	key := testKey(1)
	data := build(t, key)
	later := bytes.Clone(data)
	later[2100] ^= 1 // inside bin/kioskd's content
	r := &changingReader{first: data, later: later}
	b, err := Open(r, int64(len(data)), []ed25519.PublicKey{key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	r.changed = true
	err = b.Files(func(File, io.Reader) error { return nil })
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("Files on a bundle changed after Open = %v, want a SHA-256 ErrFormat", err)
	}
}

func TestWriteRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Manifest)
		files []Input
		want  string
	}{
		{"dot-dot path", nil, []Input{{Path: "../etc/passwd", Mode: 0o644}}, "path"},
		{"absolute path", nil, []Input{{Path: "/bin/sh", Mode: 0o644}}, "path"},
		{"manifest name", nil, []Input{{Path: "manifest.json", Mode: 0o644}}, "reserved"},
		{"setuid mode", nil, []Input{{Path: "bin/x", Mode: 0o4755}}, ""},
		{"duplicate", nil, []Input{{Path: "a", Mode: 0o644}, {Path: "a", Mode: 0o644}}, "twice"},
		{"file and dir", nil, []Input{{Path: "a", Mode: 0o644}, {Path: "a/b", Mode: 0o644}}, "directory"},
		{"no files", nil, nil, "no files"},
		{"bad board", func(m *Manifest) { m.Board = "Rpi 4" }, testFiles(), "board"},
		{"bad arch", func(m *Manifest) { m.Arch = "x86" }, testFiles(), "arch"},
		{"zero sequence", func(m *Manifest) { m.Sequence, m.MinPrevious = 0, 0 }, testFiles(), "sequence"},
		{"min above own", func(m *Manifest) { m.MinPrevious = 43 }, testFiles(), "min_previous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest()
			if tt.edit != nil {
				tt.edit(&m)
			}
			_, err := Write(io.Discard, m, tt.files, testKey(1))
			if tt.name == "setuid mode" {
				// Only permission bits are kept: setuid is dropped, never written.
				if err != nil {
					t.Errorf("Write = %v, want the setuid bit dropped", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

// TestTarListsBundle checks the documented promise that tar lists a bundle.
func TestTarListsBundle(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar on this machine")
	}
	data := build(t, testKey(1))
	cmd := exec.Command(tarBin, "-tf", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tf: %v\n%s", err, out)
	}
	want := "manifest.json\nbin/kioskd\nsystemd/kioskd.service\nconfig/kioskd.yaml\nempty\n"
	if string(out) != want {
		t.Errorf("tar -tf = %q, want %q", out, want)
	}
}

func FuzzInspect(f *testing.F) {
	data := func() []byte {
		var buf bytes.Buffer
		if _, err := Write(&buf, testManifest(), testFiles(), testKey(1)); err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}()
	f.Add(data)
	f.Add(data[:len(data)-1])
	f.Add([]byte(magic))
	f.Add(bytes.Repeat([]byte{0}, 3000))
	f.Fuzz(func(t *testing.T, b []byte) {
		bun, err := Inspect(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if err := bun.Manifest.Validate(); err != nil {
			t.Errorf("Inspect accepted a bundle whose manifest does not validate: %v", err)
		}
		if err := bun.Files(func(File, io.Reader) error { return nil }); err != nil {
			t.Errorf("Files on an accepted bundle = %v", err)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	var buf bytes.Buffer
	m, err := WritePayload(&buf, testManifest(), testFiles())
	if err != nil {
		f.Fatal(err)
	}
	mb, _ := m.marshal()
	f.Add(mb)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Errorf("ParseManifest accepted an invalid manifest: %v", err)
		}
	})
}
