package gm_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/internal/testnet"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// capturePush holds back the KS's next PUSH to the GM and returns it.
func (l *lab) capturePush(limit time.Duration) []byte {
	l.t.Helper()
	var got []byte
	l.net.Drop(func(d datagram) bool {
		h, _, _ := isakmp.ParseHeader(d.B)
		if d.To == testnet.GM(1) && h.Exchange == isakmp.ExchangeGroupkeyPush && got == nil {
			got = d.B
			return true
		}
		return false
	})
	defer l.net.Drop(nil)
	for d := time.Duration(0); d <= limit; d += time.Second {
		l.clkMu.Lock()
		l.clk = l.clk.Add(time.Second)
		l.clkMu.Unlock()
		l.ks.Tick()
		l.settle()
		l.mu.Lock()
		done := got != nil
		l.mu.Unlock()
		if done {
			return got
		}
	}
	l.t.Fatalf("no PUSH within %v", limit)
	return nil
}

// settle waits until no datagram is in flight.
func (l *lab) settle() {
	l.t.Helper()
	if err := l.net.Settle(5 * time.Second); err != nil {
		l.t.Fatal(err)
	}
}

// TestAckGoesBackToThePushSource: the acknowledgement is a reply, to the
// PUSH's source address and port, whatever port that is.
func TestAckGoesBackToThePushSource(t *testing.T) {
	l := newLab(t)
	pkt := l.capturePush(900 * time.Second)
	from := netip.MustParseAddrPort("192.0.2.1:40123")
	l.gm.HandlePacket(from, pkt)
	l.wait("acknowledgement", func(st snap) bool { return st.Acks == 1 })
	l.settle()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ackDst) != 1 || l.ackDst[0] != from {
		t.Fatalf("acknowledgements went to %v, want %v", l.ackDst, from)
	}
}

// TestAckTypeUnsupported: a KEK that asks for an LKH acknowledgement keeps
// the GM registered and taking rekeys, unacknowledged, counted and logged.
func TestAckTypeUnsupported(t *testing.T) {
	l := newLab(t)
	l.gm.SetAckType("GETVPN", 2) // REKEY_ACK_LKH_SHA256
	l.nextRekey(900 * time.Second)
	st := l.wait("rekey", func(st snap) bool { return st.Received == 1 })
	l.settle()
	if st.Acks != 0 || st.State != "registered" || len(st.TEKs) != 2 {
		t.Fatalf("after the rekey: %+v", st)
	}
	if n := l.counter("rekey_ack_unsupported"); n != 1 {
		t.Fatalf("rekey_ack_unsupported %d", n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ackDst) != 0 {
		t.Fatalf("acknowledged: %v", l.ackDst)
	}
}
