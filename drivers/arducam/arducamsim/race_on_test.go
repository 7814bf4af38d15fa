//go:build race

package arducamsim_test

// raceEnabled trims the slowest size sweeps under the race detector, which
// makes JPEG encoding about fifteen times slower; the sweeps exercise no
// concurrency.
const raceEnabled = true
