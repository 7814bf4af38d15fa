package bundle

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"time"
)

// Errors callers act on, for errors.Is.
var (
	// ErrFormat: the file is not a well-formed bundle (truncated, wrong
	// magic, an archive that does not match its manifest, ...).
	ErrFormat = errors.New("not a well-formed kiosk bundle")
	// ErrSignature: the signature does not match the content: the bundle
	// was changed or damaged after signing.
	ErrSignature = errors.New("bundle signature does not match its content")
	// ErrUntrusted: the bundle is signed by a key that is not among the
	// trusted firmware keys.
	ErrUntrusted = errors.New("bundle is signed by an untrusted key")
)

// Trailer layout.
const (
	trailerSize = ed25519.SignatureSize + ed25519.PublicKeySize + 8 + len(magic)
	magic       = "KIOSKFW1"
	// signContext is the Ed25519ph context string: a signature made for
	// something else never verifies as a bundle signature.
	signContext = "rbdes-kiosk-firmware-v1"
	// minPayload is the smallest possible archive: one header block,
	// one data block and the two end blocks.
	minPayload = 4 * 512
)

// Input is one file to put into a bundle.
type Input struct {
	// Path is the slash-separated path inside the bundle ("bin/kioskd").
	Path string
	// Mode is 0644 or 0755.
	Mode fs.FileMode
	// Data is the content.
	Data []byte
}

// WritePayload writes the unsigned payload of a bundle (the archive) to w
// and returns the manifest it holds: m with Format, Product and Files
// filled in from files, in the order given.
func WritePayload(w io.Writer, m Manifest, files []Input) (*Manifest, error) {
	m.Format, m.Product = FormatVersion, Product
	m.Created = m.Created.UTC().Truncate(time.Second)
	m.Files = make([]File, len(files))
	for i, f := range files {
		sum := sha256.Sum256(f.Data)
		m.Files[i] = File{Path: f.Path, Mode: Mode(f.Mode.Perm()), Size: int64(len(f.Data)), SHA256: hex.EncodeToString(sum[:])}
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	mb, err := m.marshal()
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(w)
	if err := writeEntry(tw, manifestName, 0o644, mb, m.Created); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := writeEntry(tw, f.Path, f.Mode.Perm(), f.Data, m.Created); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("bundle: cannot finish the archive: %w", err)
	}
	return &m, nil
}

func writeEntry(tw *tar.Writer, name string, mode fs.FileMode, data []byte, mtime time.Time) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     int64(mode),
		Size:     int64(len(data)),
		ModTime:  mtime,
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("bundle: cannot write archive header of %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("bundle: cannot write %s into the archive: %w", name, err)
	}
	return nil
}

// Write writes a signed bundle: the payload of WritePayload followed by
// key's signature. It returns the manifest written.
func Write(w io.Writer, m Manifest, files []Input, key ed25519.PrivateKey) (*Manifest, error) {
	cw := &countWriter{w: w, h: sha512.New()}
	out, err := WritePayload(cw, m, files)
	if err != nil {
		return nil, err
	}
	if err := writeTrailer(w, cw.h, cw.n, key); err != nil {
		return nil, err
	}
	return out, nil
}

// Sign writes to w the bundle (or bare payload) read from r, size bytes,
// signed with key: any existing signature trailer is dropped, unverified,
// and replaced. This is how a bundle built and signed with a development
// key is re-signed with the release key kept offline. The payload must be
// well formed.
func Sign(w io.Writer, r io.ReaderAt, size int64, key ed25519.PrivateKey) (*Manifest, error) {
	payload := size
	if t, err := readTrailer(r, size); err == nil {
		payload = t.length
	}
	m, _, err := checkPayload(io.NewSectionReader(r, 0, payload), payload)
	if err != nil {
		return nil, err
	}
	h := sha512.New()
	if _, err := io.Copy(io.MultiWriter(w, h), io.NewSectionReader(r, 0, payload)); err != nil {
		return nil, fmt.Errorf("bundle: cannot copy the payload: %w", err)
	}
	if err := writeTrailer(w, h, payload, key); err != nil {
		return nil, err
	}
	return m, nil
}

