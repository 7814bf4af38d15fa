// Package statusled drives the kiosk's tri-colour status LED: up to three
// GPIO outputs (red, green, blue), each switching one die of a common-
// cathode or common-anode RGB LED, showing the kiosk's state to the
// officer in solid or blinking colours.
//
// # Protocol
//
// Plain digital outputs through periph's gpio.PinOut. A common-cathode LED
// lights a die on a high output; a common-anode LED (or a low-side driver
// transistor) lights it on a low output: set Options.ActiveLow.
//
// # Quirks
//
//   - Any subset of the three pins may be wired (the config asks for at
//     least one). A colour that needs an unwired die is refused with an
//     error naming the missing pin, rather than shown as something else.
//   - Blinking needs Run: without it a blinking pattern shows as its
//     colour, steady. Run owns the timing and turns the LED off when it
//     returns.
//   - Mixed colours (yellow, cyan, magenta, white) light two or three dies
//     at once; their brightness is whatever the dies and resistors give.
//   - New turns every die off. The driver does not own the pins.
package statusled
