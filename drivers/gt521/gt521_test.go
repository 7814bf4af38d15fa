package gt521

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/internal/uarttest"
)

func cmd(code uint16, param uint32) []byte {
	return AppendPacket(nil, Packet{DeviceID: 1, Param: param, Code: code})
}

func ack(param uint32) []byte { return AppendPacket(nil, Packet{DeviceID: 1, Param: param, Code: Ack}) }
func nack(code uint32) []byte { return AppendPacket(nil, Packet{DeviceID: 1, Param: code, Code: Nack}) }
func data(b []byte) []byte    { return AppendData(nil, 1, b) }
func corrupt(b []byte) []byte { b = append([]byte(nil), b...); b[len(b)-1] ^= 1; return b }
func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
func ops(o ...[]uarttest.Op) []uarttest.Op {
	var all []uarttest.Op
	for _, x := range o {
		all = append(all, x...)
	}
	return all
}

var testInfo = Info{Firmware: 0x20170523, ISOAreaMax: 0x1234, Serial: [16]byte{0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}

func openOps() []uarttest.Op {
	return []uarttest.Op{{W: cmd(CmdOpen, 1), R: cat(ack(0), data(AppendInfo(nil, testInfo)))}}
}

func closeCheck(t *testing.T, pb *uarttest.Playback) {
	t.Helper()
	if err := pb.Close(); err != nil {
		t.Errorf("playback: %v", err)
	}
}

func newDev(t *testing.T, pb *uarttest.Playback, o *Options) *Dev {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Millisecond
	}
	o.PollInterval = time.Millisecond
	d, err := New(pb, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func TestPacketBytesMatchSpec(t *testing.T) {
	tests := []struct {
		name      string
		got, want []byte
	}{
		{"Open", cmd(CmdOpen, 0), []byte{0x55, 0xAA, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01}},
		{"CmosLed(on)", cmd(CmdCmosLed, 1), []byte{0x55, 0xAA, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x12, 0x00, 0x13, 0x01}},
		{"GetRawImage", cmd(CmdGetRawImage, 0), []byte{0x55, 0xAA, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x00, 0x63, 0x01}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = % X, want % X", tt.name, tt.got, tt.want)
		}
	}
}

func TestOpenReadsInfo(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops([]uarttest.Op{{R: []byte{0x00, 0xFF}}}, openOps())} // line noise first
	d := newDev(t, pb, nil)
	closeCheck(t, pb)
	in := d.Info()
	if in != testInfo || in.FirmwareString() != "20170523" || !strings.HasPrefix(in.SerialString(), "DEADBEEF0102") {
		t.Errorf("Info() = %+v (firmware %s, serial %s), want %+v", in, in.FirmwareString(), in.SerialString(), testInfo)
	}
}

func TestOpenRaisesLinkSpeed(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{
		{W: cmd(CmdChangeBaudRate, 115200), R: ack(0)},
		{Baud: 115200},
		{W: cmd(CmdOpen, 0), R: ack(0)},
	})}
	d := newDev(t, pb, &Options{LinkBaud: 115200})
	closeCheck(t, pb)
	if d.Baud() != 115200 {
		t.Errorf("Baud() = %d, want 115200", d.Baud())
	}
}

func TestOpenFindsModuleAlreadyRaised(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops([]uarttest.Op{{W: cmd(CmdOpen, 1)}, {Baud: 115200}}, openOps())}
	d := newDev(t, pb, &Options{LinkBaud: 115200})
	closeCheck(t, pb)
	if d.Baud() != 115200 {
		t.Errorf("Baud() = %d, want 115200", d.Baud())
	}
}

