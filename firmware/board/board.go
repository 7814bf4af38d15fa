// Package board reads the board profiles in firmware/boards/<name>/: the
// board.conf that says which architecture, kernel and boot method a board
// has, and the files that go with it (boot-config fragments such as the
// Raspberry Pi's config.txt, board-specific udev rules).
//
// board.conf is shared with the shell scripts that source it, so it is
// kept to what both read the same way: KEY=value lines, the value bare or
// in double quotes without expansions, and # comments.
package board

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Profile is one board profile.
type Profile struct {
	// Name is the board's name, also its directory name (BOARD).
	Name        string
	Description string
	// Arch is the bundle architecture: arm64, armv7 or amd64.
	Arch string
	// GOARCH and GOARM are what the agent is cross-compiled with.
	GOARCH, GOARM string
	// DebianArch is Debian's name of the architecture (arm64, armhf).
	DebianArch string
	// DebianPackages are the kernel and boot-firmware packages the root
	// filesystem gets.
	DebianPackages []string
	// Boot is how the board boots: extlinux or raspi.
	Boot string
	// Console is the kernel console device (ttyAMA0, tty1, ...).
	Console string
	// QEMUMachine is the qemu-system machine that boots the image, if any.
	QEMUMachine string
	// Dir is the profile's directory.
	Dir string
}

var (
	lineRe = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	bareRe = regexp.MustCompile(`^[A-Za-z0-9._/,:+-]*$`)
)

var required = []string{"BOARD", "DESCRIPTION", "ARCH", "GOARCH", "GOARM", "DEBIAN_ARCH", "DEBIAN_PACKAGES", "BOOT", "CONSOLE", "QEMU_MACHINE"}

// Parse reads a board.conf.
func Parse(data []byte) (map[string]string, error) {
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := lineRe.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: %q is not KEY=value", n, line)
		}
		k, v := m[1], m[2]
		if strings.HasPrefix(v, `"`) {
			if len(v) < 2 || !strings.HasSuffix(v, `"`) || strings.ContainsAny(v[1:len(v)-1], "\"$`\\") {
				return nil, fmt.Errorf("line %d: %s: want a value in double quotes without \", $, ` or \\", n, k)
			}
			v = v[1 : len(v)-1]
		} else if !bareRe.MatchString(v) {
			return nil, fmt.Errorf("line %d: %s=%s: quote values with spaces or other characters", n, k, v)
		}
		if _, dup := vals[k]; dup {
			return nil, fmt.Errorf("line %d: %s set twice", n, k)
		}
		vals[k] = v
	}
	return vals, sc.Err()
}

// Load reads the profile in dir (firmware/boards/<name>).
func Load(dir string) (*Profile, error) {
	path := filepath.Join(dir, "board.conf")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("board: cannot read %s (is the board name right? see firmware/boards/): %w", path, err)
	}
	v, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("board: %s: %w", path, err)
	}
	for _, k := range required {
		if _, ok := v[k]; !ok {
			return nil, fmt.Errorf("board: %s lacks %s", path, k)
		}
	}
	p := &Profile{
		Name: v["BOARD"], Description: v["DESCRIPTION"], Arch: v["ARCH"], GOARCH: v["GOARCH"], GOARM: v["GOARM"],
		DebianArch: v["DEBIAN_ARCH"], DebianPackages: strings.Fields(v["DEBIAN_PACKAGES"]), Boot: v["BOOT"],
		Console: v["CONSOLE"], QEMUMachine: v["QEMU_MACHINE"], Dir: dir,
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("board: %s: %w", path, err)
	}
	if base := filepath.Base(filepath.Clean(dir)); base != p.Name {
		return nil, fmt.Errorf("board: %s says BOARD=%s but lives in %s/", path, p.Name, base)
	}
	return p, nil
}

func (p *Profile) validate() error {
	if !nameRe.MatchString(p.Name) {
		return fmt.Errorf("BOARD=%q: want 1-32 of a-z, 0-9 and '-'", p.Name)
	}
	type combo struct{ arch, goarch, goarm, deb string }
	ok := map[combo]bool{
		{"arm64", "arm64", "", "arm64"}: true,
		{"armv7", "arm", "7", "armhf"}:  true,
		{"amd64", "amd64", "", "amd64"}: true,
	}
	if !ok[combo{p.Arch, p.GOARCH, p.GOARM, p.DebianArch}] {
		return fmt.Errorf("ARCH=%s GOARCH=%s GOARM=%s DEBIAN_ARCH=%s do not go together (arm64/arm64//arm64, armv7/arm/7/armhf or amd64/amd64//amd64)",
			p.Arch, p.GOARCH, p.GOARM, p.DebianArch)
	}
	switch p.Boot {
	case "extlinux", "raspi":
	default:
		return fmt.Errorf("BOOT=%q: want extlinux or raspi", p.Boot)
	}
	if len(p.DebianPackages) == 0 {
		return fmt.Errorf("DEBIAN_PACKAGES is empty: the board needs at least a kernel package")
	}
	return nil
}

// List returns the profiles under dir (firmware/boards), sorted by name.
func List(dir string) ([]*Profile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("board: cannot list %s: %w", dir, err)
	}
	var out []*Profile
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p, err := Load(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Files returns the profile's files other than its udev rules, relative to
// its directory, sorted: board.conf and the boot-config fragments.
func (p *Profile) Files() ([]string, error) {
	return p.list(".", false)
}

// UdevRules returns the board-specific udev rules (udev/*.rules), sorted.
func (p *Profile) UdevRules() ([]string, error) {
	return p.list("udev", true)
}

func (p *Profile) list(sub string, rules bool) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(p.Dir, sub))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("board: cannot list %s: %w", filepath.Join(p.Dir, sub), err)
	}
	var out []string
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if rules && !strings.HasSuffix(e.Name(), ".rules") {
			continue
		}
		out = append(out, filepath.ToSlash(filepath.Join(sub, e.Name())))
	}
	sort.Strings(out)
	return out, nil
}