func writeTrailer(w io.Writer, h hash.Hash, length int64, key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("bundle: signing key is %d bytes, want an Ed25519 private key", len(key))
	}
	sig, err := key.Sign(nil, h.Sum(nil), &ed25519.Options{Hash: crypto.SHA512, Context: signContext})
	if err != nil {
		return fmt.Errorf("bundle: cannot sign: %w", err)
	}
	t := make([]byte, 0, trailerSize)
	t = append(t, sig...)
	t = append(t, key.Public().(ed25519.PublicKey)...)
	t = binary.BigEndian.AppendUint64(t, uint64(length))
	t = append(t, magic...)
	if _, err := w.Write(t); err != nil {
		return fmt.Errorf("bundle: cannot write the signature: %w", err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

type trailer struct {
	sig    []byte
	pub    ed25519.PublicKey
	length int64
}

func readTrailer(r io.ReaderAt, size int64) (*trailer, error) {
	if size < minPayload+int64(trailerSize) {
		return nil, fmt.Errorf("bundle: %d bytes is too short for a bundle (truncated download?): %w", size, ErrFormat)
	}
	b := make([]byte, trailerSize)
	if _, err := r.ReadAt(b, size-int64(trailerSize)); err != nil {
		return nil, fmt.Errorf("bundle: cannot read the signature trailer: %w", err)
	}
	if string(b[trailerSize-len(magic):]) != magic {
		return nil, fmt.Errorf("bundle: no signature trailer (file does not end in %q: unsigned, truncated or not a bundle): %w", magic, ErrFormat)
	}
	t := &trailer{
		sig: b[:ed25519.SignatureSize],
		pub: ed25519.PublicKey(b[ed25519.SignatureSize : ed25519.SignatureSize+ed25519.PublicKeySize]),
	}
	n := binary.BigEndian.Uint64(b[ed25519.SignatureSize+ed25519.PublicKeySize:])
	if n != uint64(size)-uint64(trailerSize) {
		return nil, fmt.Errorf("bundle: trailer says the payload is %d bytes but the file holds %d (truncated or damaged): %w", n, size-int64(trailerSize), ErrFormat)
	}
	t.length = int64(n)
	return t, nil
}

// KeyID returns the short id of a firmware public key: the first 8 bytes
// of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Bundle is an opened bundle whose signature and content have been
// checked.
type Bundle struct {
	// Manifest is the bundle's manifest.
	Manifest *Manifest
	// Signer is the public key the bundle is signed with.
	Signer ed25519.PublicKey
	// Trusted reports whether Signer is one of the trusted keys given to
	// Open (always false from Inspect).
	Trusted bool
	// Size is the bundle's size in bytes.
	Size int64

	r             io.ReaderAt
	payload       int64
	manifestBytes []byte
}

// Open checks a bundle of size bytes read from r: that it is signed by one
// of trusted (ErrUntrusted), that the signature matches every byte
// (ErrSignature), and that the archive holds exactly the files of its
// manifest with their sizes, modes and SHA-256 (ErrFormat).
func Open(r io.ReaderAt, size int64, trusted []ed25519.PublicKey) (*Bundle, error) {
	if len(trusted) == 0 {
		return nil, fmt.Errorf("bundle: no trusted firmware keys given (install the release public key in /etc/kiosk/firmware-keys/): %w", ErrUntrusted)
	}
	t, err := readTrailer(r, size)
	if err != nil {
		return nil, err
	}
	ok := false
	for _, k := range trusted {
		if k.Equal(t.pub) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("bundle: signed by key %s, which is not one of the %d trusted firmware keys (a development bundle on a release device, or a forged one): %w", KeyID(t.pub), len(trusted), ErrUntrusted)
	}
	b, err := open(r, size, t)
	if err != nil {
		return nil, err
	}
	b.Trusted = true
	return b, nil
}

// Inspect checks a bundle like Open but against the public key carried in
// its own trailer, so it says whether the bundle is intact and who signed
// it, not whether that signer is trusted: Trusted is false.
func Inspect(r io.ReaderAt, size int64) (*Bundle, error) {
	t, err := readTrailer(r, size)
	if err != nil {
		return nil, err
	}
	return open(r, size, t)
}

func open(r io.ReaderAt, size int64, t *trailer) (*Bundle, error) {
	h := sha512.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, t.length)); err != nil {
		return nil, fmt.Errorf("bundle: cannot read the payload: %w", err)
	}
	if err := ed25519.VerifyWithOptions(t.pub, h.Sum(nil), t.sig, &ed25519.Options{Hash: crypto.SHA512, Context: signContext}); err != nil {
		return nil, fmt.Errorf("bundle: signature by key %s does not match the content (changed or damaged after signing; download it again): %w", KeyID(t.pub), ErrSignature)
	}
	m, mb, err := checkPayload(io.NewSectionReader(r, 0, t.length), t.length)
	if err != nil {
		return nil, err
	}
	return &Bundle{Manifest: m, Signer: t.pub, Size: size, r: r, payload: t.length, manifestBytes: mb}, nil
}

// checkPayload reads a whole archive and checks it against its manifest.
func checkPayload(r io.Reader, length int64) (*Manifest, []byte, error) {
	var m *Manifest
	var mb []byte
	err := walk(r, length, func(mf *Manifest, raw []byte) error {
		m, mb = mf, raw
		return nil
	}, nil)
	if err != nil {
		return nil, nil, err
	}
	return m, mb, nil
}

