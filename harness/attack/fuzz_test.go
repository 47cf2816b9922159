package attack

import "testing"

// IPv4Payload takes any octets a packet socket hands over: it never
// panics, and what it returns lies inside them.
func FuzzIPv4Payload(f *testing.F) {
	f.Add([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 11, 0, 1, 0, 2, 0, 8, 0, 0})
	f.Add([]byte{0x4f})
	f.Fuzz(func(t *testing.T, b []byte) {
		src, _, payload, ok := IPv4Payload(b)
		if !ok {
			return
		}
		if len(payload) > len(b)-20 || src != [4]byte(b[12:16]) {
			t.Fatalf("payload of %d octets from a %d-octet packet, source %v", len(payload), len(b), src)
		}
	})
}
