package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// ErrPowerCut is returned by every operation on a Mem after its power was
// cut. It wraps syscall.EIO, which is what a program sees from a disk that
// went away.
var ErrPowerCut = fmt.Errorf("vfs: power cut: %w", syscall.EIO)

// Mem is an in-memory filesystem that keeps two states: what a program sees,
// and what a disk would still hold after a power cut. A file's contents become
// durable at File.Sync; a directory's entries (creations, renames, removals)
// at SyncDir. Directories themselves are durable as soon as they are made.
//
// Cut freezes the filesystem (every later operation fails with ErrPowerCut);
// Restart returns the filesystem a reboot would find: every file holds its
// synced contents plus a random prefix of its unsynced writes in order, the
// last of them torn (cut short, and its bytes possibly zeroed or scrambled);
// every directory holds its synced entries.
type Mem struct {
	mu       sync.Mutex
	dirs     map[string]*memDir
	cut      bool
	budget   int   // mutating operations left before a cut; < 0 means no limit
	capacity int64 // total bytes of file data allowed; 0 means no limit
	used     int64
	locks    map[string]bool
	ops      int
	syncErrs int // Syncs left to fail with EIO without cutting the power
}

type memDir struct {
	entries map[string]*inode // what programs see
	durable map[string]*inode // what survives a cut
}

type inode struct {
	data    []byte
	durable []byte
	pending []memOp // unsynced changes since the last Sync, in order
}

type memOp struct {
	truncate bool
	off      int64
	data     []byte
}

// NewMem returns an empty Mem with the root directory "/".
func NewMem() *Mem {
	m := &Mem{dirs: map[string]*memDir{}, budget: -1, locks: map[string]bool{}}
	m.dirs["/"] = newMemDir()
	return m
}

func newMemDir() *memDir {
	return &memDir{entries: map[string]*inode{}, durable: map[string]*inode{}}
}

// CutAfter makes the power go out right before the (n+1)-th mutating
// operation from now (writes, truncations, syncs, creations, renames,
// removals). n < 0 removes the limit.
func (m *Mem) CutAfter(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.budget = n
}

// Cut cuts the power now.
func (m *Mem) Cut() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cut = true
}

// IsCut reports whether the power was cut.
func (m *Mem) IsCut() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cut
}

// Ops returns the number of mutating operations done so far.
func (m *Mem) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// SetCapacity limits the total bytes of file data; writes past it fail with
// syscall.ENOSPC. 0 removes the limit.
func (m *Mem) SetCapacity(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = n
}

// FailSyncs makes the next n File.Sync calls fail with EIO, as a disk does
// when a write-back fails, without cutting the power.
func (m *Mem) FailSyncs(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncErrs = n
}

// Clone returns what a restart after a process crash (not a power cut)
// would find: everything written, synced or not, survives. m is left as it
// was.
func (m *Mem) Clone() *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := NewMem()
	copies := map[*inode]*inode{}
	for name, d := range m.dirs {
		nd := newMemDir()
		for entry, ino := range d.entries {
			c, ok := copies[ino]
			if !ok {
				c = &inode{data: append([]byte(nil), ino.data...)}
				c.durable = append([]byte(nil), c.data...)
				copies[ino] = c
				n.used += int64(len(c.data))
			}
			nd.entries[entry] = c
			nd.durable[entry] = c
		}
		n.dirs[name] = nd
	}
	return n
}

// Restart returns what a reboot after a cut would find, choosing how much of
// the unsynced writes survive with rng. It cuts the power of m first if that
// has not happened yet.
func (m *Mem) Restart(rng *rand.Rand) *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cut = true
	n := NewMem()
	crashed := map[*inode]*inode{}
	for name, d := range m.dirs {
		nd := newMemDir()
		for entry, ino := range d.durable {
			c, ok := crashed[ino]
			if !ok {
				c = &inode{data: crashContents(ino, rng)}
				c.durable = append([]byte(nil), c.data...)
				crashed[ino] = c
				n.used += int64(len(c.data))
			}
			nd.entries[entry] = c
			nd.durable[entry] = c
		}
		n.dirs[name] = nd
	}
	return n
}