// walk reads an archive of length bytes: the manifest first (passed to
// onManifest), then each file, checked against the manifest, whose
// verified content is passed to onFile as a reader. onFile may read all,
// part or none of it; walk reads the rest and fails if the hash differs.
func walk(r io.Reader, length int64, onManifest func(*Manifest, []byte) error, onFile func(File, io.Reader) error) error {
	cr := &countReader{r: io.LimitReader(r, length)}
	tr := tar.NewReader(cr)
	hdr, err := tr.Next()
	if err != nil {
		return fmt.Errorf("bundle: cannot read the archive's first entry: %v: %w", err, ErrFormat)
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifest {
		return fmt.Errorf("bundle: first archive entry is %q (%d bytes), want %s: %w", hdr.Name, hdr.Size, manifestName, ErrFormat)
	}
	raw, err := io.ReadAll(tr)
	if err != nil {
		return fmt.Errorf("bundle: cannot read the manifest: %v: %w", err, ErrFormat)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return fmt.Errorf("bundle: %v: %w", err, ErrFormat)
	}
	if err := checkHeader(hdr, manifestName, 0o644, int64(len(raw)), m.Created); err != nil {
		return err
	}
	if err := onManifest(m, raw); err != nil {
		return err
	}
	for _, f := range m.Files {
		hdr, err := tr.Next()
		if err != nil {
			return fmt.Errorf("bundle: archive ends before %s, which the manifest lists: %v: %w", f.Path, err, ErrFormat)
		}
		if err := checkHeader(hdr, f.Path, fs.FileMode(f.Mode), f.Size, m.Created); err != nil {
			return err
		}
		h := sha256.New()
		body := io.TeeReader(tr, h)
		if onFile != nil {
			if err := onFile(f, body); err != nil {
				return err
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return fmt.Errorf("bundle: cannot read %s: %v: %w", f.Path, err, ErrFormat)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
			return fmt.Errorf("bundle: %s has SHA-256 %s, the manifest says %s (changed since it was verified?): %w", f.Path, got, f.SHA256, ErrFormat)
		}
	}
	if hdr, err := tr.Next(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("bundle: archive holds %q, which the manifest does not list: %w", hdr.Name, ErrFormat)
		}
		return fmt.Errorf("bundle: archive does not end cleanly after the last file: %v: %w", err, ErrFormat)
	}
	if cr.n != length {
		return fmt.Errorf("bundle: %d bytes follow the archive's end inside the signed payload: %w", length-cr.n, ErrFormat)
	}
	return nil
}

func checkHeader(hdr *tar.Header, name string, mode fs.FileMode, size int64, mtime time.Time) error {
	switch {
	case hdr.Name != name:
		return fmt.Errorf("bundle: archive entry %q where the manifest lists %q: %w", hdr.Name, name, ErrFormat)
	case hdr.Typeflag != tar.TypeReg:
		return fmt.Errorf("bundle: archive entry %s is of type %q, want a regular file: %w", name, hdr.Typeflag, ErrFormat)
	case hdr.Mode != int64(mode):
		return fmt.Errorf("bundle: archive entry %s has mode %o, the manifest says %o: %w", name, hdr.Mode, mode, ErrFormat)
	case hdr.Size != size:
		return fmt.Errorf("bundle: archive entry %s is %d bytes, the manifest says %d: %w", name, hdr.Size, size, ErrFormat)
	case hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "":
		return fmt.Errorf("bundle: archive entry %s has an owner, want none: %w", name, ErrFormat)
	case !hdr.ModTime.Equal(mtime):
		return fmt.Errorf("bundle: archive entry %s has time %v, the manifest says %v: %w", name, hdr.ModTime.UTC(), mtime, ErrFormat)
	case hdr.Linkname != "" || len(hdr.PAXRecords) != 0 || hdr.Format != tar.FormatUSTAR:
		return fmt.Errorf("bundle: archive entry %s uses tar features bundles do not (links, PAX or GNU records): %w", name, ErrFormat)
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ManifestBytes returns the manifest exactly as the bundle holds it.
func (b *Bundle) ManifestBytes() []byte { return bytes.Clone(b.manifestBytes) }

// KeyID returns the id of the key the bundle is signed with.
func (b *Bundle) KeyID() string { return KeyID(b.Signer) }

// Files reads the bundle again and calls fn with each file and a reader of
// its content, in manifest order. The content is checked against the
// manifest as it is read: if the bundle changed on disk since Open, Files
// returns an ErrFormat error after the file that differs, so a caller that
// unpacks must treat what it wrote as incomplete until Files returns nil.
func (b *Bundle) Files(fn func(f File, r io.Reader) error) error {
	return walk(io.NewSectionReader(b.r, 0, b.payload), b.payload, func(m *Manifest, raw []byte) error {
		if !bytes.Equal(raw, b.manifestBytes) {
			return fmt.Errorf("bundle: manifest changed on disk since the bundle was verified: %w", ErrFormat)
		}
		return nil
	}, fn)
}
