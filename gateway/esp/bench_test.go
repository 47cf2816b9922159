package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
)

var benchSizes = []int{64, 1400}

func benchTransforms() []espwire.Transform {
	var ts []espwire.Transform
	for _, s := range []string{"aes128gcm16", "aes256gcm16", "aes128-sha1", "aes128-sha256", "aes256-sha256", "aes256-sha512", "null-sha256"} {
		tr, err := espwire.ParseTransform(s)
		if err != nil {
			panic(err)
		}
		ts = append(ts, tr)
	}
	return ts
}

// BenchmarkSeal/<transform>/<payload octets>: bytes/s are payload octets.
func BenchmarkSeal(b *testing.B) {
	for _, tr := range benchTransforms() {
		c := newRandom(b, tr, false)
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%v/%d", tr, n), func(b *testing.B) {
				payload := randBytes(n)
				iv := randBytes(tr.IVLen())
				packet := make([]byte, 0, tr.SealedLen(n))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					packet, _ = c.Seal(packet[:0], 1, uint64(uint32(i)), iv, 4, payload)
				}
			})
		}
	}
}

// BenchmarkOpen/<transform>/<payload octets>.
func BenchmarkOpen(b *testing.B) {
	for _, tr := range benchTransforms() {
		c := newRandom(b, tr, false)
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%v/%d", tr, n), func(b *testing.B) {
				packet, err := c.Seal(nil, 1, 2, randBytes(tr.IVLen()), 4, randBytes(n))
				if err != nil {
					b.Fatal(err)
				}
				plain := make([]byte, 0, len(packet))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if plain, _, err = c.Open(plain[:0], packet); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRawAESGCM is the ceiling: crypto/cipher AES-GCM Seal of the same
// payload sizes with an 8-octet AAD, no ESP framing.
func BenchmarkRawAESGCM(b *testing.B) {
	for _, bits := range []int{128, 256} {
		blk, _ := aes.NewCipher(randBytes(bits / 8))
		g, _ := cipher.NewGCM(blk)
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("aes%dgcm16/%d", bits, n), func(b *testing.B) {
				payload, nonce, aad := randBytes(n), randBytes(12), randBytes(8)
				out := make([]byte, 0, n+16)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					out = g.Seal(out[:0], nonce, payload, aad)
				}
			})
		}
	}
}

// BenchmarkSealTunnel/<transform>/<inner octets>: the data plane's outbound
// work per packet (IV, sequence number, outer header, Seal in place); bytes/s
// are inner-packet octets.
func BenchmarkSealTunnel(b *testing.B) {
	for _, tr := range benchTransforms() {
		c := newRandom(b, tr, false)
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%v/%d", tr, n), func(b *testing.B) {
				inner := udpPacket(n-28, 0, true)
				buf := make([]byte, 64+n+64)
				copy(buf[64:], inner)
				head := 20 + 8 + tr.IVLen()
				var ivs IVSource = NoIV{}
				if tr.Combined() {
					ivs, _ = NewSenderIV(1, 16)
				} else if tr.IVLen() == 16 {
					ivs, _ = NewCBCIV(16)
				}
				iv := make([]byte, tr.IVLen())
				tun := &Tunnel{TTLBoost: 1}
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					ivs.Next(iv)
					if _, err := c.SealTunnel(buf[64-head:64-head], 1, uint64(uint32(i)), iv, uint16(i), buf[64:64+n], tun); err != nil {
						b.Fatal(err)
					}
					copy(buf[64:], inner) // seal in place overwrote it
				}
			})
		}
	}
}

// BenchmarkOpenTunnel/<transform>/<inner octets>: the inbound work per
// packet (outer checks, Open in place, inner checks).
func BenchmarkOpenTunnel(b *testing.B) {
	for _, tr := range benchTransforms() {
		c := newRandom(b, tr, false)
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%v/%d", tr, n), func(b *testing.B) {
				pkt, err := c.SealTunnel(nil, 1, 1, make([]byte, tr.IVLen()), 1, udpPacket(n-28, 0, true), &Tunnel{})
				if err != nil {
					b.Fatal(err)
				}
				work := make([]byte, len(pkt))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					copy(work, pkt)
					if _, err := c.OpenTunnel(work); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
