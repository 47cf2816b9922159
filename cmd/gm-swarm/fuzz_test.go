package main

import (
	"net/netip"
	"testing"

	"github.com/getlab/getlab/gateway/gdoi"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// fuzzKEK is the KEK the fuzzed registered member holds: a datagram whose
// cookies are its SPI reaches the PUSH decoder.
var fuzzKEK = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// FuzzMemberHandle feeds arbitrary datagrams to a member registering (its
// main mode in flight) and to one registered under a KEK: whatever a key
// server (or anybody) sends, a member never panics — it counts what it
// cannot take.
func FuzzMemberHandle(f *testing.F) {
	s, err := newSwarm(testConfig(2), func(_, _ netip.AddrPort, _ []byte) {})
	if err != nil {
		f.Fatal(err)
	}
	inFlight, holder := s.members[0], s.members[1]
	inFlight.register()
	f.Cleanup(func() {
		for _, m := range s.members {
			m.mu.Lock()
			if m.timer != nil {
				m.timer.Stop()
			}
			m.mu.Unlock()
		}
	})
	holder.state = registered
	holder.kek = &gdoi.KEK{SPI: fuzzKEK, Algorithm: gdoiwire.KEKAlgAES, KeyBits: 128, Key: make([]byte, 16), IV: make([]byte, 16)}
	push := isakmp.Header{ICookie: [8]byte(fuzzKEK[:8]), RCookie: [8]byte(fuzzKEK[8:]), Exchange: isakmp.ExchangeGroupkeyPush, Flags: isakmp.FlagEncryption}
	f.Add(push.Append(nil))
	f.Add(append(push.Append(nil), make([]byte, 48)...))
	mm := isakmp.Header{ICookie: [8]byte{9}, Exchange: isakmp.ExchangeMainMode}
	f.Add(mm.Append(nil))
	f.Add([]byte{})
	ks := netip.MustParseAddrPort("192.0.2.1:848")
	f.Fuzz(func(t *testing.T, b []byte) {
		inFlight.handle(ks, b)
		holder.handle(ks, b)
	})
}
