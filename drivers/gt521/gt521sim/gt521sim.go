// Package gt521sim simulates an ADH-Tech GT-521F52 (or GT-511C3) fingerprint
// module on the tty side of a pseudo-terminal pair, speaking the real
// 55 AA / 5A A5 protocol at real packet sizes and real wire times, so the
// real driver (drivers/gt521) and the real serial code (drivers/serialport)
// are exercised end to end without hardware.
//
// Like the module, it starts at 9600 baud after every power-on and forgets
// the speed set with ChangeBaudRate when it loses power or is unplugged.
// Finger images come from an ImageSource fitted to the sensor's geometry at
// 8 bits a pixel; LastImage and LastRawImage return exactly what a download
// sends. Faults are injected on demand with Inject and InjectAt.
package gt521sim

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/gt521"
	"github.com/bali-rbdes/kiosk/drivers/internal/ptysim"
	"github.com/bali-rbdes/kiosk/drivers/internal/ridges"
	"go.uber.org/zap"
)

// ImageSource supplies the finger a simulated traveller places on the
// sensor; it is asked once per image taken. Any size and colour model is
// accepted; images are treated as 500 ppi.
type ImageSource interface {
	NextFinger() (image.Image, error)
}

// Fault is something that goes wrong on demand.
type Fault int

// Faults. Sensor faults apply to the next command they concern; wire faults
// to one packet of the next reply (InjectAt chooses: 0 the response, 1 the
// data packet).
const (
	// NoFinger: the next IsPressFinger, CaptureFinger or GetImage finds no
	// finger.
	NoFinger Fault = iota + 1
	// WetFinger: the next image is dark and smeared; a best-image
	// CaptureFinger answers NACK 0x100C (bad finger).
	WetFinger
	// DryFinger: the next image is faint and broken; a best-image
	// CaptureFinger answers NACK 0x100C.
	DryFinger
	// BadChecksum: the packet's checksum is wrong.
	BadChecksum
	// DropByte: the packet loses its fifth byte.
	DropByte
	// DuplicateByte: the packet's fifth byte is sent twice.
	DuplicateByte
	// SlowReply: the packet is sent Options.SlowDelay late.
	SlowReply
	// Garbled: the packet comes well formed but from another device id.
	Garbled
	// PowerLoss: instead of the packet the module loses power for
	// Options.Outage and starts again at 9600 baud.
	PowerLoss
	// Unplug: instead of the packet the tty disappears for Options.Outage
	// and comes back under the same path, the module at 9600 baud.
	Unplug
)

var faultNames = map[Fault]string{
	NoFinger: "no-finger", WetFinger: "wet-finger", DryFinger: "dry-finger", BadChecksum: "bad-checksum",
	DropByte: "drop-byte", DuplicateByte: "duplicate-byte", SlowReply: "slow-reply", Garbled: "garbled",
	PowerLoss: "power-loss", Unplug: "unplug",
}

