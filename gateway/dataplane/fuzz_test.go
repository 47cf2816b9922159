package dataplane

import (
	"encoding/binary"
	"testing"

	"github.com/getlab/getlab/gateway/internal/testnet"
)

// FuzzInbound feeds arbitrary packets to registered GMs' WAN side, one on
// an AES-GCM TEK and one on AES-CBC: none may panic (a recovered panic
// counts as internal_error), and a valid ESP packet still decrypts
// afterwards (bad input costs no key). Seeded with each good packet cut at
// every length from its ESP header to IV + ICV.
func FuzzInbound(f *testing.F) {
	t := &testing.T{}
	type gm struct {
		b    *member
		good []byte
	}
	var gms []gm
	for _, tr := range []string{"aes128-sha1", "aes256gcm16"} {
		_, a, b := pair(t, tr)
		good := a.run(false, udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, false))[0]
		gms = append(gms, gm{b, good})
		f.Add(good)
		sa := b.e.state.Load().bySPI[binary.BigEndian.Uint32(good[20:])]
		for body := 0; body <= sa.Transform.IVLen()+sa.Transform.ICVLen(); body++ {
			f.Add(truncate(good, body))
		}
	}
	f.Add(udp(testnet.Host(2), testnet.Host(1), 1, 2, 10, false))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, g := range gms {
			g.b.run(true, pkt)
			if n := g.b.e.Count(InternalErrors); n != 0 {
				t.Fatalf("%d recovered panics on %x", n, pkt)
			}
			if out := g.b.run(true, g.good); len(out) != 1 {
				t.Fatal("the good packet no longer decrypts")
			}
		}
	})
}

// FuzzOutbound feeds arbitrary packets to a registered GM's LAN side at WAN
// MTUs from 68 to 1567: none may panic (a recovered panic counts as
// internal_error) or loop forever, and no ESP packet it makes exceeds the
// WAN MTU.
func FuzzOutbound(f *testing.F) {
	t := &testing.T{}
	_, a, _ := pair(t, "aes256gcm16")
	f.Add(udp(testnet.Host(1), testnet.Host(2), 1, 2, 100, true), uint16(1500-68))
	f.Add(udp(testnet.Host(1), testnet.Host(2), 1, 2, 3000, false), uint16(1500-68))
	f.Add(withOptions(udp(testnet.Host(1), testnet.Host(2), 1, 2, 300, false)), uint16(88-68))
	f.Add([]byte{0x60, 0, 0}, uint16(0))
	f.Fuzz(func(t *testing.T, pkt []byte, mtu uint16) {
		if len(pkt) > 65535 {
			return
		}
		wan := 68 + int(mtu)%1500
		a.e.SetMTU(wan)
		out := a.run(false, pkt)
		if n := a.e.Count(InternalErrors); n != 0 {
			t.Fatalf("%d recovered panics on %x at MTU %d", n, pkt, wan)
		}
		for _, out := range out {
			// Clear traffic passes at any size (the kernel fragments it or
			// answers it); what the GM encrypts must fit the WAN MTU.
			if out[9] == 50 && len(out) > wan {
				t.Fatalf("emitted %d octets, above the WAN MTU %d (proto %d): %v", len(out), wan, out[9], a.e.Counters())
			}
		}
	})
}
