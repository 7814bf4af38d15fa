// Package r30xsim simulates an R30x-family fingerprint module (R307, R503,
// ZFM-20, AS608) on the tty side of a pseudo-terminal pair, speaking the
// real 0xEF01 protocol at real packet sizes and real wire times, so the real
// driver (drivers/r30x) and the real serial code (drivers/serialport, which
// wraps go.bug.st/serial) are exercised end to end without hardware.
//
// The module keeps its address, password, baud rate, packet size and
// security level as if in flash (they survive a simulated power loss or
// unplug); the image buffer and the password-verified state are lost. Finger
// images come from an ImageSource, fitted to 256 x 288 and reduced to 4 bits
// per pixel as the module does; LastImage returns exactly what an upload
// sends. Faults are injected on demand with Inject and InjectAt.
package r30xsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/internal/ptysim"
	"github.com/bali-rbdes/kiosk/drivers/internal/ridges"
	"github.com/bali-rbdes/kiosk/drivers/r30x"
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

// Faults. Sensor faults apply to the next instruction they concern; wire
// faults to one packet of the next reply (InjectAt chooses which: 0 is the
// acknowledgement, 1.. the data packets of an upload).
const (
	// NoFinger: the next GenImg finds no finger (0x02).
	NoFinger Fault = iota + 1
	// ImageFail: the next GenImg fails to take the image (0x03).
	ImageFail
	// WetFinger: the next image is dark and smeared; Img2Tz answers 0x06.
	WetFinger
	// DryFinger: the next image is faint and broken; Img2Tz answers 0x07.
	DryFinger
	// UploadFail: the next UpImage answers 0x0F.
	UploadFail
	// BadChecksum: the packet's checksum is wrong.
	BadChecksum
	// DropByte: the packet loses its first payload byte.
	DropByte
	// DuplicateByte: the packet's first payload byte is sent twice.
	DuplicateByte
	// SlowReply: the packet is sent Options.SlowDelay late.
	SlowReply
	// Garbled: the packet's type byte is corrupted.
	Garbled
	// PowerLoss: instead of the packet the module loses power for
	// Options.Outage, then starts again (an R503 sends 0x55).
	PowerLoss
	// Unplug: instead of the packet the tty disappears for Options.Outage,
	// then comes back under the same path.
	Unplug
)

var faultNames = map[Fault]string{
	NoFinger: "no-finger", ImageFail: "image-fail", WetFinger: "wet-finger", DryFinger: "dry-finger",
	UploadFail: "upload-fail", BadChecksum: "bad-checksum", DropByte: "drop-byte",
	DuplicateByte: "duplicate-byte", SlowReply: "slow-reply", Garbled: "garbled",
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
	return 0, fmt.Errorf("r30xsim: unknown fault %q: want one of no-finger, image-fail, wet-finger, dry-finger, upload-fail, bad-checksum, drop-byte, duplicate-byte, slow-reply, garbled, power-loss, unplug", name)
}

func (f Fault) wire() bool { return f >= BadChecksum }

// Options configure a simulated module.
type Options struct {
	// Model is R307 (default), R503, ZFM-20 or AS608. An R503 sends 0x55
	// after power-on and has the Aura LED ring.
	Model string
	// Baud is the speed the module starts at; default 57600.
	Baud int
	// Address and Password of the module; defaults 0xFFFFFFFF and 0.
	Address  uint32
	Password uint32
	// PacketSize is the data packet size at start; default 128.
	PacketSize int
	// SecurityLevel at start; default 3.
	SecurityLevel int
	// Capacity of the template library; default 1000 (R503: 200).
	Capacity int
	// Templates is what TemplateNum reports.
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
	return &Options{Model: "R307", Baud: 57600, Address: r30x.DefaultAddress, PacketSize: 128, SecurityLevel: 3,
		Capacity: 1000, SlowDelay: 1500 * time.Millisecond, Outage: 500 * time.Millisecond}
}

// Stats counts what the module did.
type Stats struct {
	Commands   int   // command packets handled
	Images     int   // images taken
	Uploads    int   // image uploads completed
	NoiseBytes int   // bytes received at the wrong speed or outside packets
	BadPackets int   // command packets with a bad checksum
	Sent       int64 // bytes sent to the host
}

// Sim is a simulated module. Run serves the line; the exported methods may
// be called from any goroutine while it runs.
type Sim struct {
	opts Options
	line *ptysim.Line
	log  *zap.Logger
	src  ImageSource

	mu      sync.Mutex
	addr    uint32
	pwd     uint32
	baud    int
	pkt     int
	level   int
	finger  bool
	faults  []injection
	last    *image.Gray
	stats   Stats
	up      bool
	upCh    chan struct{}
	running bool

	// Owned by Run.
	verified  bool
	image     []byte // packed 4-bit image buffer; nil when empty
	condition Fault  // WetFinger, DryFinger or 0 for the image in the buffer
}

