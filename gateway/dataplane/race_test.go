//go:build race

package dataplane

// Under the race detector sync.Pool drops items on purpose (gateway/esp's
// HMAC scratch), so allocation counts are meaningless.
const raceEnabled = true
