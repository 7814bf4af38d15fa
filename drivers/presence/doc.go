// Package presence reads a traveller-presence sensor on a GPIO input (an
// infrared break-beam or reflective sensor, a PIR module, a floor mat
// switch) and reports debounced arrivals and departures.
//
// # Protocol
//
// A digital line: one level means "someone is there". The sensors'
// datasheets (for example the Sharp GP2Y0D8xx distance switches, Panasonic
// EKMB PIR modules, and generic open-collector break-beam receivers) give
// the polarity and the output type; Options.ActiveLow and Options.Pull
// follow them. The line is read with periph's gpio.PinIn: In with both
// edges, then WaitForEdge and Read.
//
// # Quirks
//
//   - Mechanical mats and beams bounce and glitch when a bag or a coat
//     passes: a change counts only after the line has been quiet for
//     Options.Debounce (default 50 ms).
//   - PIR modules hold their output for seconds after motion stops; that
//     hold time is the module's, not debounce's.
//   - Open-collector outputs need a pull-up: set Options.Pull to
//     gpio.PullUp when the board has none.
//   - An edge lost while nobody waited is caught by comparing the level
//     after each idle wait.
//   - The driver does not own the pin and never halts it.
package presence
