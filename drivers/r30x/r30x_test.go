package r30x

import (
	"bytes"
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/internal/uarttest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

const addr = DefaultAddress

func cmd(instr byte, args ...byte) []byte {
	return AppendPacket(nil, Packet{Addr: addr, PID: PIDCommand, Payload: append([]byte{instr}, args...)})
}

func ack(code byte, results ...byte) []byte {
	return AppendPacket(nil, Packet{Addr: addr, PID: PIDAck, Payload: append([]byte{code}, results...)})
}

func params(packetSize, baud, security int) []byte {
	return AppendSysParams(nil, SysParams{SystemID: 0, Capacity: 1000, SecurityLevel: security, Addr: addr, PacketSize: packetSize, Baud: baud})
}

// openOps is the handshake New performs with default options.
func openOps(packetSize, baud int) []uarttest.Op {
	return []uarttest.Op{
		{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: ack(0)},
		{W: cmd(cmdReadSys), R: ack(0, params(packetSize, baud, 3)...)},
	}
}

func ops(parts ...[]uarttest.Op) []uarttest.Op {
	var all []uarttest.Op
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func newDev(t *testing.T, pb *uarttest.Playback, opts *Options) *Dev {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Millisecond
	}
	d, err := New(pb, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

func closePlayback(t *testing.T, pb *uarttest.Playback) {
	t.Helper()
	if err := pb.Close(); err != nil {
		t.Errorf("playback: %v", err)
	}
}

func TestCommandBytesMatchSpec(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"GenImg", cmd(cmdGenImg), []byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05}},
		{"Img2Tz(1)", cmd(cmdImg2Tz, 1), []byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x04, 0x02, 0x01, 0x00, 0x08}},
		{"UpImage", cmd(cmdUpImage), []byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x0A, 0x00, 0x0E}},
		{"VfyPwd(0)", cmd(cmdVfyPwd, 0, 0, 0, 0), []byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x07, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1B}},
		{"ACK OK", ack(0), []byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x03, 0x00, 0x00, 0x0A}},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = % X, want % X", tt.name, tt.got, tt.want)
		}
	}
}

func TestOpenHappyPath(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(
		[]uarttest.Op{{R: []byte{0x55}}}, // R503 power-on byte, skipped
		openOps(128, 57600),
	)}
	d := newDev(t, pb, nil)
	closePlayback(t, pb)
	p := d.Params()
	if p.PacketSize != 128 || p.Baud != 57600 || p.Capacity != 1000 || p.SecurityLevel != 3 || p.Addr != addr {
		t.Errorf("Params() = %+v, want packet 128, baud 57600, capacity 1000, level 3, address FFFFFFFF", p)
	}
	if d.Baud() != 57600 {
		t.Errorf("Baud() = %d, want 57600", d.Baud())
	}
}

func TestOpenAppliesParameters(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdSetSysPara, RegPacketSize, 3), R: ack(0)},
		{W: cmd(cmdReadSys), R: ack(0, params(256, 57600, 3)...)},
		{W: cmd(cmdSetSysPara, RegSecurity, 5), R: ack(0)},
		{W: cmd(cmdReadSys), R: ack(0, params(256, 57600, 5)...)},
	})}
	d := newDev(t, pb, &Options{PacketSize: 256, SecurityLevel: 5})
	closePlayback(t, pb)
	if p := d.Params(); p.PacketSize != 256 || p.SecurityLevel != 5 {
		t.Errorf("Params() = %+v, want packet size 256 and security level 5", p)
	}
}

func TestOpenRaisesLinkSpeed(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdSetSysPara, RegBaud, 12), R: ack(0)},
		{Baud: 115200},
		{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: ack(0)},
		{W: cmd(cmdReadSys), R: ack(0, params(128, 115200, 3)...)},
	})}
	d := newDev(t, pb, &Options{LinkBaud: 115200})
	closePlayback(t, pb)
	if d.Baud() != 115200 || d.Params().Baud != 115200 {
		t.Errorf("after raising: Baud() = %d, module reports %d, want 115200 both", d.Baud(), d.Params().Baud)
	}
}

func TestOpenFindsModuleAlreadyRaised(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops([]uarttest.Op{
		{W: cmd(cmdVfyPwd, 0, 0, 0, 0)}, // no answer at 57600
		{Baud: 115200},
	}, openOps(128, 115200))}
	d := newDev(t, pb, &Options{LinkBaud: 115200, Timeout: 10 * time.Millisecond})
	closePlayback(t, pb)
	if d.Baud() != 115200 {
		t.Errorf("Baud() = %d, want 115200", d.Baud())
	}
}