type injection struct {
	f  Fault
	at int
}

// New creates the simulated module and its pseudo-terminal. The module is
// powered and the finger is on the sensor; serve it with Run.
func New(opts *Options) (*Sim, error) {
	o := *DefaultOptions()
	if opts != nil {
		def := o
		o = *opts
		if o.Model == "" {
			o.Model = def.Model
		}
		if o.Baud == 0 {
			o.Baud = def.Baud
		}
		if o.Address == 0 {
			o.Address = def.Address
		}
		if o.PacketSize == 0 {
			o.PacketSize = def.PacketSize
		}
		if o.SecurityLevel == 0 {
			o.SecurityLevel = def.SecurityLevel
		}
		if o.Capacity == 0 {
			o.Capacity = def.Capacity
			if o.Model == "R503" {
				o.Capacity = 200
			}
		}
		if o.SlowDelay == 0 {
			o.SlowDelay = def.SlowDelay
		}
		if o.Outage == 0 {
			o.Outage = def.Outage
		}
	}
	if o.Baud%9600 != 0 || o.Baud < 9600 || o.Baud > 115200 {
		return nil, fmt.Errorf("r30xsim: baud %d: want a multiple of 9600 up to 115200", o.Baud)
	}
	if r30x.PacketSizeCode(o.PacketSize) < 0 {
		return nil, fmt.Errorf("r30xsim: packet size %d: want 32, 64, 128 or 256", o.PacketSize)
	}
	line, err := ptysim.Open(o.Dir, "r30x")
	if err != nil {
		return nil, fmt.Errorf("r30xsim: %w", err)
	}
	s := &Sim{opts: o, line: line, log: o.Logger, src: o.Source,
		addr: o.Address, pwd: o.Password, baud: o.Baud, pkt: o.PacketSize, level: o.SecurityLevel,
		finger: true, up: true, upCh: make(chan struct{})}
	close(s.upCh)
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.src == nil {
		// Drawn now, not at the first GenImg, so that first reply is not
		// slow on a slow machine (or under qemu).
		s.src = &patternSource{img: ridges.Pattern(o.Seed, r30x.ImageWidth+32, r30x.ImageHeight+32)}
	}
	return s, nil
}

// patternSource is the built-in finger: one ridge pattern.
type patternSource struct{ img *image.Gray }

func (p *patternSource) NextFinger() (image.Image, error) { return p.img, nil }

// Path is the serial device path the host opens (a symlink to the tty).
func (s *Sim) Path() string { return s.line.Path() }

// Close removes the pseudo-terminal; call it after Run has returned.
func (s *Sim) Close() error { return s.line.Close() }

// Inject queues a fault for the next instruction it concerns (sensor
// faults) or the acknowledgement of the next reply (wire faults).
func (s *Sim) Inject(f Fault) { s.InjectAt(f, 0) }

// InjectAt queues a wire fault for packet n of the next reply (0 the
// acknowledgement, 1.. the data packets of an upload).
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