func (f Fault) String() string {
	if s, ok := faultNames[f]; ok {
		return s
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// ParseFault returns the fault with the given name (as String prints it).
func ParseFault(name string) (Fault, error) {
	for f, s := range faultNames {
		if s == name {
			return f, nil
		}
	}
	return 0, fmt.Errorf("gt521sim: unknown fault %q: want one of no-finger, wet-finger, dry-finger, bad-checksum, drop-byte, duplicate-byte, slow-reply, garbled, power-loss, unplug", name)
}

func (f Fault) wire() bool { return f >= BadChecksum }

// Options configure a simulated module.
type Options struct {
	// DeviceID of the module; default 1.
	DeviceID uint16
	// Baud is the power-on speed; default 9600.
	Baud int
	// Firmware and Serial are what Open reports; defaults 0x20170523 and a
	// serial derived from Seed.
	Firmware uint32
	Serial   [16]byte
	// Templates is what GetEnrollCount reports.
	Templates int
	// Source supplies fingers; nil means a built-in ridge pattern drawn
	// from Seed.
	Source ImageSource
	Seed   uint64
	// SlowDelay is how late a SlowReply packet comes; default 1.5 s.
	SlowDelay time.Duration
	// Outage is how long PowerLoss and Unplug last; default 500 ms.
	Outage time.Duration
	// Dir holds the tty symlink; default a new temporary directory.
	Dir string
	// Logger; nil means zap.NewNop().
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{DeviceID: 1, Baud: 9600, Firmware: 0x20170523, SlowDelay: 1500 * time.Millisecond, Outage: 500 * time.Millisecond}
}

// Stats counts what the module did.
type Stats struct {
	Commands   int
	Images     int
	NoiseBytes int
	BadPackets int
	Sent       int64
}

// Sim is a simulated module. Run serves the line; the exported methods may
// be called from any goroutine while it runs.
type Sim struct {
	opts Options
	line *ptysim.Line
	log  *zap.Logger
	src  ImageSource

	mu      sync.Mutex
	baud    int
	finger  bool
	faults  []injection
	last    *image.Gray
	lastRaw *image.Gray
	stats   Stats
	up      bool
	upCh    chan struct{}
	running bool

	// Owned by Run.
	led       bool
	captured  *image.Gray
	condition Fault
}

type injection struct {
	f  Fault
	at int
}

// New creates the simulated module and its pseudo-terminal; serve it with
// Run. The finger is on the sensor.
func New(opts *Options) (*Sim, error) {
	o := *DefaultOptions()
	if opts != nil {
		def := o
		o = *opts
		if o.DeviceID == 0 {
			o.DeviceID = def.DeviceID
		}
		if o.Baud == 0 {
			o.Baud = def.Baud
		}
		if o.Firmware == 0 {
			o.Firmware = def.Firmware
		}
		if o.SlowDelay == 0 {
			o.SlowDelay = def.SlowDelay
		}
		if o.Outage == 0 {
			o.Outage = def.Outage
		}
	}
	if !validBaud(o.Baud) {
		return nil, fmt.Errorf("gt521sim: baud %d: want 9600, 19200, 38400, 57600 or 115200", o.Baud)
	}
	if o.Serial == [16]byte{} {
		for i := range o.Serial {
			o.Serial[i] = byte(o.Seed>>(8*(i%8))) ^ byte(0x47+i*29)
		}
	}
	line, err := ptysim.Open(o.Dir, "gt521")
	if err != nil {
		return nil, fmt.Errorf("gt521sim: %w", err)
	}
	s := &Sim{opts: o, line: line, log: o.Logger, src: o.Source, baud: o.Baud, finger: true, up: true, upCh: make(chan struct{})}
	close(s.upCh)
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.src == nil {
		s.src = &patternSource{img: ridges.Pattern(o.Seed, 340, 260)}
	}
	return s, nil
}

func validBaud(b int) bool {
	switch b {
	case 9600, 19200, 38400, 57600, 115200:
		return true
	}
	return false
}

type patternSource struct{ img *image.Gray }

func (p *patternSource) NextFinger() (image.Image, error) { return p.img, nil }

// Path is the serial device path the host opens (a symlink to the tty).
func (s *Sim) Path() string { return s.line.Path() }

// Close removes the pseudo-terminal; call it after Run has returned.
func (s *Sim) Close() error { return s.line.Close() }

// Inject queues a fault (a wire fault for the next reply's response packet).
func (s *Sim) Inject(f Fault) { s.InjectAt(f, 0) }

// InjectAt queues a wire fault for packet n of the next reply (0 the
// response, 1 the data packet).
func (s *Sim) InjectAt(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, injection{f, n})
}

// SetFinger puts the finger on the sensor or lifts it.
func (s *Sim) SetFinger(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finger = on
}

// LastImage returns the last image GetImage sent (258 x 202, 8 bits).
func (s *Sim) LastImage() *image.Gray {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// LastRawImage returns the last image GetRawImage sent (160 x 120).
func (s *Sim) LastRawImage() *image.Gray {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastRaw
}

// Baud returns the module's current speed.
func (s *Sim) Baud() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baud
}

// Stats returns the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Sent, _ = s.line.Stats()
	return st
}