func TestOpenBaudNotApplied(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdSetSysPara, RegBaud, 12), R: ack(0)},
		{Baud: 115200},
		{W: cmd(cmdVfyPwd, 0, 0, 0, 0)}, // silent at the new speed
		{Baud: 57600},
		{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: ack(0)},
		{W: cmd(cmdReadSys), R: ack(0, params(128, 57600, 3)...)},
	})}
	_, err := New(pb, &Options{LinkBaud: 115200, Timeout: 10 * time.Millisecond})
	closePlayback(t, pb)
	if !errors.Is(err, ErrBaudNotApplied) {
		t.Fatalf("New = %v, want ErrBaudNotApplied", err)
	}
	if pb.BaudRate != 57600 {
		t.Errorf("port left at %d baud, want 57600", pb.BaudRate)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		ops  []uarttest.Op
		want []error
		msg  string
	}{
		{"no answer", []uarttest.Op{{W: cmd(cmdVfyPwd, 0, 0, 0, 0)}}, []error{ErrTimeout, ErrLink}, "check wiring and baud rate"},
		{"noise only", []uarttest.Op{{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: []byte{0x00, 0xF8, 0x80, 0x78}}}, []error{ErrTimeout}, "noise"},
		{"wrong password", []uarttest.Op{{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: ack(0x13)}}, []error{ErrWrongPassword}, "password"},
		{"bad checksum", []uarttest.Op{{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: corruptSum(ack(0))}}, []error{ErrChecksum, ErrLink}, "checksum"},
		{"other address", []uarttest.Op{{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: AppendPacket(nil, Packet{Addr: 0x12345678, PID: PIDAck, Payload: []byte{0}})}}, []error{ErrFrame}, "address"},
		{"bad params", []uarttest.Op{
			{W: cmd(cmdVfyPwd, 0, 0, 0, 0), R: ack(0)},
			{W: cmd(cmdReadSys), R: ack(0, append(params(128, 57600, 3)[:12], 0, 9, 0, 6)...)},
		}, []error{ErrFrame}, "packet-size code 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb := &uarttest.Playback{Ops: tt.ops}
			_, err := New(pb, &Options{Timeout: 10 * time.Millisecond})
			closePlayback(t, pb)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("New = %v, want errors.Is %v", err, w)
				}
			}
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.msg)) {
				t.Errorf("New = %v, want message containing %q", err, tt.msg)
			}
		})
	}
}

func corruptSum(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[len(b)-1] ^= 0x01
	return b
}

func TestConfirmationCodes(t *testing.T) {
	for code, want := range codeErrors {
		pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{{W: cmd(cmdGenImg), R: ack(code)}})}
		d := newDev(t, pb, nil)
		err := d.Capture()
		closePlayback(t, pb)
		var ce *CodeError
		if !errors.Is(err, want) || !errors.As(err, &ce) || ce.Code != code {
			t.Errorf("Capture with code 0x%02X = %v, want %v in a *CodeError", code, err, want)
		}
	}
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{{W: cmd(cmdGenImg), R: ack(0x77)}})}
	d := newDev(t, pb, nil)
	if err := d.Capture(); !errors.Is(err, ErrUnknownConfirmation) {
		t.Errorf("Capture with code 0x77 = %v, want ErrUnknownConfirmation", err)
	}
	closePlayback(t, pb)
	if CodeOf(0) != nil || CodeOf(2) != ErrNoFinger {
		t.Errorf("CodeOf(0), CodeOf(2) = %v, %v; want nil, ErrNoFinger", CodeOf(0), CodeOf(2))
	}
}

func TestWaitFingerPolls(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdGenImg), R: ack(0x02)},
		{W: cmd(cmdGenImg), R: ack(0x02)},
		{W: cmd(cmdGenImg), R: ack(0x00)},
		{W: cmd(cmdImg2Tz, 1), R: ack(0x06)},
		{W: cmd(cmdGenImg), R: ack(0x00)},
		{W: cmd(cmdImg2Tz, 1), R: ack(0x07)},
		{W: cmd(cmdGenImg), R: ack(0x00)},
		{W: cmd(cmdImg2Tz, 1), R: ack(0x00)},
	})}
	d := newDev(t, pb, nil)
	ctx := context.Background()
	for i, want := range []error{ErrImageMessy, ErrFewFeatures, nil} {
		if err := d.WaitFinger(ctx); err != nil {
			t.Fatalf("WaitFinger #%d: %v", i, err)
		}
		if err := d.ImageToTemplate(1); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("ImageToTemplate #%d = %v, want %v", i, err, want)
		}
	}
	closePlayback(t, pb)
}