func TestOpenBaudNotApplied(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{
		{W: cmd(CmdChangeBaudRate, 115200), R: ack(0)},
		{Baud: 115200},
		{W: cmd(CmdOpen, 0)},
		{Baud: 9600},
		{W: cmd(CmdOpen, 0), R: ack(0)},
	})}
	_, err := New(pb, &Options{LinkBaud: 115200, Timeout: 10 * time.Millisecond})
	closeCheck(t, pb)
	if !errors.Is(err, ErrBaudNotApplied) {
		t.Errorf("New = %v, want ErrBaudNotApplied", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		ops  []uarttest.Op
		want []error
		msg  string
	}{
		{"no answer", []uarttest.Op{{W: cmd(CmdOpen, 1)}}, []error{ErrTimeout, ErrLink}, "check wiring and baud rate"},
		{"noise", []uarttest.Op{{W: cmd(CmdOpen, 1), R: []byte{0xF0, 0x0F, 0x80}}}, []error{ErrTimeout}, "noise"},
		{"bad checksum", []uarttest.Op{{W: cmd(CmdOpen, 1), R: corrupt(ack(0))}}, []error{ErrChecksum, ErrLink}, "checksum"},
		{"nack", []uarttest.Op{{W: cmd(CmdOpen, 1), R: nack(0x100F)}}, []error{ErrDevice}, "device error"},
		{"info checksum", []uarttest.Op{{W: cmd(CmdOpen, 1), R: cat(ack(0), corrupt(data(AppendInfo(nil, testInfo))))}}, []error{ErrChecksum}, "Open data"},
		{"info short", []uarttest.Op{{W: cmd(CmdOpen, 1), R: cat(ack(0), data(make([]byte, 10)))}}, []error{ErrTimeout}, "Open data"},
		{"other device", []uarttest.Op{{W: cmd(CmdOpen, 1), R: AppendPacket(nil, Packet{DeviceID: 2, Code: Ack})}}, []error{ErrFrame}, "device 2"},
		{"garbled code", []uarttest.Op{{W: cmd(CmdOpen, 1), R: AppendPacket(nil, Packet{DeviceID: 1, Code: 0x5A})}}, []error{ErrFrame}, "0x005A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := &uarttest.Playback{Ops: tt.ops}
			_, err := New(pb, &Options{Timeout: 10 * time.Millisecond})
			closeCheck(t, pb)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("New = %v, want errors.Is %v", err, w)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("New = %v, want message containing %q", err, tt.msg)
			}
		})
	}
}

func TestNackCodes(t *testing.T) {
	for code, want := range nackErrors {
		pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{{W: cmd(CmdCaptureFinger, 1), R: nack(code)}})}
		d := newDev(t, pb, nil)
		err := d.Capture(true)
		closeCheck(t, pb)
		var ne *NackError
		if !errors.Is(err, want) || !errors.As(err, &ne) || ne.Code != code {
			t.Errorf("Capture with NACK 0x%04X = %v, want %v", code, err, want)
		}
	}
	pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{
		{W: cmd(CmdCaptureFinger, 0), R: nack(17)},
		{W: cmd(CmdCaptureFinger, 0), R: nack(0x2000)},
	})}
	d := newDev(t, pb, nil)
	if err := d.Capture(false); !errors.Is(err, ErrDuplicateID) || !strings.Contains(err.Error(), "ID 17") {
		t.Errorf("NACK 17 = %v, want ErrDuplicateID naming ID 17", err)
	}
	if err := d.Capture(false); !errors.Is(err, ErrUnknownNack) {
		t.Errorf("NACK 0x2000 = %v, want ErrUnknownNack", err)
	}
	closeCheck(t, pb)
}

func TestWaitFingerAndCapture(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{
		{W: cmd(CmdCmosLed, 1), R: ack(0)},
		{W: cmd(CmdIsPressFinger, 0), R: ack(0x1012)},
		{W: cmd(CmdIsPressFinger, 0), R: ack(0x1012)},
		{W: cmd(CmdIsPressFinger, 0), R: ack(0)},
		{W: cmd(CmdCaptureFinger, 1), R: nack(0x100C)},
		{W: cmd(CmdCaptureFinger, 1), R: ack(0)},
		{W: cmd(CmdGetEnrollCount, 0), R: ack(3)},
		{W: cmd(CmdCmosLed, 0), R: ack(0)},
	})}
	d := newDev(t, pb, nil)
	if err := d.WaitFinger(context.Background()); err != nil {
		t.Fatalf("WaitFinger: %v", err)
	}
	if err := d.Capture(true); !errors.Is(err, ErrBadFinger) {
		t.Errorf("Capture on a wet finger = %v, want ErrBadFinger", err)
	}
	if err := d.Capture(true); err != nil {
		t.Errorf("Capture = %v", err)
	}
	if n, err := d.EnrollCount(); n != 3 || err != nil {
		t.Errorf("EnrollCount = %d, %v; want 3", n, err)
	}
	if err := d.CmosLed(false); err != nil {
		t.Errorf("CmosLed(false) = %v", err)
	}
	closeCheck(t, pb)
}