// crashContents is the synced contents of a file plus a random prefix of its
// pending changes, the last one torn.
func crashContents(ino *inode, rng *rand.Rand) []byte {
	data := append([]byte(nil), ino.durable...)
	k := len(ino.pending) // often the whole sequence reached the disk but its last write
	if rng.IntN(2) == 0 {
		k = rng.IntN(len(ino.pending) + 1)
	}
	for i := 0; i < k; i++ {
		op := ino.pending[i]
		if op.truncate {
			data = resize(data, op.off)
			continue
		}
		p := op.data
		if i == k-1 { // tear the last surviving write
			p = append([]byte(nil), p[:rng.IntN(len(p)+1)]...)
			switch rng.IntN(6) {
			case 0:
				clear(p)
			case 1:
				for j := range p {
					p[j] = byte(rng.Uint32())
				}
			}
		}
		data = writeAt(data, p, op.off)
	}
	return data
}

func resize(b []byte, n int64) []byte {
	if int64(len(b)) >= n {
		return b[:n]
	}
	return append(b, make([]byte, n-int64(len(b)))...)
}

func writeAt(b, p []byte, off int64) []byte {
	if end := off + int64(len(p)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], p)
	return b
}

// ReadFile returns the current contents of a file, for tests.
func (m *Mem) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.lookupDir(name)
	if err != nil {
		return nil, err
	}
	ino, ok := d.entries[base]
	if !ok {
		return nil, &os.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return append([]byte(nil), ino.data...), nil
}

// WriteFile sets the contents of a file, durably and at once (as if written
// and synced with its directory before the test), for tests.
func (m *Mem) WriteFile(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.lookupDir(name)
	if err != nil {
		return err
	}
	ino, ok := d.entries[base]
	if !ok {
		ino = &inode{}
		d.entries[base] = ino
	}
	m.used += int64(len(data)) - int64(len(ino.data))
	ino.data = append([]byte(nil), data...)
	ino.durable = append([]byte(nil), data...)
	ino.pending = nil
	d.durable[base] = ino
	return nil
}

func (m *Mem) lookupDir(name string) (*memDir, string, error) {
	name = clean(name)
	d, ok := m.dirs[filepath.Dir(name)]
	if !ok {
		return nil, "", &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return d, filepath.Base(name), nil
}

func clean(name string) string {
	if !filepath.IsAbs(name) {
		name = "/" + name
	}
	return filepath.Clean(name)
}

// mutate accounts for one mutating operation and fails once the power is cut.
func (m *Mem) mutate() error {
	if m.cut {
		return ErrPowerCut
	}
	if m.budget == 0 {
		m.cut = true
		return ErrPowerCut
	}
	if m.budget > 0 {
		m.budget--
	}
	m.ops++
	return nil
}

func (m *Mem) read() error {
	if m.cut {
		return ErrPowerCut
	}
	return nil
}

// OpenFile implements FS.
func (m *Mem) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return nil, err
	}
	d, base, err := m.lookupDir(name)
	if err != nil {
		return nil, err
	}
	if _, isDir := m.dirs[clean(name)]; isDir {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	ino, ok := d.entries[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		if err := m.mutate(); err != nil {
			return nil, err
		}
		ino = &inode{}
		d.entries[base] = ino
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable && len(ino.data) > 0 {
		if err := m.mutate(); err != nil {
			return nil, err
		}
		m.truncate(ino, 0)
	}
	return &memFile{m: m, ino: ino, name: clean(name), writable: writable}, nil
}

func (m *Mem) truncate(ino *inode, size int64) {
	m.used += size - int64(len(ino.data))
	ino.data = resize(ino.data, size)
	ino.pending = append(ino.pending, memOp{truncate: true, off: size})
}

// Remove implements FS.
func (m *Mem) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return err
	}
	name = clean(name)
	if sub, ok := m.dirs[name]; ok {
		if len(sub.entries) > 0 || m.hasSubdirs(name) {
			return &os.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
		}
		if err := m.mutate(); err != nil {
			return err
		}
		delete(m.dirs, name)
		return nil
	}
	d, base, err := m.lookupDir(name)
	if err != nil {
		return err
	}
	ino, ok := d.entries[base]
	if !ok {
		return &os.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if err := m.mutate(); err != nil {
		return err
	}
	delete(d.entries, base)
	if !m.referenced(ino) {
		m.used -= int64(len(ino.data))
	}
	return nil
}

func (m *Mem) hasSubdirs(name string) bool {
	for other := range m.dirs {
		if other != name && filepath.Dir(other) == name {
			return true
		}
	}
	return false
}

func (m *Mem) referenced(ino *inode) bool {
	for _, d := range m.dirs {
		for _, x := range d.entries {
			if x == ino {
				return true
			}
		}
	}
	return false
}

