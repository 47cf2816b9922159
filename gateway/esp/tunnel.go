package esp

import (
	"fmt"
	"net/netip"

	espwire "github.com/getlab/getlab/gateway/wire/esp"
	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// Tunnel mode with address preservation (RFC 5374 §3.1, GETVPN's "header
// preservation"): the ESP packet travels in an outer IPv4 header that copies
// the inner packet's source and destination, so the WAN routes it on the
// original addresses, and copies its TOS octet, so the WAN's QoS sees the
// inner DSCP.

// DFPolicy says how the outer header's Don't Fragment bit is set
// (Cisco "crypto ipsec df-bit copy|set|clear").
type DFPolicy uint8

// DF policies.
const (
	DFCopy  DFPolicy = iota // copy the inner packet's DF (the default)
	DFSet                   // always set
	DFClear                 // always clear
)

var dfNames = [...]string{"copy", "set", "clear"}

func (p DFPolicy) String() string {
	if int(p) < len(dfNames) {
		return dfNames[p]
	}
	return fmt.Sprintf("DFPolicy(%d)", p)
}

// ParseDFPolicy reads "copy", "set" or "clear".
func ParseDFPolicy(s string) (DFPolicy, error) {
	for i, n := range dfNames {
		if s == n {
			return DFPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("df-bit policy %q is not copy, set or clear", s)
}

// Tunnel is how a GM builds the outer header of one SA.
type Tunnel struct {
	DF DFPolicy
	// TTLBoost is added to the inner TTL to make the outer TTL (at most
	// 255). getvpnd writes encrypted packets back into the kernel, which
	// decrements the TTL once more on the way out; a boost of 1 makes the
	// GM one routed hop, as a router is.
	TTLBoost uint8
	// Src and Dst replace the outer source or destination when the SA does
	// not preserve it (RFC 6407 ADDRESS_PRESERVATION); the zero Addr keeps
	// the inner packet's.
	Src, Dst netip.Addr
}

// TunnelOverhead is the octets an inner packet of n octets grows by: outer
// header, ESP header, IV, padding, trailer and ICV.
func TunnelOverhead(t espwire.Transform, n int) int {
	return ipv4.HeaderLen + t.SealedLen(n) - n
}

// SealTunnel appends to dst the tunnel-mode packet outer IPv4 header | ESP
// that carries the IPv4 packet inner, sealed under SPI spi with sequence
// number seq and IV iv; id is the outer header's Identification. The outer
// header copies inner's TOS, addresses (unless tun says otherwise) and TTL
// (plus tun.TTLBoost); DF follows tun.DF.
//
// inner may already sit where it goes, at dst[len(dst)+20+8+IVLen:] (a read
// with that much headroom): then it is sealed in place without a copy.
func (c *Cipher) SealTunnel(dst []byte, spi uint32, seq uint64, iv []byte, id uint16, inner []byte, tun *Tunnel) ([]byte, error) {
	if _, err := ipv4.Check(inner); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrInner, err)
	}
	total := ipv4.HeaderLen + c.t.SealedLen(len(inner))
	if total > 0xffff {
		return dst, ErrTooBig
	}
	h := ipv4.Header{
		TOS:      ipv4.TOS(inner),
		TotalLen: total,
		ID:       id,
		TTL:      uint8(min(int(ipv4.TTL(inner))+int(tun.TTLBoost), 255)),
		Protocol: ipv4.ProtoESP,
		Src:      ipv4.Src(inner),
		Dst:      ipv4.Dst(inner),
	}
	switch tun.DF {
	case DFCopy:
		h.DF = ipv4.DF(inner)
	case DFSet:
		h.DF = true
	}
	if tun.Src.IsValid() {
		h.Src = tun.Src
	}
	if tun.Dst.IsValid() {
		h.Dst = tun.Dst
	}
	// Seal first (it moves inner into place, which may overlap where the
	// header goes if inner was not read with headroom), then the header.
	start := len(dst)
	sealed, err := c.Seal(grow(dst, ipv4.HeaderLen), spi, seq, iv, espwire.NextHeaderIPv4, inner)
	if err != nil {
		return dst, err
	}
	ipv4.WriteHeader(sealed[start:], &h)
	return sealed, nil
}

// grow returns dst extended by n octets whose content does not matter.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst[:len(dst)+n]
	}
	return append(dst, make([]byte, n)...)
}

// SPIOf returns the SPI of the outer IPv4 ESP packet pkt and the offset of
// its ESP header, checking that pkt is a whole, unfragmented IPv4 packet
// with protocol ESP.
func SPIOf(pkt []byte) (spi uint32, espOff int, err error) {
	ihl, err := ipv4.Check(pkt)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", ErrOuter, err)
	}
	if ipv4.Protocol(pkt) != ipv4.ProtoESP {
		return 0, 0, ErrOuter
	}
	if ipv4.IsFragment(pkt) {
		return 0, 0, ErrFragment
	}
	h, _, err := espwire.ParseHeader(pkt[ihl:])
	if err != nil {
		return 0, 0, err
	}
	return h.SPI, ihl, nil
}

// OpenTunnel verifies and decrypts the outer IPv4 ESP packet pkt in place and
// returns the inner IPv4 packet, a sub-slice of pkt. It applies RFC 6040
// decapsulation of ECN: a CE mark on the outer header is copied to an inner
// header that is ECN-capable. The sequence number is not checked: group SAs
// have many senders and no counter-based anti-replay (RFC 6407 §4.1.1.5).
func (c *Cipher) OpenTunnel(pkt []byte) ([]byte, error) {
	_, off, err := SPIOf(pkt)
	if err != nil {
		return nil, err
	}
	esp := pkt[off:]
	// SPIOf has checked the ESP header only: the IV, the ciphertext and
	// the ICV must be there before esp is sliced at the ciphertext.
	if need := c.MinLen(); len(esp) < need {
		return nil, fmt.Errorf("%w: %w", ErrShort, &espwire.ParseError{Field: "ESP packet", Offset: off, Err: espwire.ErrShort, Want: need, Have: len(esp)})
	}
	ct := esp[espwire.HeaderLen+c.ivLen:]
	inner, next, err := c.Open(ct[:0], esp)
	if err != nil {
		return nil, err
	}
	switch next {
	case espwire.NextHeaderIPv4:
	case espwire.NextHeaderDummy:
		return nil, ErrDummy
	default:
		return nil, fmt.Errorf("%w: %d", ErrNextHeader, next)
	}
	if _, err := ipv4.Check(inner); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInner, err)
	}
	if ipv4.ECN(pkt) == ipv4.CE && ipv4.ECN(inner) != ipv4.NotECT && ipv4.ECN(inner) != ipv4.CE {
		ipv4.SetECN(inner, ipv4.CE)
	}
	return inner, nil
}
