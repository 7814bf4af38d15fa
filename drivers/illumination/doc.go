// Package illumination drives the LED light that lights the traveller's
// face for the camera, on one GPIO output: on, off, or dimmed with PWM
// where the pin has it.
//
// # Protocol
//
// A digital output through periph's gpio.PinOut, usually switching a
// constant-current LED driver's enable or dimming input (for example the
// PWM/EN input of a buck LED driver) or a MOSFET. gpio.PinOut.PWM sets a
// duty cycle and frequency on pins with hardware PWM (on a Raspberry Pi:
// GPIO12, GPIO13, GPIO18, GPIO19).
//
// # Quirks
//
//   - PWM is used only when Options.PWMFrequency is set; then a level
//     between 0 and 1 becomes the duty cycle. Without it, or when the pin
//     refuses PWM, any level above 0 is full on, and the error from the
//     refused PWM is returned once so the misconfiguration is seen.
//   - PWM below ~1 kHz flickers on camera (rolling shutter banding); the
//     default when PWM is asked for without a frequency is 20 kHz, above
//     hearing range for the driver's inductor.
//   - An active-low driver input inverts the level and the duty cycle
//     (Options.ActiveLow).
//   - New turns the light off. The driver does not own the pin.
package illumination