// Rename implements FS.
func (m *Mem) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return err
	}
	od, obase, err := m.lookupDir(oldname)
	if err != nil {
		return err
	}
	nd, nbase, err := m.lookupDir(newname)
	if err != nil {
		return err
	}
	ino, ok := od.entries[obase]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	if err := m.mutate(); err != nil {
		return err
	}
	if old, ok := nd.entries[nbase]; ok && old != ino {
		delete(nd.entries, nbase)
		if !m.referenced(old) {
			m.used -= int64(len(old.data))
		}
	}
	delete(od.entries, obase)
	nd.entries[nbase] = ino
	return nil
}

// MkdirAll implements FS.
func (m *Mem) MkdirAll(name string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return err
	}
	name = clean(name)
	for p := name; ; p = filepath.Dir(p) {
		if d, ok := m.dirs[filepath.Dir(p)]; ok && p != "/" {
			if _, isFile := d.entries[filepath.Base(p)]; isFile {
				return &os.PathError{Op: "mkdir", Path: p, Err: syscall.ENOTDIR}
			}
		}
		if p == "/" {
			break
		}
	}
	for p := name; p != "/"; p = filepath.Dir(p) {
		if _, ok := m.dirs[p]; !ok {
			m.dirs[p] = newMemDir()
		}
	}
	return nil
}

// ReadDir implements FS; it lists files and directories.
func (m *Mem) ReadDir(name string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return nil, err
	}
	name = clean(name)
	d, ok := m.dirs[name]
	if !ok {
		return nil, &os.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var names []string
	for e := range d.entries {
		names = append(names, e)
	}
	for other := range m.dirs {
		if other != name && filepath.Dir(other) == name {
			names = append(names, filepath.Base(other))
		}
	}
	sort.Strings(names)
	return names, nil
}

// SyncDir implements FS.
func (m *Mem) SyncDir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return err
	}
	d, ok := m.dirs[clean(name)]
	if !ok {
		return &os.PathError{Op: "sync", Path: name, Err: fs.ErrNotExist}
	}
	if err := m.mutate(); err != nil {
		return err
	}
	d.durable = make(map[string]*inode, len(d.entries))
	for k, v := range d.entries {
		d.durable[k] = v
	}
	return nil
}

// Size implements FS.
func (m *Mem) Size(name string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return 0, err
	}
	d, base, err := m.lookupDir(name)
	if err != nil {
		return 0, err
	}
	ino, ok := d.entries[base]
	if !ok {
		if _, isDir := m.dirs[clean(name)]; isDir {
			return 0, nil
		}
		return 0, &os.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return int64(len(ino.data)), nil
}

// Lock implements FS.
func (m *Mem) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.read(); err != nil {
		return nil, err
	}
	name = clean(name)
	if m.locks[name] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	m.locks[name] = true
	return memLock{m, name}, nil
}

type memLock struct {
	m    *Mem
	name string
}

func (l memLock) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	delete(l.m.locks, l.name)
	return nil
}

type memFile struct {
	m        *Mem
	ino      *inode
	name     string
	writable bool
	closed   bool
}

var errClosed = errors.New("vfs: file already closed")

func (f *memFile) check() error {
	if f.closed {
		return &os.PathError{Op: "use", Path: f.name, Err: errClosed}
	}
	return f.m.read()
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	if !f.writable {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	grow := off + int64(len(p)) - int64(len(f.ino.data))
	if grow > 0 && f.m.capacity > 0 && f.m.used+grow > f.m.capacity {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	if err := f.m.mutate(); err != nil {
		return 0, err
	}
	if grow > 0 {
		f.m.used += grow
	}
	f.ino.data = writeAt(f.ino.data, p, off)
	f.ino.pending = append(f.ino.pending, memOp{off: off, data: append([]byte(nil), p...)})
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if err := f.m.mutate(); err != nil {
		return err
	}
	if f.m.syncErrs > 0 {
		f.m.syncErrs--
		return &os.PathError{Op: "fsync", Path: f.name, Err: syscall.EIO}
	}
	f.ino.durable = append(f.ino.durable[:0:0], f.ino.data...)
	f.ino.pending = nil
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return err
	}
	if !f.writable {
		return &os.PathError{Op: "truncate", Path: f.name, Err: syscall.EBADF}
	}
	if err := f.m.mutate(); err != nil {
		return err
	}
	f.m.truncate(f.ino, size)
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(); err != nil {
		return 0, err
	}
	return int64(len(f.ino.data)), nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: errClosed}
	}
	f.closed = true
	return nil
}
