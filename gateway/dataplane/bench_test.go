package dataplane

import (
	"fmt"
	"testing"

	"github.com/getlab/getlab/gateway/internal/testnet"
)

// benchPair is testnet.GM(1).Addr() and testnet.GM(2).Addr() with workers that only count what they emit.
func benchPair(b *testing.B, tr string) (*Worker, *Worker, *[]byte) {
	t := &testing.T{}
	_, a, c := pair(t, tr)
	var last []byte
	wa := a.e.NewWorker(func(p []byte) error { last = p; return nil }, nil)
	wc := c.e.NewWorker(func(p []byte) error { last = p; return nil }, nil)
	return wa, wc, &last
}

// BenchmarkOutbound/<transform>/<packet octets>: one GM's work per packet
// from the LAN side (classify, pick the SA, IV, encrypt in place), without
// the TUN read and write; bytes/s are inner-packet octets.
func BenchmarkOutbound(b *testing.B) {
	for _, tr := range []string{"aes128gcm16", "aes256gcm16", "aes128-sha1", "aes256-sha256"} {
		for _, n := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%d", tr, n), func(b *testing.B) {
				wa, _, _ := benchPair(b, tr)
				pkt := udp(testnet.Host(1), testnet.Host(2), 5000, 6000, n-28, true)
				buf := make([]byte, Headroom+n+Tailroom)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					copy(buf[Headroom:], pkt)
					wa.Outbound(buf, Headroom, n)
				}
			})
		}
	}
}

// BenchmarkInbound/<transform>/<packet octets>: the receiving GM's work per
// packet (SPI lookup, decrypt in place, policy check).
func BenchmarkInbound(b *testing.B) {
	for _, tr := range []string{"aes128gcm16", "aes256gcm16", "aes128-sha1", "aes256-sha256"} {
		for _, n := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%d", tr, n), func(b *testing.B) {
				wa, wc, last := benchPair(b, tr)
				buf := make([]byte, Headroom+n+Tailroom)
				copy(buf[Headroom:], udp(testnet.Host(1), testnet.Host(2), 5000, 6000, n-28, true))
				wa.Outbound(buf, Headroom, n)
				esp := append([]byte(nil), *last...)
				in := make([]byte, Headroom+len(esp)+Tailroom)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					copy(in[Headroom:], esp)
					wc.Inbound(in, Headroom, len(esp))
				}
				if wc.e.Count(InDecrypted) == 0 {
					b.Fatal("nothing decrypted")
				}
			})
		}
	}
}
