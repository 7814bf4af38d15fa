package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPrivateFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(write("target.key", 0o600), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr error
		wantMsg string
	}{
		{"mode 0600", write("ok.key", 0o600), nil, ""},
		{"mode 0400", write("ro.key", 0o400), nil, ""},
		{"symlink to a 0600 file", link, nil, ""},
		{"readable by others", write("open.key", 0o644), ErrPermissions, "chmod 600"},
		{"readable by group", write("group.key", 0o640), ErrPermissions, "mode 0640"},
		{"writable by others", write("w.key", 0o602), ErrPermissions, "chmod 600"},
		{"missing", filepath.Join(dir, "none.key"), ErrMissing, "does not exist"},
		{"no path", "", ErrMissing, "no file given"},
		{"directory", sub, ErrPermissions, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := ReadPrivateFile(tc.path, "test key")
			if tc.wantErr == nil {
				if err != nil || string(data) != "secret" {
					t.Errorf("ReadPrivateFile = %q, %v; want secret, nil", data, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("ReadPrivateFile = %v; want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
			}
			if tc.path != "" && !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestCreateFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "device-1.key")
	if err := CreateFile(p, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := CreateFile(p, []byte("second"), 0o600)
	if !errors.Is(err, ErrExists) {
		t.Errorf("second CreateFile = %v, want ErrExists", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "first" {
		t.Errorf("content after refused overwrite = %q, want first", data)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after the refused write, want 1 (temporary file left behind?)", len(ents))
	}
	if err := ReplaceFile(p, []byte("third"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(p); string(data) != "third" {
		t.Errorf("content after ReplaceFile = %q, want third", data)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode after ReplaceFile = %04o, want 0644", fi.Mode().Perm())
	}
	if err := CreateFile(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Errorf("CreateFile in a missing directory: want an error")
	}
}