// LastImage returns the last image taken, 8-bit grey with each 4-bit
// sample v stored as v*17: exactly what an upload delivers.
func (s *Sim) LastImage() *image.Gray {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
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

// Run serves the host until ctx is done; it returns nil then. Only one Run
// may be active.
func (s *Sim) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("r30xsim: Run called twice")
	}
	s.running = true
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.running = false; s.mu.Unlock() }()

	if err := s.powerOn(ctx); err != nil {
		return nilOnDone(ctx, err)
	}
	buf := make([]byte, 1024)
	var in []byte
	for ctx.Err() == nil {
		n, err := s.line.Read(buf, 50*time.Millisecond)
		if err != nil || n == 0 {
			continue
		}
		if hb := s.line.HostBaud(); hb != 0 && hb != s.Baud() {
			s.count(func(st *Stats) { st.NoiseBytes += n }) // the module's UART sees garbage
			in = in[:0]
			continue
		}
		in = append(in, buf[:n]...)
		for len(in) > 0 {
			i := indexStart(in)
			if i < 0 {
				keep := 0
				if in[len(in)-1] == 0xEF {
					keep = 1
				}
				s.count(func(st *Stats) { st.NoiseBytes += len(in) - keep })
				in = append(in[:0], in[len(in)-keep:]...)
				break
			}
			if i > 0 {
				s.count(func(st *Stats) { st.NoiseBytes += i })
				in = in[i:]
			}
			p, used, err := r30x.ParsePacket(in)
			if used == 0 {
				break // need more bytes
			}
			payload := append([]byte(nil), p.Payload...)
			in = in[used:]
			if err != nil {
				if errors.Is(err, r30x.ErrChecksum) {
					s.count(func(st *Stats) { st.BadPackets++ })
					if rerr := s.reply(ctx, s.ack(0x01)); rerr != nil {
						return nilOnDone(ctx, rerr)
					}
				}
				continue
			}
			if p.PID != r30x.PIDCommand || p.Addr != s.addr || len(payload) == 0 {
				continue
			}
			s.count(func(st *Stats) { st.Commands++ })
			if err := s.handle(ctx, payload[0], payload[1:]); err != nil {
				if errors.Is(err, errOutage) {
					in = in[:0]
					continue
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

func indexStart(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == 0xEF && b[i+1] == 0x01 {
			return i
		}
	}
	if len(b) > 0 && b[len(b)-1] == 0xEF {
		return len(b) - 1
	}
	return -1
}

func (s *Sim) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// takeFault removes and returns the first queued sensor fault among want.
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

// takeWireFaults removes the queued wire faults; they apply to this reply.
func (s *Sim) takeWireFaults() []injection {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out, keep []injection
	for _, inj := range s.faults {
		if inj.f.wire() {
			out = append(out, inj)
		} else {
			keep = append(keep, inj)
		}
	}
	s.faults = keep
	return out
}

const (
	cmdGenImg     = 0x01
	cmdImg2Tz     = 0x02
	cmdUpImage    = 0x0A
	cmdSetSysPara = 0x0E
	cmdReadSys    = 0x0F
	cmdVfyPwd     = 0x13
	cmdTemplNum   = 0x1D
	cmdAuraLed    = 0x35
)

func (s *Sim) ack(code byte, results ...byte) []byte {
	return r30x.AppendPacket(nil, r30x.Packet{Addr: s.addr, PID: r30x.PIDAck, Payload: append([]byte{code}, results...)})
}

func (s *Sim) handle(ctx context.Context, instr byte, args []byte) error {
	if s.pwd != 0 && !s.verified && instr != cmdVfyPwd {
		return s.reply(ctx, s.ack(0x21))
	}
	switch instr {
	case cmdVfyPwd:
		if len(args) != 4 {
			return s.reply(ctx, s.ack(0x01))
		}
		if binary.BigEndian.Uint32(args) != s.pwd {
			return s.reply(ctx, s.ack(0x13))
		}
		s.verified = true
		return s.reply(ctx, s.ack(0x00))
	case cmdReadSys:
		s.mu.Lock()
		p := r30x.SysParams{Status: s.status(), SystemID: 0x0000, Capacity: s.opts.Capacity, SecurityLevel: s.level,
			Addr: s.addr, PacketSize: s.pkt, Baud: s.baud}
		s.mu.Unlock()
		return s.reply(ctx, s.ack(0x00, r30x.AppendSysParams(nil, p)...))
	case cmdSetSysPara:
		return s.setSysPara(ctx, args)
	case cmdGenImg:
		return s.genImg(ctx)
	case cmdImg2Tz:
		switch {
		case len(args) != 1 || args[0] < 1 || args[0] > 2:
			return s.reply(ctx, s.ack(0x01))
		case s.image == nil:
			return s.reply(ctx, s.ack(0x15))
		case s.condition == WetFinger:
			return s.reply(ctx, s.ack(0x06))
		case s.condition == DryFinger:
			return s.reply(ctx, s.ack(0x07))
		}
		return s.reply(ctx, s.ack(0x00))
	case cmdUpImage:
		return s.upImage(ctx)
	case cmdTemplNum:
		n := s.opts.Templates
		return s.reply(ctx, s.ack(0x00, byte(n>>8), byte(n)))
	case cmdAuraLed:
		if s.opts.Model != "R503" || len(args) != 4 {
			return s.reply(ctx, s.ack(0x01))
		}
		return s.reply(ctx, s.ack(0x00))
	}
	return s.reply(ctx, s.ack(0x01))
}

func (s *Sim) status() uint16 {
	var st uint16
	if s.verified {
		st |= 1 << 2
	}
	if s.image != nil {
		st |= 1 << 3
	}
	return st
}

func (s *Sim) setSysPara(ctx context.Context, args []byte) error {
	if len(args) != 2 {
		return s.reply(ctx, s.ack(0x01))
	}
	reg, val := args[0], int(args[1])
	switch {
	case reg == r30x.RegBaud && val >= 1 && val <= 12:
		if err := s.reply(ctx, s.ack(0x00)); err != nil {
			return err
		}
		s.mu.Lock()
		s.baud = val * 9600
		s.mu.Unlock()
		s.log.Info("r30xsim: baud changed", zap.Int("baud", val*9600))
		return nil
	case reg == r30x.RegSecurity && val >= 1 && val <= 5:
		s.mu.Lock()
		s.level = val
		s.mu.Unlock()
	case reg == r30x.RegPacketSize && val <= 3:
		s.mu.Lock()
		s.pkt = 32 << val
		s.mu.Unlock()
	default:
		return s.reply(ctx, s.ack(0x1A))
	}
	return s.reply(ctx, s.ack(0x00))
}

func (s *Sim) genImg(ctx context.Context) error {
	s.mu.Lock()
	finger := s.finger
	s.mu.Unlock()
	switch f := s.takeFault(NoFinger, ImageFail); {
	case f == NoFinger || !finger:
		return s.reply(ctx, s.ack(0x02))
	case f == ImageFail:
		return s.reply(ctx, s.ack(0x03))
	}
	img, err := s.src.NextFinger()
	if err != nil {
		s.log.Warn("r30xsim: image source failed", zap.Error(err))
		return s.reply(ctx, s.ack(0x03))
	}
	cond := s.takeFault(WetFinger, DryFinger)
	g := Sensor(img, cond)
	s.image, _ = r30x.PackImage(g)
	s.condition = cond
	s.mu.Lock()
	s.last = g
	s.stats.Images++
	s.mu.Unlock()
	return s.reply(ctx, s.ack(0x00))
}

// Sensor turns a finger image into what the module's sensor delivers:
// fitted to 256 x 288, wet or dry if asked, reduced to 4 bits per pixel
// (each sample v stored as v*17).
func Sensor(img image.Image, condition Fault) *image.Gray {
	g := ridges.Fit(img, r30x.ImageWidth, r30x.ImageHeight)
	w := r30x.ImageWidth
	for i, v := range g.Pix {
		x, y := i%w, i/w
		switch condition {
		case WetFinger: // ridges run together: dark, smeared
			v = v / 3
			if (x/3+y/3)%4 == 0 {
				v /= 2
			}
		case DryFinger: // faint, broken ridges
			v = 255 - (255-v)/4
			if (x*7+y*13)%9 < 3 {
				v = 255
			}
		}
		g.Pix[i] = (v >> 4) * 17
	}
	return g
}

func (s *Sim) upImage(ctx context.Context) error {
	switch {
	case s.takeFault(UploadFail) != 0:
		return s.reply(ctx, s.ack(0x0F))
	case s.image == nil:
		return s.reply(ctx, s.ack(0x15))
	}
	s.mu.Lock()
	size := s.pkt
	s.mu.Unlock()
	pkts := [][]byte{s.ack(0x00)}
	for off := 0; off < len(s.image); off += size {
		pid := byte(r30x.PIDData)
		if off+size >= len(s.image) {
			pid = r30x.PIDEnd
		}
		pkts = append(pkts, r30x.AppendPacket(nil, r30x.Packet{Addr: s.addr, PID: pid, Payload: s.image[off : off+size]}))
	}
	if err := s.reply(ctx, pkts...); err != nil {
		return err
	}
	s.count(func(st *Stats) { st.Uploads++ })
	return nil
}

// errOutage ends a reply cut short by a power loss or an unplug.
var errOutage = errors.New("r30xsim: outage")

// reply sends packets, applying the wire faults queued for them.
func (s *Sim) reply(ctx context.Context, pkts ...[]byte) error {
	faults := s.takeWireFaults()
	s.mu.Lock()
	baud := s.baud
	s.mu.Unlock()
	for i, p := range pkts {
		for _, inj := range faults {
			if inj.at != i {
				continue
			}
			s.log.Info("r30xsim: injecting fault", zap.Stringer("fault", inj.f), zap.Int("packet", i))
			switch inj.f {
			case BadChecksum:
				p = append([]byte(nil), p...)
				p[len(p)-1] ^= 0x5A
			case DropByte:
				p = append(append([]byte(nil), p[:9]...), p[10:]...)
			case DuplicateByte:
				p = append(append(append([]byte(nil), p[:10]...), p[9]), p[10:]...)
			case Garbled:
				p = append([]byte(nil), p...)
				p[6] = 0x5A
			case SlowReply:
				if err := ptysim.Sleep(ctx, s.opts.SlowDelay); err != nil {
					return err
				}
			case PowerLoss:
				return s.outage(ctx, false)
			case Unplug:
				return s.outage(ctx, true)
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

// outage powers the module down (and unplugs its tty) for Options.Outage.
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
	s.line.Drain() // what was sent while the module was off is lost
	if err := s.powerOn(ctx); err != nil {
		return err
	}
	return errOutage
}

// powerOn resets the volatile state; an R503 announces itself with 0x55.
func (s *Sim) powerOn(ctx context.Context) error {
	s.verified, s.image, s.condition = false, nil, 0
	if s.opts.Model == "R503" {
		if err := s.line.Send(ctx, []byte{0x55}, s.Baud()); err != nil {
			return err
		}
	}
	s.setUp(true)
	return nil
}
