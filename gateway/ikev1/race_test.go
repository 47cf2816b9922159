//go:build race

package ikev1

// Under the race detector sync.Pool drops items on purpose (PRF's HMAC
// states), so allocation counts are meaningless.
const raceEnabled = true