// WaitUp waits until the module is powered and plugged in.
func (s *Sim) WaitUp(ctx context.Context) error {
	for {
		s.mu.Lock()
		up, ch := s.up, s.upCh
		s.mu.Unlock()
		if up {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Sim) setUp(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up == up {
		return
	}
	s.up = up
	if up {
		close(s.upCh)
	} else {
		s.upCh = make(chan struct{})
	}
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// Run serves the host until ctx is done; it returns nil then.
func (s *Sim) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("gt521sim: Run called twice")
	}
	s.running = true
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.running = false; s.mu.Unlock() }()

	s.powerOn()
	buf := make([]byte, 256)
	var in []byte
	for ctx.Err() == nil {
		n, err := s.line.Read(buf, 50*time.Millisecond)
		if err != nil || n == 0 {
			continue
		}
		if hb := s.line.HostBaud(); hb != 0 && hb != s.Baud() {
			s.count(func(st *Stats) { st.NoiseBytes += n })
			in = in[:0]
			continue
		}
		in = append(in, buf[:n]...)
		for {
			i := 0
			for i < len(in) && !(in[i] == 0x55 && (i+1 == len(in) || in[i+1] == 0xAA)) {
				i++
			}
			if i > 0 {
				s.count(func(st *Stats) { st.NoiseBytes += i })
				in = in[i:]
			}
			if len(in) < gt521.PacketLen {
				break
			}
			p, err := gt521.ParsePacket(in[:gt521.PacketLen])
			in = in[gt521.PacketLen:]
			if err != nil {
				s.count(func(st *Stats) { st.BadPackets++ })
				if err := s.reply(ctx, s.nack(0x1006)); err != nil && !errors.Is(err, errOutage) {
					return nilOnDone(ctx, err)
				}
				continue
			}
			if p.DeviceID != s.opts.DeviceID {
				continue
			}
			s.count(func(st *Stats) { st.Commands++ })
			if err := s.handle(ctx, p); err != nil {
				if errors.Is(err, errOutage) {
					in = in[:0]
					break
				}
				return nilOnDone(ctx, err)
			}
		}
	}
	return nil
}

func nilOnDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Sim) response(param uint32, code uint16) []byte {
	return gt521.AppendPacket(nil, gt521.Packet{DeviceID: s.opts.DeviceID, Param: param, Code: code})
}

func (s *Sim) ack(param uint32) []byte { return s.response(param, gt521.Ack) }
func (s *Sim) nack(code uint32) []byte { return s.response(code, gt521.Nack) }
func (s *Sim) data(b []byte) []byte    { return gt521.AppendData(nil, s.opts.DeviceID, b) }
func (s *Sim) fingerOn() bool          { s.mu.Lock(); defer s.mu.Unlock(); return s.finger }
func (s *Sim) takeFault(want ...Fault) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, inj := range s.faults {
		for _, w := range want {
			if inj.f == w {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return w
			}
		}
	}
	return 0
}

func (s *Sim) handle(ctx context.Context, p gt521.Packet) error {
	switch p.Code {
	case gt521.CmdOpen:
		if p.Param == 0 {
			return s.reply(ctx, s.ack(0))
		}
		info := gt521.Info{Firmware: s.opts.Firmware, ISOAreaMax: 0x4B0, Serial: s.opts.Serial}
		return s.reply(ctx, s.ack(0), s.data(gt521.AppendInfo(nil, info)))
	case gt521.CmdClose:
		return s.reply(ctx, s.ack(0))
	case gt521.CmdChangeBaudRate:
		if !validBaud(int(p.Param)) {
			return s.reply(ctx, s.nack(0x1002))
		}
		if err := s.reply(ctx, s.ack(0)); err != nil {
			return err
		}
		s.mu.Lock()
		s.baud = int(p.Param)
		s.mu.Unlock()
		return nil
	case gt521.CmdCmosLed:
		s.led = p.Param != 0
		return s.reply(ctx, s.ack(0))
	case gt521.CmdGetEnrollCount:
		return s.reply(ctx, s.ack(uint32(s.opts.Templates)))
	case gt521.CmdIsPressFinger:
		if !s.led || !s.fingerOn() || s.takeFault(NoFinger) != 0 {
			return s.reply(ctx, s.ack(0x1012))
		}
		return s.reply(ctx, s.ack(0))
	case gt521.CmdCaptureFinger:
		if err := s.capture(); err != nil {
			return s.reply(ctx, s.nack(0x1012))
		}
		if p.Param != 0 && s.condition != 0 {
			return s.reply(ctx, s.nack(0x100C))
		}
		return s.reply(ctx, s.ack(0))
	case gt521.CmdGetImage:
		if s.captured == nil {
			if err := s.capture(); err != nil {
				return s.reply(ctx, s.nack(0x1012))
			}
		}
		g := s.captured
		s.captured = nil
		s.mu.Lock()
		s.last = g
		s.mu.Unlock()
		return s.reply(ctx, s.ack(0), s.data(g.Pix))
	case gt521.CmdGetRawImage:
		raw := image.NewGray(image.Rect(0, 0, gt521.RawImageWidth, gt521.RawImageHeight))
		for i := range raw.Pix {
			raw.Pix[i] = 255
		}
		if s.led && s.fingerOn() {
			img, err := s.src.NextFinger()
			if err != nil {
				return s.reply(ctx, s.nack(0x100F))
			}
			full := ridges.Fit(img, 2*gt521.RawImageWidth, 2*gt521.RawImageHeight)
			for y := range gt521.RawImageHeight {
				for x := range gt521.RawImageWidth {
					raw.Pix[y*raw.Stride+x] = full.Pix[2*y*full.Stride+2*x]
				}
			}
		}
		s.mu.Lock()
		s.lastRaw = raw
		s.mu.Unlock()
		return s.reply(ctx, s.ack(0), s.data(raw.Pix))
	}
	return s.reply(ctx, s.nack(0x100E))
}

