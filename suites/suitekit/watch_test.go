package suitekit

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// pullPacket is an IPv4/UDP packet from src carrying an ISAKMP header of
// exchange x, message ID id, and body.
func pullPacket(src netip.Addr, x isakmp.ExchangeType, id uint32, body string) []byte {
	isa := make([]byte, 28, 28+len(body))
	isa[18] = uint8(x)
	binary.BigEndian.PutUint32(isa[20:], id)
	isa = append(isa, body...)
	pkt := make([]byte, 20+8, 20+8+len(isa))
	pkt[0] = 0x45
	pkt[9] = 17 // UDP
	copy(pkt[12:16], src.AsSlice())
	return append(pkt, isa...)
}

// A registration completes at the KS's second distinct PULL message of
// one exchange: not at its first, not at a retransmission, not at a GM's
// message, another exchange's or another KS's.
func TestPullWatcherCompletesAtPULL4(t *testing.T) {
	ks, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	w := newPullWatcher(ks)
	for i, c := range []struct {
		pkt  []byte
		want bool
	}{
		{pullPacket(ks, isakmp.ExchangeGroupkeyPull, 7, "pull 2"), false},
		{pullPacket(ks, isakmp.ExchangeGroupkeyPull, 7, "pull 2"), false}, // retransmitted
		{pullPacket(other, isakmp.ExchangeGroupkeyPull, 7, "pull 4"), false},
		{pullPacket(ks, isakmp.ExchangeMainMode, 7, "mm 4"), false},
		{pullPacket(ks, isakmp.ExchangeGroupkeyPull, 8, "pull 2"), false},
		{pullPacket(ks, isakmp.ExchangeGroupkeyPull, 7, "pull 4"), true},
		{pullPacket(ks, isakmp.ExchangeGroupkeyPull, 7, "pull 4"), false}, // retransmitted
		{pullPacket(ks, isakmp.ExchangeGroupkeyPull, 8, "pull 4"), true},
		{pullPacket(ks, isakmp.ExchangeGroupkeyPull, 9, "")[:40], false}, // truncated
	} {
		if got := w.completes(c.pkt); got != c.want {
			t.Errorf("packet %d: completes %v, want %v", i+1, got, c.want)
		}
	}
}

// Whatever crosses the wire, the watcher does not panic.
func FuzzPullWatcher(f *testing.F) {
	ks := netip.MustParseAddr("192.0.2.1")
	f.Add(pullPacket(ks, isakmp.ExchangeGroupkeyPull, 7, "pull 2"))
	f.Add([]byte{0x4f, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		w := newPullWatcher(ks)
		w.completes(b)
		w.completes(b)
	})
}