func TestWaitFingerStopsOnOtherErrorAndCancel(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdGenImg), R: ack(0x03)},
		{W: cmd(cmdGenImg), R: ack(0x02)},
	})}
	d := newDev(t, pb, nil)
	if err := d.WaitFinger(context.Background()); !errors.Is(err, ErrImageFail) {
		t.Errorf("WaitFinger = %v, want ErrImageFail", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.opts.PollInterval = time.Hour
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if err := d.WaitFinger(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFinger after cancel = %v, want context.Canceled", err)
	}
	closePlayback(t, pb)
}

func TestWaitFingerTouchPin(t *testing.T) {
	pin := &gpiotest.Pin{N: "TOUCH", L: gpio.Low, EdgesChan: make(chan gpio.Level, 1)}
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdGenImg), R: ack(0x00)},
	})}
	d := newDev(t, pb, &Options{Touch: pin})
	done := make(chan error, 1)
	go func() { done <- d.WaitFinger(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("WaitFinger returned %v before the touch edge", err)
	case <-time.After(50 * time.Millisecond):
	}
	if pb.Count != 2 {
		t.Errorf("GenImg sent before touch: %d ops done, want 2", pb.Count)
	}
	pin.Lock()
	pin.L = gpio.High
	pin.Unlock()
	pin.EdgesChan <- gpio.High
	if err := <-done; err != nil {
		t.Errorf("WaitFinger = %v, want nil", err)
	}
	closePlayback(t, pb)
}

// imageOps returns the UpImage exchange for a packed image at a packet size.
func imageOps(packed []byte, size int) []uarttest.Op {
	var stream []byte
	for off := 0; off < len(packed); off += size {
		pid := byte(PIDData)
		if off+size >= len(packed) {
			pid = PIDEnd
		}
		stream = AppendPacket(stream, Packet{Addr: addr, PID: pid, Payload: packed[off : off+size]})
	}
	return []uarttest.Op{{W: cmd(cmdUpImage), R: append(ack(0), stream...)}}
}

func testImage() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, ImageWidth, ImageHeight))
	for i := range g.Pix {
		g.Pix[i] = byte((i*7+i/ImageWidth*3)%16) * 17
	}
	return g
}

func TestUploadImage(t *testing.T) {
	src := testImage()
	packed, err := PackImage(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{32, 64, 128, 256} {
		pb := &uarttest.Playback{Ops: ops(openOps(size, 57600), imageOps(packed, size))}
		d := newDev(t, pb, nil)
		got, err := d.UploadImage()
		closePlayback(t, pb)
		if err != nil {
			t.Fatalf("UploadImage at packet size %d: %v", size, err)
		}
		if !bytes.Equal(got.Pix, src.Pix) {
			t.Errorf("UploadImage at packet size %d differs from the source", size)
		}
	}
}

func TestUploadImageErrors(t *testing.T) {
	src := testImage()
	packed, _ := PackImage(src)
	full := imageOps(packed, 128)[0].R
	ackLen := len(ack(0))
	pkt := func(i int) int { return ackLen + i*(headerLen+128+2) } // offset of data packet i
	resync := []uarttest.Op{
		{Flush: true},
		{W: cmd(cmdReadSys), R: ack(0, params(128, 57600, 3)...)},
		{W: cmd(cmdGenImg), R: ack(0)},
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), full...)) }
	tests := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"upload refused", ack(0x0F), ErrUploadImage},
		{"no image", ack(0x15), ErrInvalidImage},
		{"bad checksum in packet 100", mutate(func(b []byte) []byte { b[pkt(100)+headerLen+5] ^= 0x10; return b }), ErrChecksum},
		{"byte dropped in packet 3", mutate(func(b []byte) []byte { return append(b[:pkt(3)+20], b[pkt(3)+21:]...) }), ErrChecksum},
		{"byte duplicated in packet 3", mutate(func(b []byte) []byte {
			return append(b[:pkt(3)+20], append([]byte{b[pkt(3)+20]}, b[pkt(3)+20:]...)...)
		}), ErrChecksum},
		{"stream stops after 10 packets", full[:pkt(10)], ErrTimeout},
		{"end packet early", mutate(func(b []byte) []byte {
			return append(b[:pkt(5)], AppendPacket(nil, Packet{Addr: addr, PID: PIDEnd, Payload: packed[:128]})...)
		}), ErrFrame},
		{"short packet", mutate(func(b []byte) []byte {
			return append(b[:pkt(5)], AppendPacket(nil, Packet{Addr: addr, PID: PIDData, Payload: packed[:64]})...)
		}), ErrFrame},
		{"no end packet", mutate(func(b []byte) []byte {
			b = b[:pkt(287)]
			return AppendPacket(b, Packet{Addr: addr, PID: PIDData, Payload: packed[:128]})
		}), ErrFrame},
		{"garbled packet type", mutate(func(b []byte) []byte { b[pkt(7)+6] = 0x5A; return b }), ErrFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var after []uarttest.Op
			if tt.want == ErrChecksum || tt.want == ErrTimeout || tt.want == ErrFrame {
				after = resync
			} else {
				after = resync[2:]
			}
			pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{{W: cmd(cmdUpImage), R: tt.stream}}, after)}
			d := newDev(t, pb, &Options{PacketTimeout: 5 * time.Millisecond})
			_, err := d.UploadImage()
			if !errors.Is(err, tt.want) {
				t.Errorf("UploadImage = %v, want %v", err, tt.want)
			}
			if err := d.Capture(); err != nil {
				t.Errorf("Capture after the failed upload = %v, want nil", err)
			}
			closePlayback(t, pb)
		})
	}
}

