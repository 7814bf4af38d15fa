//go:build !race

package arducamsim_test

const raceEnabled = false
