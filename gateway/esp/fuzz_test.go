package esp

import (
	"bytes"
	"errors"
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// fuzzCiphers: fixed keys, one Cipher per supported transform, with and
// without ESN.
var fuzzCiphers = func() []*Cipher {
	var cs []*Cipher
	for _, tr := range supported() {
		enc := bytes.Repeat([]byte{0x42}, tr.EncKeyLen())
		auth := bytes.Repeat([]byte{0x24}, tr.AuthKeyLen())
		c, _ := NewCipher(tr, enc, auth)
		e, _ := NewCipherESN(tr, enc, auth)
		cs = append(cs, c, e)
	}
	return cs
}()

func seedPackets(f *testing.F) {
	for i, c := range fuzzCiphers {
		for _, n := range []int{0, 3, 40} {
			iv := bytes.Repeat([]byte{byte(i)}, c.Transform().IVLen())
			p, err := c.Seal(nil, 0x1000+uint32(i), 1, iv, 4, bytes.Repeat([]byte{0xee}, n))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(p, uint8(i), uint32(0))
			f.Add(p[:len(p)-1], uint8(i), uint32(0))
		}
	}
}

// FuzzOpen: any octets into Open and OpenESN never panic, errors are ErrAuth
// or *ParseError, and (in the unlikely case the fuzzer forges a packet) the
// payload fits the packet.
func FuzzOpen(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, packet []byte, sel uint8, seqHi uint32) {
		c := fuzzCiphers[int(sel)%len(fuzzCiphers)]
		got, _, err := open(c, nil, packet, seqHi)
		if err != nil {
			var pe *espwire.ParseError
			if !errors.Is(err, ErrAuth) && !errors.As(err, &pe) {
				t.Fatalf("%v: unexpected error %v", c.Transform(), err)
			}
			return
		}
		if len(got) > len(packet) {
			t.Fatalf("%v: payload longer than the packet", c.Transform())
		}
		// In place must agree.
		buf := bytes.Clone(packet)
		hdr := espwire.HeaderLen + c.Transform().IVLen()
		if got2, _, err := open(c, buf[hdr:hdr], buf, seqHi); err != nil || !bytes.Equal(got, got2) {
			t.Fatalf("%v: in-place Open disagrees: %v", c.Transform(), err)
		}
	})
}

// FuzzSealOpen: Open(Seal(payload)) gives the payload back, in any mode.
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte("payload"), uint8(0), uint64(1), byte(4))
	f.Add([]byte{}, uint8(7), uint64(1<<40), byte(41))
	f.Fuzz(func(t *testing.T, payload []byte, sel uint8, seq uint64, nh byte) {
		c := fuzzCiphers[int(sel)%len(fuzzCiphers)]
		if !c.ESN() {
			seq &= 0xffffffff
		}
		iv := bytes.Repeat([]byte{sel}, c.Transform().IVLen())
		packet, err := c.Seal(nil, 77, seq, iv, nh, payload)
		if err != nil {
			t.Fatal(err)
		}
		got, gotNH, err := open(c, nil, packet, uint32(seq>>32))
		if err != nil || gotNH != nh || !bytes.Equal(got, payload) {
			t.Fatalf("%v: round trip: %v", c.Transform(), err)
		}
	})
}

// FuzzOpenTunnel: any outer packet into OpenTunnel, on each transform, never
// panics; errors are the documented ones; what opens is a well-formed IPv4
// packet inside the outer one. Seeded with a sealed packet of each transform
// cut at every length from its ESP header on (the 28-octet packet that used
// to slice past its end among them) and with other corner cases.
func FuzzOpenTunnel(f *testing.F) {
	for i, c := range fuzzCiphers {
		if c.ESN() {
			continue
		}
		tr := c.Transform()
		iv := bytes.Repeat([]byte{byte(i)}, tr.IVLen())
		inner := make([]byte, 28)
		ipv4.WriteHeader(inner, &ipv4.Header{TotalLen: 28, TTL: 64, Protocol: ipv4.ProtoUDP, Src: hostA, Dst: hostB})
		sealed, err := c.SealTunnel(nil, 0x2000+uint32(i), 1, iv, 9, inner, &Tunnel{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed, uint8(i))
		for body := 0; body <= tr.IVLen()+tr.ICVLen(); body++ {
			f.Add(truncatedTunnel(sealed, body), uint8(i))
		}
		mangled := bytes.Clone(sealed)
		mangled[0] = 0x4f // IHL 60 octets: the header swallows the ESP header
		f.Add(mangled, uint8(i))
	}
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{0x45}, uint8(0))
	f.Fuzz(func(t *testing.T, pkt []byte, sel uint8) {
		c := fuzzCiphers[int(sel)%len(fuzzCiphers)]
		orig := bytes.Clone(pkt)
		inner, err := c.OpenTunnel(pkt)
		if err != nil {
			var pe *espwire.ParseError
			for _, known := range []error{ErrShort, ErrOuter, ErrFragment, ErrAuth, ErrESN, ErrDummy, ErrNextHeader, ErrInner} {
				if errors.Is(err, known) {
					return
				}
			}
			if !errors.As(err, &pe) {
				t.Fatalf("%v: unexpected error %v on %x", c.Transform(), err, orig)
			}
			return
		}
		if _, err := ipv4.Check(inner); err != nil || len(inner) > len(pkt) {
			t.Fatalf("%v: opened a packet that is not well-formed IPv4 or outgrows %d octets: %v", c.Transform(), len(pkt), err)
		}
	})
}
