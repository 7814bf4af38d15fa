package mbr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// kioskTable is make image's layout: boot FAT32, root A, root B, data.
func kioskTable(t testing.TB) []byte {
	t.Helper()
	s := make([]byte, SectorSize)
	copy(s, "boot code")
	binary.LittleEndian.PutUint32(s[440:], 0x4b494f53) // disk signature
	put := func(i int, status, typ byte, start, sectors uint32) {
		b := s[entriesAt+i*entrySize:]
		b[0], b[4] = status, typ
		b[1], b[2], b[3] = 0x20, 0x21, 0x00
		b[5], b[6], b[7] = 0x11, 0x22, 0x33
		binary.LittleEndian.PutUint32(b[8:], start)
		binary.LittleEndian.PutUint32(b[12:], sectors)
	}
	put(0, 0x80, 0x0c, 2048, 524288)
	put(1, 0, 0x83, 526336, 3145728)
	put(2, 0, 0x83, 3672064, 3145728)
	put(3, 0, 0x83, 6817792, 524288) // 256 MiB, ends at 7342080
	s[510], s[511] = 0x55, 0xAA
	return s
}

func TestParseRoundTrip(t *testing.T) {
	raw := kioskTable(t)
	tb, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Type: 0x83, Start: 6817792, Sectors: 524288}
	if tb.Entries[3] != want || !tb.Entries[0].Bootable || tb.Entries[0].Type != 0x0c {
		t.Errorf("entries = %+v", tb.Entries)
	}
	if !bytes.Equal(tb.Bytes(), raw) {
		t.Error("Bytes of an unchanged table differ from the sector it was read from")
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(s []byte)
		want string
	}{
		{"short", nil, "512-byte sector"},
		{"no signature", func(s []byte) { s[511] = 0 }, "0x55AA"},
		{"gpt", func(s []byte) { s[entriesAt+4] = 0xEE }, "GPT"},
		{"bad status", func(s []byte) { s[entriesAt+16] = 0x7F }, "status 0x7f"},
		{"at sector 0", func(s []byte) { binary.LittleEndian.PutUint32(s[entriesAt+8:], 0) }, "sector 0"},
		{"overlap", func(s []byte) { binary.LittleEndian.PutUint32(s[entriesAt+3*16+8:], 7000000-524288) }, "entries 3 and 4 overlap"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := kioskTable(t)
			if tt.edit == nil {
				s = s[:100]
			} else {
				tt.edit(s)
			}
			_, err := Parse(s)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
}

func TestGrow(t *testing.T) {
	const card = 15_523_840 // sectors of a typical "8 GB" card, not MiB-aligned
	for _, tt := range []struct {
		name    string
		number  int
		disk    uint64
		sectors uint32
		changed bool
		err     string
	}{
		{"to the card's end", 4, card + 1000, card - card%2048 - 6817792, true, ""},
		{"already fills it", 4, 7342080 + 2047, 524288, false, ""},
		{"image-sized disk", 4, 7342080, 524288, false, ""},
		{"2 TiB cap", 4, 1 << 40, uint32((1<<32 - 1) - (1<<32-1)%2048 - 6817792), true, ""},
		{"not the last", 2, card, 0, false, "partition 3 starts at sector 3672064, after it"},
		{"missing", 1, card, 0, false, ""},
		{"past the end", 4, 7000000, 0, false, "past the disk's 7000000 sectors"},
		{"not primary", 5, card, 0, false, "not a primary partition"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := kioskTable(t)
			if tt.name == "missing" {
				raw[entriesAt+4] = 0
			}
			tb, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			sectors, changed, err := tb.Grow(tt.number, tt.disk, 2048)
			if tt.err != "" || tt.name == "missing" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Grow = %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil || sectors != tt.sectors || changed != tt.changed {
				t.Fatalf("Grow = %d, %v, %v; want %d, %v", sectors, changed, err, tt.sectors, tt.changed)
			}
			out := tb.Bytes()
			again, err := Parse(out)
			if err != nil {
				t.Fatalf("the grown table does not parse: %v", err)
			}
			if e := again.Entries[3]; e.Sectors != sectors || e.Start != 6817792 || e.End()%2048 != 0 || e.End() > tt.disk {
				t.Errorf("grown entry = %+v (end %d) on a %d-sector disk", e, e.End(), tt.disk)
			}
			// Nothing but entry 4's size and CHS end may change.
			orig := kioskTable(t)
			for i := range out {
				inEntry4 := i >= entriesAt+3*16+5 && i < entriesAt+3*16+8 || i >= entriesAt+3*16+12 && i < entriesAt+4*16
				if out[i] != orig[i] && !inEntry4 {
					t.Errorf("byte %d changed from 0x%02x to 0x%02x", i, orig[i], out[i])
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(kioskTable(f), uint64(15_523_840), uint8(4))
	f.Add(make([]byte, 512), uint64(0), uint8(1))
	f.Fuzz(func(t *testing.T, sector []byte, disk uint64, number uint8) {
		tb, err := Parse(sector)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := Parse(tb.Bytes())
		if err != nil || again.Entries != tb.Entries {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, tb.Entries)
		}
		before := tb.Entries
		sectors, changed, err := tb.Grow(int(number), disk, 2048)
		if err != nil {
			if tb.Entries != before {
				t.Fatal("a refused Grow changed the table")
			}
			return
		}
		e := tb.Entries[number-1]
		if e.Sectors != sectors || e.End() > disk || sectors < before[number-1].Sectors || changed != (sectors != before[number-1].Sectors) {
			t.Fatalf("Grow(%d, %d) = %d, %v: entry %+v, before %+v", number, disk, sectors, changed, e, before[number-1])
		}
		if _, err := Parse(tb.Bytes()); err != nil {
			t.Fatalf("the grown table does not parse: %v", err)
		}
	})
}
