package esp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

var (
	hostA = netip.MustParseAddr("198.51.100.10")
	hostB = netip.MustParseAddr("203.0.113.10")
)

// udpPacket is an IPv4/UDP packet hostA:5000 > hostB:6000 with n payload
// octets, TOS tos, TTL 63 and DF set as asked.
func udpPacket(n int, tos uint8, df bool) []byte {
	b := make([]byte, 28+n)
	ipv4.WriteHeader(b, &ipv4.Header{TOS: tos, TotalLen: len(b), ID: 7, DF: df, TTL: 63, Protocol: ipv4.ProtoUDP, Src: hostA, Dst: hostB})
	binary.BigEndian.PutUint16(b[20:], 5000)
	binary.BigEndian.PutUint16(b[22:], 6000)
	binary.BigEndian.PutUint16(b[24:], uint16(8+n))
	for i := range n {
		b[28+i] = byte(i)
	}
	return b
}

func ivFor(t testing.TB, tr espwire.Transform) []byte {
	iv := make([]byte, tr.IVLen())
	var src IVSource = NoIV{}
	switch {
	case tr.Combined():
		s, err := NewSenderIV(5, 16)
		if err != nil {
			t.Fatal(err)
		}
		src = s
	case tr.IVLen() == 16 || tr.IVLen() == 8:
		s, err := NewCBCIV(tr.IVLen())
		if err != nil {
			t.Fatal(err)
		}
		src = s
	}
	if err := src.Next(iv); err != nil {
		t.Fatal(err)
	}
	return iv
}

func TestTunnelRoundTrip(t *testing.T) {
	for _, tr := range supported() {
		c := newRandom(t, tr, false)
		for _, n := range []int{0, 1, 1372} {
			inner := udpPacket(n, 0xb8|2, true) // DSCP EF, ECT(0)
			pkt, err := c.SealTunnel(nil, 0x2d45c4e9, 9, ivFor(t, tr), 0x99, inner, &Tunnel{TTLBoost: 1})
			if err != nil {
				t.Fatalf("%v: %v", tr, err)
			}
			if _, err := ipv4.Check(pkt); err != nil || !ipv4.HeaderOK(pkt) {
				t.Fatalf("%v: outer header: %v", tr, err)
			}
			if ipv4.Src(pkt) != hostA || ipv4.Dst(pkt) != hostB {
				t.Fatalf("%v: outer %v > %v, want the inner addresses", tr, ipv4.Src(pkt), ipv4.Dst(pkt))
			}
			if ipv4.TOS(pkt) != 0xb8|2 || ipv4.Protocol(pkt) != 50 || !ipv4.DF(pkt) || ipv4.TTL(pkt) != 64 {
				t.Fatalf("%v: outer tos %#x proto %d df %v ttl %d", tr, ipv4.TOS(pkt), ipv4.Protocol(pkt), ipv4.DF(pkt), ipv4.TTL(pkt))
			}
			if got, want := len(pkt)-len(inner), TunnelOverhead(tr, len(inner)); got != want {
				t.Fatalf("%v: overhead %d, TunnelOverhead says %d", tr, got, want)
			}
			spi, off, err := SPIOf(pkt)
			if err != nil || spi != 0x2d45c4e9 || off != 20 {
				t.Fatalf("%v: SPIOf %#x %d %v", tr, spi, off, err)
			}
			got, err := c.OpenTunnel(pkt)
			if err != nil {
				t.Fatalf("%v: open: %v", tr, err)
			}
			if !bytes.Equal(got, udpPacket(n, 0xb8|2, true)) {
				t.Fatalf("%v: inner differs after the round trip", tr)
			}
		}
	}
}

