// Package testnet is the lab the roles' unit tests share: its key
// servers' and group members' GDOI endpoints (RFC 5737 TEST-NET-1, port
// 848), so that a KS in one package's tests and a GM in another's are the
// same hosts, as the example configurations in those tests name them.
package testnet

import "net/netip"

// KS is key server n (1, 2, ...) at 192.0.2.n.
func KS(n int) netip.AddrPort { return host(n) }

// GM is group member n (1, 2, ...) at 192.0.2.(10+n).
func GM(n int) netip.AddrPort { return host(10 + n) }

// Stranger, at 192.0.2.99, has no pre-shared key with anybody.
func Stranger() netip.AddrPort { return host(99) }

func host(n int) netip.AddrPort {
	if n < 1 || n > 254 {
		panic("testnet: no such host")
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(n)}), 848)
}
