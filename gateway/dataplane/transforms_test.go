package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/getlab/getlab/gateway/clock"
	"github.com/getlab/getlab/gateway/gdoi"
	"github.com/getlab/getlab/gateway/internal/testnet"
	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// TestMixedTransformsInOneGroup: a KS may give each permit entry its own
// transform (gdoid's corpus KS: TEK1 3DES, TEK2 AES-CBC), so one group's
// TEKs differ. Each flow is encrypted with its own TEK's transform (the ESP
// packet's length is that transform's IV, padding and ICV) and decrypted by
// the peer GM with the SA's own cipher.
func TestMixedTransformsInOneGroup(t *testing.T) {
	hostC := netip.MustParseAddr("100.64.0.10")
	siteC := netip.MustParsePrefix("100.64.0.0/24")
	flows := []struct {
		spi      uint32
		tr       string
		src, dst netip.Addr
		from, to netip.Prefix
	}{
		{0x1001, "3des-sha1", testnet.Host(1), testnet.Host(2), testnet.Site(1), testnet.Site(2)},
		{0x2002, "aes128-sha1", testnet.Host(2), testnet.Host(1), testnet.Site(2), testnet.Site(1)},
		{0x3003, "aes256gcm16", testnet.Host(1), hostC, testnet.Site(1), siteC},
	}
	policy := func(sid uint32) *gdoi.Policy {
		p := groupPolicy(t, "aes128-sha1", sid)
		p.TEKs = nil
		for _, f := range flows {
			x, err := espwire.ParseTransform(f.tr)
			if err != nil {
				t.Fatal(err)
			}
			p.TEKs = append(p.TEKs, gdoi.TEK{SPI: f.spi, Transform: x, Selector: gdoi.Selector{Src: f.from, Dst: f.to}, Lifetime: time.Hour,
				EncKey: bytes.Repeat([]byte{byte(f.spi)}, x.EncKeyLen()), AuthKey: bytes.Repeat([]byte{byte(f.spi >> 8)}, x.AuthKeyLen())})
		}
		return p
	}
	clk := clock.NewFake(time.Unix(1e9, 0))
	a, b := newMember(t, clk, testnet.GM(1).Addr(), nil, "ios"), newMember(t, clk, testnet.GM(2).Addr(), nil, "ios")
	for i, m := range []*member{a, b} {
		if err := m.e.Install("GETVPN", policy(uint32(i+1)), clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	const n = 1001 // no multiple of 4, 8 or 16: each transform pads differently
	for _, f := range flows {
		x, _ := espwire.ParseTransform(f.tr)
		in := udp(f.src, f.dst, 5000, 6000, n-28, false)
		sender, receiver := a, b
		if f.src == testnet.Host(2) {
			sender, receiver = b, a
		}
		out := sender.run(false, in)
		if len(out) != 1 {
			t.Fatalf("%s: outbound emitted %d packets", f.tr, len(out))
		}
		pkt := out[0]
		if spi := binary.BigEndian.Uint32(pkt[20:]); spi != f.spi {
			t.Fatalf("%s: SPI %#x, want %#x", f.tr, spi, f.spi)
		}
		want := 20 + espwire.HeaderLen + x.IVLen() + n + x.PadLen(n) + espwire.TrailerLen + x.ICVLen()
		if len(pkt) != want || ipv4.Protocol(pkt) != ipv4.ProtoESP {
			t.Errorf("%s: ESP packet of %d octets, want %d (IV %d, ICV %d)", f.tr, len(pkt), want, x.IVLen(), x.ICVLen())
		}
		got := receiver.run(true, pkt)
		if len(got) != 1 || !bytes.Equal(got[0], in) {
			t.Fatalf("%s: the peer GM did not give back the inner packet", f.tr)
		}
	}
	if a.e.Count(OutEncrypted) != 2 || b.e.Count(InDecrypted) != 2 || b.e.Count(OutEncrypted) != 1 || a.e.Count(InDecrypted) != 1 {
		t.Fatalf("counters %v / %v", a.e.Counters(), b.e.Counters())
	}
}