func TestTunnelDFAndAddresses(t *testing.T) {
	tr, _ := espwire.ParseTransform("aes128gcm16")
	c := newRandom(t, tr, false)
	gm := netip.MustParseAddr("192.0.2.11")
	for _, tc := range []struct {
		tun     Tunnel
		innerDF bool
		wantDF  bool
	}{
		{Tunnel{DF: DFCopy}, true, true},
		{Tunnel{DF: DFCopy}, false, false},
		{Tunnel{DF: DFSet}, false, true},
		{Tunnel{DF: DFClear}, true, false},
		{Tunnel{DF: DFCopy, Src: gm}, false, false},
	} {
		pkt, err := c.SealTunnel(nil, 1, 1, ivFor(t, tr), 1, udpPacket(10, 0, tc.innerDF), &tc.tun)
		if err != nil {
			t.Fatal(err)
		}
		if ipv4.DF(pkt) != tc.wantDF {
			t.Errorf("%v inner DF %v: outer DF %v", tc.tun.DF, tc.innerDF, ipv4.DF(pkt))
		}
		if want := cmpOr(tc.tun.Src, hostA); ipv4.Src(pkt) != want {
			t.Errorf("outer source %v, want %v", ipv4.Src(pkt), want)
		}
		if ipv4.TTL(pkt) != 63 {
			t.Errorf("outer TTL %d without boost, want the inner 63", ipv4.TTL(pkt))
		}
	}
	if _, err := ParseDFPolicy("sometimes"); err == nil {
		t.Fatal("bad df-bit policy accepted")
	}
}

func cmpOr(a, b netip.Addr) netip.Addr {
	if a.IsValid() {
		return a
	}
	return b
}

func TestTunnelECNDecap(t *testing.T) {
	tr, _ := espwire.ParseTransform("aes256gcm16")
	c := newRandom(t, tr, false)
	for _, tc := range []struct{ inner, outer, want uint8 }{
		{2, 3, 3}, // ECT(0) inside, CE outside: CE propagates (RFC 6040)
		{1, 3, 3},
		{0, 3, 0}, // Not-ECT inner stays Not-ECT
		{2, 2, 2},
	} {
		pkt, _ := c.SealTunnel(nil, 1, 1, ivFor(t, tr), 1, udpPacket(4, 0x28<<2|tc.inner, false), &Tunnel{})
		ipv4.SetECN(pkt, tc.outer) // a congested WAN router marks the outer header
		inner, err := c.OpenTunnel(pkt)
		if err != nil {
			t.Fatal(err)
		}
		if ipv4.ECN(inner) != tc.want || ipv4.DSCP(inner) != 0x28 || !ipv4.HeaderOK(inner) {
			t.Errorf("inner %d outer %d: inner becomes %d (dscp %#x)", tc.inner, tc.outer, ipv4.ECN(inner), ipv4.DSCP(inner))
		}
	}
}

func TestTunnelRejects(t *testing.T) {
	tr, _ := espwire.ParseTransform("aes128-sha1")
	c := newRandom(t, tr, false)
	if _, err := c.SealTunnel(nil, 1, 1, ivFor(t, tr), 1, []byte{0x45, 0, 0}, &Tunnel{}); !errors.Is(err, ErrInner) {
		t.Fatalf("short inner: %v", err)
	}
	good, _ := c.SealTunnel(nil, 1, 1, ivFor(t, tr), 1, udpPacket(100, 0, false), &Tunnel{})

	tampered := bytes.Clone(good)
	tampered[60] ^= 1
	if _, err := c.OpenTunnel(tampered); !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered: %v", err)
	}
	frag := bytes.Clone(good)
	frag[6] |= 0x20 // MF
	if _, err := c.OpenTunnel(frag); !errors.Is(err, ErrFragment) {
		t.Fatalf("fragment: %v", err)
	}
	notESP := bytes.Clone(good)
	notESP[9] = ipv4.ProtoUDP
	if _, err := c.OpenTunnel(notESP); !errors.Is(err, ErrOuter) {
		t.Fatalf("not ESP: %v", err)
	}
	if _, err := c.OpenTunnel(good[:30]); !errors.Is(err, ErrOuter) {
		t.Fatalf("truncated: %v", err)
	}
	// A payload that is not IPv4 (here: the ESP dummy packet) is refused.
	esp, _ := c.Seal(nil, 1, 1, ivFor(t, tr), espwire.NextHeaderDummy, []byte{1, 2, 3})
	dummy := make([]byte, 20+len(esp))
	ipv4.WriteHeader(dummy, &ipv4.Header{TotalLen: len(dummy), TTL: 9, Protocol: 50, Src: hostA, Dst: hostB})
	copy(dummy[20:], esp)
	if _, err := c.OpenTunnel(dummy); !errors.Is(err, ErrDummy) {
		t.Fatalf("dummy: %v", err)
	}
}

