// Package tamper watches the kiosk enclosure's tamper switch on a GPIO
// input and reports each opening and closing as an event, latching the
// fact that the enclosure was opened until it is acknowledged.
//
// # Protocol
//
// A digital line from a switch: usually a normally-closed microswitch or
// reed contact pulling the line low while the door is shut, with a pull-up
// that takes it high when the door opens (Options.ActiveLow inverts this
// for switches wired the other way). Read with periph's gpio.PinIn: In
// with both edges, then WaitForEdge and Read.
//
// # Quirks
//
//   - Switch contacts bounce for a few milliseconds: a change counts only
//     after Options.Debounce (default 20 ms) of quiet. A kick to the
//     cabinet that opens the contact for less than that is not a tamper.
//   - A cut wire reads as "open" with the default pull-up, which is the
//     safe reading for a tamper input.
//   - The opening is latched: Tampered stays true after the door is shut
//     again, until Clear, so an opening while the agent was busy is not
//     lost. An opening while the agent was not running is seen at New, as
//     the initial state.
//   - The driver does not own the pin and never halts it.
package tamper
