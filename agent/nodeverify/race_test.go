//go:build race

package nodeverify

// raceEnabled shortens the exhaustive tamper test under the race detector,
// which makes HPKE and Ed25519 many times slower.
const raceEnabled = true
