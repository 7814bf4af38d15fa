package targets

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/firmware/update"
)

// unit parses a systemd unit file into section.key -> values.
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: %q is not key=value inside a section", path, n, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// TestKioskdUnit checks the unit against what the issue and the updater
// need from it.
func TestKioskdUnit(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "firmware")
	u := unit(t, filepath.Join(dir, "systemd/kioskd.service"))
	want := map[string]string{
		"Service.Type":            "notify",
		"Service.WatchdogSec":     "30s",
		"Service.Restart":         "always",
		"Service.User":            "kiosk",
		"Service.ProtectSystem":   "strict",
		"Service.StateDirectory":  "kiosk",
		"Service.NoNewPrivileges": "yes",
		"Service.DevicePolicy":    "closed",
		"Service.ExecStart":       update.CurrentLink + "/bin/kioskd -config /var/lib/kiosk/config/kioskd.yaml",
		"Unit.StartLimitBurst":    "5",
		"Unit.OnFailure":          "kiosk-firmware-failed.service",
		"Unit.Requires":           "kiosk-firmware-boot.service",
		"Install.WantedBy":        "multi-user.target",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("kioskd.service %s = %q, want %q", k, got, v)
		}
	}
	for _, dep := range []string{"kiosk-firmware-failed.service", "kiosk-firmware-boot.service"} {
		if _, err := os.Stat(filepath.Join(dir, "systemd", dep)); err != nil {
			t.Errorf("kioskd.service names %s, which the bundle does not carry", dep)
		}
	}
	// Every supplementary group exists: Debian's or one sysusers makes.
	groups := strings.Fields(strings.Join(u["Service.SupplementaryGroups"], " "))
	have := map[string]bool{"dialout": true, "video": true}
	sysusers, err := os.ReadFile(filepath.Join(dir, "sysusers/kiosk.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^g (\S+)`).FindAllStringSubmatch(string(sysusers), -1) {
		have[m[1]] = true
	}
	if !regexp.MustCompile(`(?m)^u kiosk `).Match(sysusers) {
		t.Errorf("sysusers/kiosk.conf does not create the kiosk user")
	}
	for _, g := range groups {
		if !have[g] {
			t.Errorf("SupplementaryGroups names %s, which neither Debian nor sysusers/kiosk.conf creates", g)
		}
	}
	// The udev rules give devices only to those groups, and every stable
	// name they make is allowed in the device cgroup.
	rules := udevRules(t, dir)
	allowed := strings.Join(u["Service.DeviceAllow"], "\n")
	for _, r := range rules {
		if g := r["GROUP="]; g != "" && !slices.Contains(groups, g) {
			t.Errorf("udev rule gives devices to group %s, which kioskd is not in: %v", g, r)
		}
		if s := r["SYMLINK+="]; s != "" && !strings.Contains(allowed, "/dev/"+s+" rw") {
			t.Errorf("udev makes /dev/%s but kioskd.service has no DeviceAllow=/dev/%s rw", s, s)
		}
	}
	for _, name := range []string{"fingerprint", "cam-face"} {
		found := false
		for _, r := range rules {
			found = found || r["SYMLINK+="] == name
		}
		if !found {
			t.Errorf("no udev rule makes /dev/%s", name)
		}
	}
	// The documented default config uses the stable names.
	cfg, err := os.ReadFile(filepath.Join(dir, "kioskd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"port: /dev/fingerprint", "port: /dev/cam-face"} {
		if !strings.Contains(string(cfg), p) {
			t.Errorf("firmware/kioskd.yaml does not use %q", p)
		}
	}
}

var udevPair = regexp.MustCompile(`^\s*([A-Z_]+(?:\{[A-Za-z0-9_]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*$`)

var udevKeys = map[string]bool{"SUBSYSTEM": true, "KERNEL": true, "ATTR": true, "ATTRS": true, "ENV": true,
	"GROUP": true, "MODE": true, "SYMLINK": true, "TAG": true, "OWNER": true}

// udevRules parses every rules file of the bundle (generic and boards')
// into one map per rule: "KEY<op>" -> value. It fails on a line udev
// would not read.
func udevRules(t *testing.T, dir string) []map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "udev/*.rules"))
	boards, _ := filepath.Glob(filepath.Join(dir, "boards/*/udev/*.rules"))
	files = append(files, boards...)
	if len(files) < 2 {
		t.Fatalf("found %d rules files", len(files))
	}
	var rules []map[string]string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			r := map[string]string{}
			assigns := 0
			for _, part := range strings.Split(line, ", ") {
				m := udevPair.FindStringSubmatch(part)
				if m == nil {
					t.Errorf("%s:%d: cannot read %q", file, n+1, part)
					continue
				}
				base, _, _ := strings.Cut(m[1], "{")
				if !udevKeys[base] {
					t.Errorf("%s:%d: unknown key %s", file, n+1, m[1])
				}
				if m[2] != "==" && m[2] != "!=" {
					assigns++
				}
				r[m[1]+m[2]] = m[3]
			}
			if assigns == 0 {
				t.Errorf("%s:%d: rule assigns nothing", file, n+1)
			}
			rules = append(rules, r)
		}
	}
	return rules
}

// TestUnitsVerify runs systemd-analyze verify on the units where systemd
// is installed.
func TestUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze on this machine")
	}
	dir := t.TempDir()
	src := filepath.Join(repoRoot(t), "firmware/systemd")
	units, _ := filepath.Glob(filepath.Join(src, "*.service"))
	var args []string
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		// Point ExecStart at binaries that exist here.
		s := strings.ReplaceAll(string(data), update.CurrentLink+"/bin/kioskd", "/bin/true")
		p := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	cmd := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, args...)...)
	out, err := cmd.CombinedOutput()
	// Outside a booted systemd, verify complains about the environment
	// (no /run/systemd, missing users and mounts); only syntax matters here.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "Unknown key") || strings.Contains(line, "Unknown section") ||
			strings.Contains(line, "Failed to parse") || strings.Contains(line, "Invalid") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	_ = err
}
