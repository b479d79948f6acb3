//go:build !race

package eventbus

// raceEnabled reports that the test binary runs under the race detector.
const raceEnabled = false
