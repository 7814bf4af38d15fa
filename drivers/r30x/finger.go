package r30x

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Capture takes one finger image into the module's image buffer (GenImg).
// With no finger on the sensor it returns an error matching ErrNoFinger.
func (d *Dev) Capture() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.transact("GenImg", cmdGenImg, nil, 0)
	return err
}

// WaitFinger waits until a finger is on the sensor and its image is in the
// module's image buffer, or ctx is done. With a touch pin it waits for the
// pin's edge before each GenImg; without one it polls GenImg every
// PollInterval. Errors other than ErrNoFinger end the wait.
func (d *Dev) WaitFinger(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("r30x: waiting for a finger: %w", err)
		}
		if d.opts.Touch != nil {
			if err := d.waitTouch(ctx); err != nil {
				return err
			}
		}
		err := d.Capture()
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrNoFinger) {
			return err
		}
		t := time.NewTimer(d.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("r30x: waiting for a finger: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// touchSlice bounds one WaitForEdge so that ctx is honoured.
const touchSlice = 100 * time.Millisecond

func (d *Dev) waitTouch(ctx context.Context) error {
	pin := d.opts.Touch
	for pin.Read() != d.active {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("r30x: waiting for the touch pin %s: %w", pin, err)
		}
		pin.WaitForEdge(touchSlice)
	}
	return nil
}

// ImageToTemplate extracts features from the image buffer into character
// buffer 1 or 2 (Img2Tz). Its errors tell the capture loop what to ask the
// traveller: ErrImageMessy (wet or smeared finger), ErrFewFeatures (dry or
// partial finger), ErrInvalidImage (no image taken).
func (d *Dev) ImageToTemplate(buffer int) error {
	if buffer != 1 && buffer != 2 {
		return fmt.Errorf("r30x: character buffer %d: want 1 or 2", buffer)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.transact("Img2Tz", cmdImg2Tz, []byte{byte(buffer)}, 0)
	return err
}

// TemplateCount returns how many templates the module's library holds.
func (d *Dev) TemplateCount() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	res, err := d.transact("TemplateNum", cmdTemplNum, nil, 2)
	if err != nil {
		return 0, err
	}
	return int(res[0])<<8 | int(res[1]), nil
}

// AuraMode is the R503 LED ring effect.
type AuraMode byte

// R503 LED ring effects (AuraLedConfig control code).
const (
	AuraBreathing AuraMode = 1
	AuraFlashing  AuraMode = 2
	AuraOn        AuraMode = 3
	AuraOff       AuraMode = 4
	AuraFadeIn    AuraMode = 5
	AuraFadeOut   AuraMode = 6
)

// AuraColor is the R503 LED ring colour. Early R503 firmware has red, blue
// and purple only.
type AuraColor byte

// R503 LED ring colours.
const (
	AuraRed    AuraColor = 1
	AuraBlue   AuraColor = 2
	AuraPurple AuraColor = 3
	AuraGreen  AuraColor = 4
	AuraYellow AuraColor = 5
	AuraCyan   AuraColor = 6
	AuraWhite  AuraColor = 7
)

// Aura sets the R503 LED ring: effect, colour, speed (0 fastest .. 255) and,
// for breathing and flashing, the number of cycles (0 = endless). Modules
// without the ring answer with a confirmation code error.
func (d *Dev) Aura(mode AuraMode, color AuraColor, speed, count uint8) error {
	if mode < AuraBreathing || mode > AuraFadeOut {
		return fmt.Errorf("r30x: aura mode %d: want 1..6", mode)
	}
	if color < AuraRed || color > AuraWhite {
		return fmt.Errorf("r30x: aura colour %d: want 1..7", color)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.transact("AuraLedConfig", cmdAuraLed, []byte{byte(mode), speed, byte(color), count}, 0)
	return err
}