func TestWaitFingerCancel(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{
		{W: cmd(CmdCmosLed, 1), R: ack(0)},
		{W: cmd(CmdIsPressFinger, 0), R: ack(1)},
	})}
	d := newDev(t, pb, nil)
	d.opts.PollInterval = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.WaitFinger(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFinger = %v, want DeadlineExceeded", err)
	}
	closeCheck(t, pb)
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/97)
	}
	return b
}

func TestImages(t *testing.T) {
	img := pattern(ImageWidth * ImageHeight)
	raw := pattern(RawImageWidth * RawImageHeight)
	pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{
		{W: cmd(CmdGetImage, 0), R: cat(ack(0), data(img))},
		{W: cmd(CmdGetRawImage, 0), R: cat(ack(0), data(raw))},
	})}
	d := newDev(t, pb, nil)
	g, err := d.GetImage()
	if err != nil || g.Rect.Dx() != ImageWidth || g.Rect.Dy() != ImageHeight || !bytes.Equal(g.Pix, img) {
		t.Errorf("GetImage = %v, %v; want the %dx%d image sent", g.Rect, err, ImageWidth, ImageHeight)
	}
	r, err := d.GetRawImage()
	if err != nil || r.Rect.Dx() != RawImageWidth || !bytes.Equal(r.Pix, raw) {
		t.Errorf("GetRawImage = %v, %v; want the 160x120 image sent", r.Rect, err)
	}
	closeCheck(t, pb)
}

func TestImageErrorsThenRecover(t *testing.T) {
	raw := pattern(RawImageWidth * RawImageHeight)
	good := data(raw)
	tests := []struct {
		name string
		r    []byte
		want error
	}{
		{"nack", nack(0x1012), ErrFingerNotPressed},
		{"bad checksum", cat(ack(0), corrupt(good)), ErrChecksum},
		{"dropped byte", cat(ack(0), good[:100], good[101:]), ErrTimeout},
		{"duplicated byte", cat(ack(0), good[:100], good[99:]), ErrChecksum},
		{"stops halfway", cat(ack(0), good[:9000]), ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := []uarttest.Op{{Flush: true}, {W: cmd(CmdIsPressFinger, 0), R: ack(0)}}
			if tt.want == ErrFingerNotPressed {
				after = after[1:]
			}
			pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{{W: cmd(CmdGetRawImage, 0), R: tt.r}}, after)}
			d := newDev(t, pb, nil)
			if _, err := d.GetRawImage(); !errors.Is(err, tt.want) {
				t.Errorf("GetRawImage = %v, want %v", err, tt.want)
			}
			if on, err := d.IsPressFinger(); err != nil || !on {
				t.Errorf("IsPressFinger after the error = %v, %v; want true, nil", on, err)
			}
			closeCheck(t, pb)
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"baud":      {Baud: 14400},
		"link baud": {LinkBaud: 230400},
		"geometry":  {ImageWidth: -1},
	} {
		if _, err := New(&uarttest.Playback{}, &o); err == nil {
			t.Errorf("New(invalid %s) = nil, want an error", name)
		}
	}
}

func TestReopenAfterPowerLoss(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(), []uarttest.Op{
		{W: cmd(CmdChangeBaudRate, 115200), R: ack(0)},
		{Baud: 115200},
		{W: cmd(CmdOpen, 0), R: ack(0)},
		// The module loses power: silent at 115200 ...
		{W: cmd(CmdIsPressFinger, 0)},
		// ... so Reopen drops input, tries 115200, then 9600, and raises again.
		{Flush: true},
		{W: cmd(CmdOpen, 1)},
		{Baud: 9600},
	}, openOps(), []uarttest.Op{
		{W: cmd(CmdChangeBaudRate, 115200), R: ack(0)},
		{Baud: 115200},
		{W: cmd(CmdOpen, 0), R: ack(0)},
		{W: cmd(CmdIsPressFinger, 0), R: ack(0)},
	})}
	d := newDev(t, pb, &Options{LinkBaud: 115200})
	if _, err := d.IsPressFinger(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("IsPressFinger after power loss = %v, want ErrTimeout", err)
	}
	if err := d.Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	if on, err := d.IsPressFinger(); err != nil || !on || d.Baud() != 115200 {
		t.Errorf("after Reopen: IsPressFinger %v, %v at %d baud; want true at 115200", on, err, d.Baud())
	}
	closeCheck(t, pb)
}
