//go:build race

package minutiae

// raceEnabled shortens the accuracy tests under the race detector, which
// makes growing synthetic masters and extracting hundreds of images many
// times slower and adds nothing to their single-goroutine work.
const raceEnabled = true
