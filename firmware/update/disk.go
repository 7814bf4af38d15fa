package update

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// disk performs the updater's writes durably. Before each write that
// changes what a later boot sees it calls step, which tests use to cut the
// power at every point of an update.
type disk struct {
	step func(op, path string) error
}

func (d *disk) before(op, path string) error {
	if d.step == nil {
		return nil
	}
	return d.step(op, path)
}

// createFile writes a new file (replacing any) and fsyncs it; it does not
// sync the directory: callers sync directories once at the end.
func (d *disk) createFile(path string, perm fs.FileMode, r io.Reader) error {
	if err := d.before("write", path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("update: cannot create %s: %w", path, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("update: cannot write %s (disk full?): %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("update: cannot set mode %04o on %s: %w", perm, path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("update: cannot sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("update: cannot close %s: %w", path, err)
	}
	return nil
}

// replaceFile atomically replaces path: temporary file, fsync, rename,
// fsync of the directory.
func (d *disk) replaceFile(path string, perm fs.FileMode, data []byte) error {
	if err := d.before("replace", path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("update: cannot create a file in %s: %w", dir, err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("update: cannot set mode on %s: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("update: cannot write %s (disk full?): %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("update: cannot sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("update: cannot close %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("update: cannot rename %s to %s: %w", name, path, err)
	}
	ok = true
	return syncDir(dir)
}

// symlink atomically makes path a symlink to target: a temporary link,
// renamed over path, then the directory is synced.
func (d *disk) symlink(target, path string) error {
	if cur, err := os.Readlink(path); err == nil && cur == target {
		return nil
	}
	if err := d.before("symlink", path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp-link")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("update: cannot create symlink %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("update: cannot rename symlink %s to %s: %w", tmp, path, err)
	}
	return syncDir(dir)
}

func (d *disk) remove(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := d.before("remove", path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("update: cannot remove %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func (d *disk) removeAll(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := d.before("remove-all", path); err != nil {
		return err
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("update: cannot remove %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func (d *disk) mkdirAll(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil
	}
	if err := d.before("mkdir", path); err != nil {
		return err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("update: cannot create directory %s: %w", path, err)
	}
	return nil
}

// syncDirs fsyncs every directory under root, root included, so the
// entries of files written with createFile are durable.
func (d *disk) syncDirs(root string) error {
	if err := d.before("sync", root); err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("update: cannot walk %s: %w", p, err)
		}
		if e.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("update: cannot open directory %s to sync it: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("update: cannot sync directory %s: %w", dir, err)
	}
	return nil
}
