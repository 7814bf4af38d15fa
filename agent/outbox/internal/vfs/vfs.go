// Package vfs is the small filesystem surface the outbox writes through: the
// real operating-system filesystem, and Mem, an in-memory filesystem that
// models what survives a power cut (only what was synced: file contents by
// File.Sync, directory entries by FS.SyncDir), so crash tests can cut the
// power at any operation and reopen what a disk would have kept.
package vfs

import (
	"errors"
	"io"
	"os"
)

// FS is the filesystem the outbox uses. Names are slash-separated paths as
// built by path/filepath.Join.
type FS interface {
	// OpenFile opens a file like os.OpenFile. Only os.O_RDONLY, os.O_RDWR,
	// os.O_CREATE, os.O_EXCL and os.O_TRUNC are used.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// Rename renames a file, replacing newname if it exists.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(name string, perm os.FileMode) error
	// ReadDir returns the names in a directory, sorted.
	ReadDir(name string) ([]string, error)
	// SyncDir makes the entries of a directory durable.
	SyncDir(name string) error
	// Size returns the size of a file.
	Size(name string) (int64, error)
	// Lock takes an exclusive lock named by a file, failing at once when it is
	// held elsewhere; Close releases it.
	Lock(name string) (io.Closer, error)
}

// File is an open file. Writes go through WriteAt at explicit offsets.
type File interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes the file's contents and size durable.
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Size returns the current size of the file.
	Size() (int64, error)
	// Close closes the file; it does not sync it.
	Close() error
}

// ErrLocked is returned by Lock when another process or opener holds the lock.
var ErrLocked = errors.New("vfs: locked by another opener")
