//go:build !race

package nodeverify

const raceEnabled = false
