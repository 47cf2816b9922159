//go:build !race

package ikev1

const raceEnabled = false
