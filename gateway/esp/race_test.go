//go:build race

package esp

// Under the race detector sync.Pool drops items on purpose, so allocation
// counts are meaningless.
const raceEnabled = true