func TestResyncSkipsLateReplies(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdGenImg)}, // the reply is late
		{Flush: true},
		// The late GenImg reply arrives after the flush, then the parameters.
		{W: cmd(cmdReadSys), R: append(ack(0), ack(0, params(128, 57600, 3)...)...)},
		{W: cmd(cmdTemplNum), R: ack(0, 0, 7)},
	})}
	d := newDev(t, pb, &Options{Timeout: 5 * time.Millisecond})
	if err := d.Capture(); !errors.Is(err, ErrTimeout) {
		t.Errorf("Capture = %v, want ErrTimeout", err)
	}
	n, err := d.TemplateCount()
	if err != nil || n != 7 {
		t.Errorf("TemplateCount = %d, %v; want 7, nil", n, err)
	}
	closePlayback(t, pb)
}

func TestStaleReplyLengthIsFrameError(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdTemplNum), R: ack(0)},
	})}
	d := newDev(t, pb, nil)
	if _, err := d.TemplateCount(); !errors.Is(err, ErrFrame) {
		t.Errorf("TemplateCount with a 0-byte result = %v, want ErrFrame", err)
	}
	closePlayback(t, pb)
}

func TestAura(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdAuraLed, 1, 0x80, 2, 0), R: ack(0)},
		{W: cmd(cmdAuraLed, 4, 0, 1, 0), R: ack(0x01)},
	})}
	d := newDev(t, pb, nil)
	if err := d.Aura(AuraBreathing, AuraBlue, 0x80, 0); err != nil {
		t.Errorf("Aura(breathing blue) = %v", err)
	}
	if err := d.Aura(AuraOff, AuraRed, 0, 0); !errors.Is(err, ErrReceive) {
		t.Errorf("Aura on a module without a ring = %v, want ErrReceive", err)
	}
	if err := d.Aura(9, AuraRed, 0, 0); err == nil {
		t.Errorf("Aura(mode 9) = nil, want an error")
	}
	closePlayback(t, pb)
}

func TestSetters(t *testing.T) {
	pb := &uarttest.Playback{Ops: ops(openOps(128, 57600), []uarttest.Op{
		{W: cmd(cmdSetSysPara, RegPacketSize, 1), R: ack(0)},
		{W: cmd(cmdReadSys), R: ack(0, params(64, 57600, 3)...)},
		{W: cmd(cmdSetSysPara, RegSecurity, 2), R: ack(0)},
		{W: cmd(cmdReadSys), R: ack(0, params(64, 57600, 2)...)},
		{W: cmd(cmdSetSysPara, RegSecurity, 4), R: ack(0x1A)},
	})}
	d := newDev(t, pb, nil)
	if err := d.SetPacketSize(64); err != nil || d.Params().PacketSize != 64 {
		t.Errorf("SetPacketSize(64) = %v, packet size %d", err, d.Params().PacketSize)
	}
	if err := d.SetSecurityLevel(2); err != nil || d.Params().SecurityLevel != 2 {
		t.Errorf("SetSecurityLevel(2) = %v, level %d", err, d.Params().SecurityLevel)
	}
	if err := d.SetSecurityLevel(4); !errors.Is(err, ErrInvalidRegister) {
		t.Errorf("SetSecurityLevel refused = %v, want ErrInvalidRegister", err)
	}
	if err := d.SetPacketSize(100); err == nil {
		t.Errorf("SetPacketSize(100) = nil, want an error")
	}
	closePlayback(t, pb)
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"baud", Options{Baud: 12345}},
		{"link baud", Options{LinkBaud: 230400}},
		{"packet size", Options{PacketSize: 100}},
		{"security", Options{SecurityLevel: 6}},
	}
	for _, tt := range tests {
		pb := &uarttest.Playback{}
		if _, err := New(pb, &tt.opts); err == nil {
			t.Errorf("New(%s invalid) = nil, want an error", tt.name)
		}
	}
}
