package board

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const boardsDir = "../boards"

func TestProfilesLoad(t *testing.T) {
	ps, err := List(boardsDir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"generic-arm64": "arm64", "rpi4": "arm64", "generic-armv7": "armv7"}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Name] = p.Arch
	}
	for name, arch := range want {
		if got[name] != arch {
			t.Errorf("board %s: arch %q, want %q", name, got[name], arch)
		}
	}
}

// TestBootFragments checks that each board's boot configuration enables
// SPI, I2C and the UART, or says where the device tree does.
func TestBootFragments(t *testing.T) {
	ps, err := List(boardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			switch p.Boot {
			case "raspi":
				data, err := os.ReadFile(filepath.Join(p.Dir, "config.txt"))
				if err != nil {
					t.Fatalf("raspi board without config.txt: %v", err)
				}
				for _, line := range []string{"dtparam=spi=on", "dtparam=i2c_arm=on", "enable_uart=1", "dtoverlay=disable-bt", "dtparam=watchdog=on", "arm_64bit=1"} {
					if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `\s*(#.*)?$`).Match(data) {
						t.Errorf("config.txt lacks %q", line)
					}
				}
				rules, err := p.UdevRules()
				if err != nil || len(rules) == 0 {
					t.Errorf("raspi board without its UART udev rule: %v", err)
				}
			case "extlinux":
				data, err := os.ReadFile(filepath.Join(p.Dir, "extlinux.conf"))
				if err != nil {
					t.Fatalf("extlinux board without extlinux.conf: %v", err)
				}
				for _, want := range []string{"@ROOT@", "@CONSOLE@", "KERNEL /vmlinuz", "INITRD /initrd.img", "FDTOVERLAYS"} {
					if !strings.Contains(string(data), want) {
						t.Errorf("extlinux.conf lacks %q", want)
					}
				}
				dts, err := os.ReadFile(filepath.Join(p.Dir, "kiosk-spi-i2c-uart.dts"))
				if err != nil {
					t.Fatalf("no device-tree overlay template: %v", err)
				}
				for _, node := range []string{"&spi0", "&i2c1", "&uart1", "/plugin/;"} {
					if !strings.Contains(string(dts), node) {
						t.Errorf("overlay lacks %s", node)
					}
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"ok", "A=1\n# c\nB=\"two words\"\nC=\n", ""},
		{"expansion", "A=\"$HOME\"\n", "double quotes"},
		{"unquoted space", "A=two words\n", "quote values"},
		{"lowercase key", "a=1\n", "not KEY=value"},
		{"duplicate", "A=1\nA=2\n", "twice"},
		{"open quote", "A=\"x\n", "double quotes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil || v["B"] != "two words" || v["C"] != "" {
					t.Errorf("Parse = %v, %v", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %v, want an error about %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "myboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := "BOARD=myboard\nDESCRIPTION=x\nARCH=arm64\nGOARCH=arm64\nGOARM=\nDEBIAN_ARCH=arm64\nDEBIAN_PACKAGES=linux-image-arm64\nBOOT=extlinux\nCONSOLE=ttyS0\nQEMU_MACHINE=\n"
	tests := []struct{ name, conf, want string }{
		{"good", base, ""},
		{"wrong dir", strings.Replace(base, "BOARD=myboard", "BOARD=other", 1), "lives in"},
		{"arch mismatch", strings.Replace(base, "GOARCH=arm64", "GOARCH=arm", 1), "do not go together"},
		{"boot", strings.Replace(base, "BOOT=extlinux", "BOOT=grub", 1), "BOOT"},
		{"missing key", strings.Replace(base, "CONSOLE=ttyS0\n", "", 1), "lacks CONSOLE"},
		{"no kernel", strings.Replace(base, "DEBIAN_PACKAGES=linux-image-arm64", "DEBIAN_PACKAGES=", 1), "kernel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "board.conf"), []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if tt.want == "" {
				if err != nil {
					t.Errorf("Load = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"generic-arm64", "rpi4", "generic-armv7"} {
		if data, err := os.ReadFile(filepath.Join(boardsDir, p, "board.conf")); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("A=\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			return
		}
		for k, val := range v {
			if strings.ContainsAny(val, "\"$`\\\n") || k == "" {
				t.Errorf("Parse accepted %s=%q", k, val)
			}
		}
	})
}
