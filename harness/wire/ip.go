package wire

import (
	"encoding/binary"
	"net/netip"
)

// What a router on a narrow link does with an IPv4 packet too large for
// it (RFC 791, RFC 1191): one without DF is cut into fragments, one with
// DF is dropped and its sender told the link's MTU.

// fragment cuts the IPv4 packet of frame (v) into frames whose packets fit
// mtu (the frame's padding past the packet, if any, left out): each fragment's payload but the last a multiple of 8 octets, the
// header (options included) copied into each, offsets and MF set as the
// packet's own place in its datagram says.
func fragment(frame []byte, v *view, mtu int) [][]byte {
	eth := frame[:ethHeader]
	ihl := int(v.ip[0]&0x0f) * 4
	hdr, payload := v.ip[:ihl], v.ip[ihl:]
	per := (mtu - ihl) &^ 7
	if per <= 0 {
		return [][]byte{frame}
	}
	flags := binary.BigEndian.Uint16(v.ip[6:8])
	baseOff := int(flags & 0x1fff)
	moreAfter := flags&0x2000 != 0
	var out [][]byte
	for off := 0; off < len(payload); off += per {
		n := min(per, len(payload)-off)
		f := make([]byte, 0, len(eth)+ihl+n)
		f = append(f, eth...)
		f = append(f, hdr...)
		f = append(f, payload[off:off+n]...)
		ip := f[len(eth):]
		binary.BigEndian.PutUint16(ip[2:4], uint16(ihl+n))
		fo := uint16(baseOff + off/8)
		if off+n < len(payload) || moreAfter {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(ip[6:8], fo)
		setIPChecksum(ip[:ihl])
		out = append(out, f)
	}
	return out
}

// fragNeeded is the ICMP "destination unreachable, fragmentation needed
// and DF set" (type 3, code 4) a router from sends back for the packet of
// frame, with the next-hop MTU, in a frame addressed back to its sender.
func fragNeeded(frame []byte, v *view, from netip.Addr, mtu int) []byte {
	ihl := int(v.ip[0]&0x0f) * 4
	quote := v.ip[:min(len(v.ip), ihl+8)]
	f := make([]byte, 14+20+8+len(quote))
	copy(f[0:6], frame[6:12]) // back to the sender's MAC
	copy(f[6:12], frame[0:6])
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+8+len(quote)))
	a := from.As4()
	copy(ip[12:16], a[:])
	copy(ip[16:20], v.ip[12:16])
	setIPChecksum(ip)
	icmp := f[34:]
	icmp[0], icmp[1] = 3, 4
	binary.BigEndian.PutUint16(icmp[6:8], uint16(mtu))
	copy(icmp[8:], quote)
	binary.BigEndian.PutUint16(icmp[2:4], ^checksum(icmp))
	return f
}

func setIPChecksum(h []byte) {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:12], ^checksum(h))
}

// checksum is the Internet checksum's one's-complement sum (RFC 1071),
// not yet complemented.
func checksum(b []byte) uint16 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
