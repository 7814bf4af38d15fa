package arducam

import (
	"bufio"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OV2640 SCCB facts (see doc.go and ov2640.regs).
const (
	// SensorAddr is the OV2640's 7-bit SCCB address (8-bit 0x60).
	SensorAddr = 0x30

	regBankSelect = 0xFF
	bankDSP       = 0x00
	bankSensor    = 0x01

	// Sensor bank.
	regPIDH = 0x0A // product id high: 0x26
	regPIDL = 0x0B // product id low: 0x41 or 0x42

	// DSP bank.
	regRBypass = 0x05
	regQS      = 0x44 // JPEG quantisation scale
	regZMOW    = 0x5A // output width / 4, bits 7:0
	regZMOH    = 0x5B // output height / 4, bits 7:0
	regZMHH    = 0x5C // bit 2: height/4 bit 8; bits 1:0: width/4 bits 9:8
	regReset   = 0xE0

	// OV2640PID is the OV2640's product id high byte.
	OV2640PID = 0x26
)

//go:embed ov2640.regs
var ov2640Regs string

// regOp is one step of a register table: a write, or a delay.
type regOp struct {
	reg, val byte
	delay    time.Duration
}

// regTables are the tables of ov2640.regs, parsed once by loadTables.
type regTables map[string][]regOp

// tableNames are the tables the driver needs.
var tableNames = []string{"reset", "init", "cif", "svga", "uxga", "jpeg"}

// parseRegs reads the register-table format of ov2640.regs. Every table in
// need must be present and non-empty.
func parseRegs(text string, need []string) (regTables, error) {
	tables := regTables{}
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: bad table header %q", n, line)
			}
			cur = line[1 : len(line)-1]
			if _, dup := tables[cur]; dup {
				return nil, fmt.Errorf("line %d: table %q defined twice", n, cur)
			}
			tables[cur] = nil
			continue
		}
		if cur == "" {
			return nil, fmt.Errorf("line %d: %q comes before any [table]", n, line)
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"RR VV\" or \"delay DURATION\", got %q", n, line)
		}
		if f[0] == "delay" {
			d, err := time.ParseDuration(f[1])
			if err != nil || d <= 0 || d > time.Second {
				return nil, fmt.Errorf("line %d: delay %q is not a duration between 0 and 1s", n, f[1])
			}
			tables[cur] = append(tables[cur], regOp{delay: d})
			continue
		}
		reg, err1 := strconv.ParseUint(f[0], 16, 8)
		val, err2 := strconv.ParseUint(f[1], 16, 8)
		if err1 != nil || err2 != nil || len(f[0]) != 2 || len(f[1]) != 2 {
			return nil, fmt.Errorf("line %d: %q is not two 2-digit hex bytes", n, line)
		}
		tables[cur] = append(tables[cur], regOp{reg: byte(reg), val: byte(val)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, name := range need {
		if len(tables[name]) == 0 {
			return nil, fmt.Errorf("table [%s] is missing or empty", name)
		}
	}
	return tables, nil
}

// loadTables parses the embedded tables; an error is a build defect and is
// caught by the package tests.
func loadTables() (regTables, error) {
	t, err := parseRegs(ov2640Regs, tableNames)
	if err != nil {
		return nil, fmt.Errorf("arducam: embedded ov2640.regs: %w", err)
	}
	return t, nil
}

// Size is a JPEG output size.
type Size struct{ W, H int }

// String formats s as WxH.
func (s Size) String() string { return fmt.Sprintf("%dx%d", s.W, s.H) }

// Sizes are the OV2640 JPEG sizes the ArduCAM examples offer.
var Sizes = []Size{
	{160, 120}, {176, 144}, {320, 240}, {352, 288}, {640, 480},
	{800, 600}, {1024, 768}, {1280, 1024}, {1600, 1200},
}

// ParseSize reads "640x480" and checks it is one of Sizes.
func ParseSize(s string) (Size, error) {
	w, h, ok := strings.Cut(strings.TrimSpace(s), "x")
	if ok {
		wi, err1 := strconv.Atoi(w)
		hi, err2 := strconv.Atoi(h)
		if err1 == nil && err2 == nil {
			sz := Size{wi, hi}
			for _, known := range Sizes {
				if sz == known {
					return sz, nil
				}
			}
		}
	}
	return Size{}, fmt.Errorf("arducam: size %q is not one of %s", s, sizeList())
}

func sizeList() string {
	parts := make([]string, len(Sizes))
	for i, s := range Sizes {
		parts[i] = s.String()
	}
	return strings.Join(parts, ", ")
}

// sensorMode is the mode table whose window covers size: CIF (400x296),
// SVGA (800x600) or UXGA (1600x1200).
func sensorMode(s Size) string {
	switch {
	case s.W <= 400 && s.H <= 296:
		return "cif"
	case s.W <= 800 && s.H <= 600:
		return "svga"
	default:
		return "uxga"
	}
}

// zoomRegs are the DSP output-size registers for s: ZMOW and ZMOH hold
// width/4 and height/4, ZMHH their high bits (width/4 bits 9:8 in bits 1:0,
// height/4 bit 8 in bit 2).
func zoomRegs(s Size) []regOp {
	w, h := s.W/4, s.H/4
	return []regOp{
		{reg: regZMOW, val: byte(w)},
		{reg: regZMOH, val: byte(h)},
		{reg: regZMHH, val: byte(w>>8)&0x03 | byte(h>>6)&0x04},
	}
}

// OutputSize decodes the output size from the ZMOW, ZMOH and ZMHH values;
// the simulator uses it to see what the driver asked for.
func OutputSize(zmow, zmoh, zmhh byte) Size {
	w := int(zmow) | int(zmhh&0x03)<<8
	h := int(zmoh) | int(zmhh&0x04)<<6
	return Size{w * 4, h * 4}
}

// sizeOps is the whole sequence that switches the sensor to JPEG output at
// size s with quantisation scale qs.
func (t regTables) sizeOps(s Size, qs byte) []regOp {
	ops := []regOp{{reg: regBankSelect, val: bankDSP}, {reg: regRBypass, val: 0x01}}
	ops = append(ops, t[sensorMode(s)]...)
	ops = append(ops, regOp{reg: regBankSelect, val: bankDSP})
	ops = append(ops, zoomRegs(s)...)
	ops = append(ops,
		regOp{reg: regReset, val: 0x00},
		regOp{reg: regRBypass, val: 0x00},
		regOp{delay: 10 * time.Millisecond},
	)
	ops = append(ops, t["jpeg"]...)
	ops = append(ops, regOp{reg: regBankSelect, val: bankDSP}, regOp{reg: regQS, val: qs})
	return ops
}