func TestSenderIV(t *testing.T) {
	g, err := NewSenderIV(0xabcd, 16)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 8)
	g.Next(iv)
	if binary.BigEndian.Uint64(iv) != 0xabcd<<48|1 {
		t.Fatalf("first IV %x, want SID 0xabcd then counter 1", iv)
	}
	g.Next(iv)
	if binary.BigEndian.Uint64(iv) != 0xabcd<<48|2 {
		t.Fatalf("second IV %x", iv)
	}
	if _, err := NewSenderIV(1<<16, 16); err == nil {
		t.Fatal("SID wider than its bits accepted")
	}
	// With 32 SID bits the counter space is 2^32: exhaust it artificially.
	g, _ = NewSenderIV(1, 32)
	g.ctr.Store(1<<32 - 2)
	if err := g.Next(iv); err != nil {
		t.Fatal(err)
	}
	if err := g.Next(iv); !errors.Is(err, ErrIVExhausted) {
		t.Fatalf("after the last counter: %v", err)
	}
	if err := g.Next(iv); !errors.Is(err, ErrIVExhausted) {
		t.Fatal("exhausted source wrapped")
	}
}

func TestCBCIVUnique(t *testing.T) {
	for _, n := range []int{16, 8} {
		g, err := NewCBCIV(n)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for range 10000 {
			iv := make([]byte, n)
			if err := g.Next(iv); err != nil {
				t.Fatal(err)
			}
			if seen[string(iv)] {
				t.Fatalf("repeated %d-octet CBC IV", n)
			}
			seen[string(iv)] = true
		}
	}
	if _, err := NewCBCIV(12); err == nil {
		t.Error("a 12-octet CBC IV source")
	}
}

// truncatedTunnel is an outer IPv4 ESP packet (header preserved from a
// sealed packet, total length fixed up) whose ESP part is the 8-octet
// header followed by body octets of the sealed packet.
func truncatedTunnel(sealed []byte, body int) []byte {
	pkt := bytes.Clone(sealed[:ipv4.HeaderLen+espwire.HeaderLen+body])
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], ipv4.Checksum(pkt[:ipv4.HeaderLen]))
	return pkt
}

// An ESP packet cut anywhere from right after its header up to IV + ICV
// (and beyond, up to the shortest packet the transform makes) is refused
// with ErrShort, never a panic: the 28-octet packet (IPv4 header, SPI,
// sequence) used to slice past its end.
func TestOpenTunnelTruncated(t *testing.T) {
	for _, tr := range supported() {
		c := newRandom(t, tr, false)
		sealed, err := c.SealTunnel(nil, 0x1234, 1, ivFor(t, tr), 1, udpPacket(40, 0, false), &Tunnel{})
		if err != nil {
			t.Fatal(err)
		}
		minBody := c.MinLen() - espwire.HeaderLen
		if minBody < tr.IVLen()+tr.ICVLen()+1 {
			t.Fatalf("%v: MinLen %d does not cover IV + ICV + a ciphertext", tr, c.MinLen())
		}
		for body := 0; body < minBody; body++ {
			pkt := truncatedTunnel(sealed, body)
			if _, spiOff, err := SPIOf(pkt); err != nil || spiOff != ipv4.HeaderLen {
				t.Fatalf("%v: body %d: the truncated packet does not pass SPIOf (%v): the test would not reach OpenTunnel's slicing", tr, body, err)
			}
			inner, err := c.OpenTunnel(pkt)
			if !errors.Is(err, ErrShort) || inner != nil {
				t.Fatalf("%v: body %d octets: got %v, %v; want ErrShort", tr, body, inner, err)
			}
			var pe *espwire.ParseError
			if !errors.As(err, &pe) || pe.Have != espwire.HeaderLen+body || pe.Want != c.MinLen() {
				t.Fatalf("%v: body %d octets: %v does not say the octets needed and present", tr, body, err)
			}
		}
		// The shortest well-formed length is past the length check: it
		// fails authentication, not the length check.
		if _, err := c.OpenTunnel(truncatedTunnel(sealed, minBody)); errors.Is(err, ErrShort) || err == nil {
			t.Fatalf("%v: %d-octet body: %v, want an error other than ErrShort", tr, minBody, err)
		}
	}
}
