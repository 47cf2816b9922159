package dataplane

import (
	"testing"
)

// FuzzInbound feeds arbitrary packets to a registered GM's WAN side: none
// may panic, and a valid ESP packet still decrypts afterwards (bad input
// costs no key).
func FuzzInbound(f *testing.F) {
	t := &testing.T{}
	_, a, b := pair(t, "aes128-sha1")
	good := a.run(false, udp(hostA, hostB, 1, 2, 100, false))[0]
	f.Add(good)
	f.Add(udp(hostB, hostA, 1, 2, 10, false))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b.run(true, pkt)
		if out := b.run(true, good); len(out) != 1 {
			t.Fatal("the good packet no longer decrypts")
		}
	})
}

// FuzzOutbound feeds arbitrary packets to a registered GM's LAN side: none
// may panic, and no ESP packet it makes exceeds the WAN MTU.
func FuzzOutbound(f *testing.F) {
	t := &testing.T{}
	_, a, _ := pair(t, "aes256gcm16")
	f.Add(udp(hostA, hostB, 1, 2, 100, true))
	f.Add(udp(hostA, hostB, 1, 2, 3000, false))
	f.Add([]byte{0x60, 0, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) > 65535 {
			return
		}
		for _, out := range a.run(false, pkt) {
			// Clear traffic passes at any size (the kernel fragments it or
			// answers it); what the GM encrypts must fit the WAN MTU.
			if out[9] == 50 && len(out) > 1500 {
				t.Fatalf("emitted %d octets, above the WAN MTU (proto %d): %v", len(out), out[9], a.e.Counters())
			}
		}
	})
}