var errNoFinger = errors.New("no finger")

// capture takes an image of the finger into the module.
func (s *Sim) capture() error {
	if !s.led || !s.fingerOn() || s.takeFault(NoFinger) != 0 {
		return errNoFinger
	}
	img, err := s.src.NextFinger()
	if err != nil {
		s.log.Warn("gt521sim: image source failed", zap.Error(err))
		return err
	}
	s.condition = s.takeFault(WetFinger, DryFinger)
	s.captured = Sensor(img, gt521.ImageWidth, gt521.ImageHeight, s.condition)
	s.count(func(st *Stats) { st.Images++ })
	return nil
}

// Sensor turns a finger image into what the module's sensor delivers: fitted
// to w x h at 8 bits, wet or dry if asked.
func Sensor(img image.Image, w, h int, condition Fault) *image.Gray {
	g := ridges.Fit(img, w, h)
	for i, v := range g.Pix {
		x, y := i%w, i/w
		switch condition {
		case WetFinger:
			v /= 3
			if (x/3+y/3)%4 == 0 {
				v /= 2
			}
		case DryFinger:
			v = 255 - (255-v)/4
			if (x*7+y*13)%9 < 3 {
				v = 255
			}
		}
		g.Pix[i] = v
	}
	return g
}

var errOutage = errors.New("gt521sim: outage")

func (s *Sim) reply(ctx context.Context, pkts ...[]byte) error {
	s.mu.Lock()
	var faults, keep []injection
	for _, inj := range s.faults {
		if inj.f.wire() {
			faults = append(faults, inj)
		} else {
			keep = append(keep, inj)
		}
	}
	s.faults = keep
	baud := s.baud
	s.mu.Unlock()
	for i, p := range pkts {
		for _, inj := range faults {
			if inj.at != i {
				continue
			}
			s.log.Info("gt521sim: injecting fault", zap.Stringer("fault", inj.f), zap.Int("packet", i))
			switch inj.f {
			case BadChecksum:
				p = append([]byte(nil), p...)
				p[len(p)-1] ^= 0x5A
			case DropByte:
				p = append(append([]byte(nil), p[:4]...), p[5:]...)
			case DuplicateByte:
				p = append(append(append([]byte(nil), p[:5]...), p[4]), p[5:]...)
			case Garbled:
				// A well-formed packet from the wrong device id.
				p = append([]byte(nil), p...)
				p[2] ^= 0xA5
				var sum uint16
				for _, c := range p[:len(p)-2] {
					sum += uint16(c)
				}
				p[len(p)-2], p[len(p)-1] = byte(sum), byte(sum>>8)
			case SlowReply:
				if err := ptysim.Sleep(ctx, s.opts.SlowDelay); err != nil {
					return err
				}
			case PowerLoss, Unplug:
				return s.outage(ctx, inj.f == Unplug)
			}
		}
		if err := s.line.Send(ctx, p, baud); err != nil {
			if errors.Is(err, ptysim.ErrUnplugged) {
				return errOutage
			}
			return err
		}
	}
	return nil
}

func (s *Sim) outage(ctx context.Context, unplug bool) error {
	s.setUp(false)
	if unplug {
		s.line.Unplug()
	}
	if err := ptysim.Sleep(ctx, s.opts.Outage); err != nil {
		return err
	}
	if unplug {
		if err := s.line.Plug(); err != nil {
			return err
		}
	}
	s.line.Drain()
	s.powerOn()
	return errOutage
}

// powerOn resets the module: 9600 baud (or Options.Baud), backlight off,
// no image.
func (s *Sim) powerOn() {
	s.led, s.captured, s.condition = false, nil, 0
	s.mu.Lock()
	s.baud = s.opts.Baud
	s.mu.Unlock()
	s.setUp(true)
}
