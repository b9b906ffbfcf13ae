//go:build race

package policy

// raceEnabled: the race detector makes sync.Pool drop items at random.
const raceEnabled = true
