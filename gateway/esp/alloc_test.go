package esp

import (
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

// Seal and Open into buffers of enough capacity allocate nothing, for every
// transform (HMAC included: its state is reused from the pool, Reset
// restores the keyed state).
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, tr := range supported() {
		for _, esn := range []bool{false, true} {
			c := newRandom(t, tr, esn)
			payload := randBytes(1400)
			iv := randBytes(tr.IVLen())
			packet := make([]byte, 0, tr.SealedLen(len(payload)))
			plain := make([]byte, 0, len(payload)+tr.Overhead())
			sealAllocs := testing.AllocsPerRun(100, func() {
				packet, _ = c.Seal(packet[:0], 1, 2, iv, espwire.NextHeaderIPv4, payload)
			})
			openAllocs := testing.AllocsPerRun(100, func() {
				var err error
				if plain, _, err = open(c, plain[:0], packet, 0); err != nil {
					t.Fatal(err)
				}
			})
			if sealAllocs != 0 || openAllocs != 0 {
				t.Errorf("%v esn=%v: %v allocs per Seal, %v per Open", tr, esn, sealAllocs, openAllocs)
			}
		}
	}
}

// The tunnel path as the data plane runs it: the inner packet read into a
// buffer with headroom, sealed in place, then opened in place, allocates
// nothing.
func TestTunnelAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, tr := range supported() {
		c := newRandom(t, tr, false)
		inner := udpPacket(1372, 0, true)
		buf := make([]byte, 64+len(inner)+64)
		head := 20 + 8 + tr.IVLen()
		iv := ivFor(t, tr)
		allocs := testing.AllocsPerRun(100, func() {
			copy(buf[64:], inner)
			pkt, err := c.SealTunnel(buf[64-head:64-head], 1, 2, iv, 3, buf[64:64+len(inner)], &Tunnel{})
			if err != nil {
				t.Fatal(err)
			}
			if &pkt[0] != &buf[64-head] {
				t.Fatal("not sealed in place")
			}
			if _, err := c.OpenTunnel(pkt); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocs per seal+open", tr, allocs)
		}
	}
}
