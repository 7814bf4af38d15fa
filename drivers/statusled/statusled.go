package statusled

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// Color is a set of dies: bit 0 red, bit 1 green, bit 2 blue.
type Color uint8

// Colours.
const (
	Off     Color = 0
	Red     Color = 1
	Green   Color = 2
	Yellow  Color = Red | Green
	Blue    Color = 4
	Magenta Color = Red | Blue
	Cyan    Color = Green | Blue
	White   Color = Red | Green | Blue
)

var colorNames = [8]string{"off", "red", "green", "yellow", "blue", "magenta", "cyan", "white"}

// String returns the colour's name.
func (c Color) String() string {
	if c < 8 {
		return colorNames[c]
	}
	return fmt.Sprintf("Color(%d)", uint8(c))
}

// ParseColor reads a colour name: off, red, green, yellow, blue, magenta,
// cyan or white.
func ParseColor(s string) (Color, error) {
	for i, n := range colorNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Color(i), nil
		}
	}
	return 0, fmt.Errorf("statusled: colour %q is not one of %s", s, strings.Join(colorNames[:], ", "))
}

// Clock times blinking; agent/clock.Clock satisfies it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Options configure an LED; zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// ActiveLow lights a die on a low output (common-anode LED).
	ActiveLow bool
	// Clock times blinking; nil means the wall clock.
	Clock Clock
	// Logger receives debug logs; nil means none.
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for: active high, wall
// clock.
func DefaultOptions() *Options { return &Options{} }

// pattern is what the LED shows: a colour, steady (period 0) or blinking
// with the given period (half on, half off).
type pattern struct {
	color  Color
	period time.Duration
}

// LED is a status LED. Its methods are safe for concurrent use.
type LED struct {
	pins   [3]gpio.PinOut
	have   Color
	on     gpio.Level
	clk    Clock
	log    *zap.Logger
	mu     sync.Mutex
	pat    pattern
	shown  Color
	wake   context.CancelFunc
	runs   bool
	closed bool
}

// New takes the red, green and blue outputs (any may be nil, not all) and
// turns the LED off.
func New(red, green, blue gpio.PinOut, opts *Options) (*LED, error) {
	o := DefaultOptions()
	if opts != nil {
		*o = *opts
	}
	l := &LED{pins: [3]gpio.PinOut{red, green, blue}, on: gpio.Level(!o.ActiveLow), clk: drvtime.Or(o.Clock), log: o.Logger}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	for i, p := range l.pins {
		if p != nil {
			l.have |= 1 << i
		}
	}
	if l.have == Off {
		return nil, errors.New("statusled: New needs at least one of the red, green and blue pins")
	}
	if err := l.show(Off); err != nil {
		return nil, err
	}
	return l, nil
}

// String names the LED's pins.
func (l *LED) String() string {
	var parts []string
	for i, p := range l.pins {
		if p != nil {
			parts = append(parts, colorNames[1<<i]+"="+p.String())
		}
	}
	return "statusled(" + strings.Join(parts, ",") + ")"
}

// Supports reports whether every die c needs is wired.
func (l *LED) Supports(c Color) bool { return c&^l.have == 0 && c <= White }

// Set shows c steadily.
func (l *LED) Set(c Color) error { return l.setPattern(pattern{color: c}) }

// Blink shows c blinking with the given period (half on, half off); Run
// must be running for it to blink, else c shows steadily.
func (l *LED) Blink(c Color, period time.Duration) error {
	if period <= 0 {
		return fmt.Errorf("statusled: blink period %v is not positive", period)
	}
	return l.setPattern(pattern{color: c, period: period})
}

// Color returns the colour being shown or blinked.
func (l *LED) Color() Color {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pat.color
}

func (l *LED) setPattern(p pattern) error {
	if !l.Supports(p.color) {
		var missing []string
		for i := range 3 {
			if p.color&(1<<i) != 0 && l.have&(1<<i) == 0 {
				missing = append(missing, colorNames[1<<i])
			}
		}
		return fmt.Errorf("statusled: %s needs the %s pin, which is not wired (set pins.%s in the device config)", p.color, strings.Join(missing, " and "), strings.Join(missing, " and pins."))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("statusled: LED is halted")
	}
	l.pat = p
	if l.wake != nil {
		l.wake() // let Run pick up the new pattern at once
	}
	return l.showLocked(p.color)
}

// show lights exactly the dies of c.
func (l *LED) show(c Color) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.showLocked(c)
}

func (l *LED) showLocked(c Color) error {
	var errs []error
	for i, p := range l.pins {
		if p == nil {
			continue
		}
		lv := !l.on
		if c&(1<<i) != 0 {
			lv = l.on
		}
		if err := p.Out(lv); err != nil {
			errs = append(errs, fmt.Errorf("statusled: cannot drive the %s pin %s: %w", colorNames[1<<i], p, err))
		}
	}
	l.shown = c
	return errors.Join(errs...)
}

// Run blinks blinking patterns until ctx ends, then turns the LED off. It
// returns nil when ctx ends, or the first error driving a pin.
func (l *LED) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.runs {
		l.mu.Unlock()
		return errors.New("statusled: Run is already running")
	}
	l.runs = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.runs, l.wake = false, nil
		l.mu.Unlock()
		_ = l.show(Off)
	}()
	for {
		l.mu.Lock()
		p := l.pat
		wctx, cancel := context.WithCancel(ctx)
		l.wake = cancel
		var err error
		half := time.Duration(-1)
		if p.period > 0 {
			half = p.period / 2
			next := p.color
			if l.shown == p.color {
				next = Off
			}
			err = l.showLocked(next)
		}
		l.mu.Unlock()
		if err != nil {
			cancel()
			return err
		}
		if half < 0 {
			<-wctx.Done() // steady: wait for a new pattern or the end
		} else {
			_ = l.clk.Sleep(wctx, half)
		}
		cancel()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Halt implements conn.Resource: it turns the LED off and refuses further
// patterns.
func (l *LED) Halt() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.pat = pattern{}
	if l.wake != nil {
		l.wake()
	}
	return l.showLocked(Off)
}
