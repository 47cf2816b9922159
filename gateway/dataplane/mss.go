package dataplane

import (
	"encoding/binary"
	"math/bits"

	"github.com/getlab/getlab/gateway/wire/ipv4"
)

// TCP header fields and options clampMSS reads (RFC 9293 §3.1, §3.2).
const (
	tcpHeaderLen   = 20
	tcpOffChecksum = 16
	tcpFlagSYN     = 0x02
	tcpOptEnd      = 0
	tcpOptNOP      = 1
	tcpOptMSS      = 2
	tcpOptMSSLen   = 4
)

// clampMSS lowers to mss every MSS option above it in pkt when pkt is an
// IPv4 TCP segment with SYN set (a SYN or a SYN-ACK), as IOS "ip tcp
// adjust-mss" does, and updates the TCP checksum incrementally. It reports
// whether it changed pkt; it leaves alone anything it cannot read to the
// end of the MSS option, so that a hostile packet at worst keeps the MSS
// its sender chose.
//
// A SYN without an MSS option is left without one: Cisco describes the
// command as lowering the option and says nothing of adding one (Linux's
// TCPMSS target does add one), adding one would mean moving the payload
// and growing the packet, and the peer then assumes 536 octets (RFC 9293
// §3.7.1): segments that fit any WAN once encrypted.
//
// The first fragment of a segment is clamped like a whole segment when it
// holds the whole TCP header: the checksum update is a difference, right
// whatever the fragments after it carry. Later fragments hold no TCP header.
func clampMSS(pkt []byte, mss uint16) bool {
	ihl, err := ipv4.Check(pkt)
	if err != nil || ipv4.Protocol(pkt) != ipv4.ProtoTCP || ipv4.FragmentOffset(pkt) != 0 {
		return false
	}
	tcp := pkt[ihl:]
	if len(tcp) < tcpHeaderLen || tcp[13]&tcpFlagSYN == 0 {
		return false
	}
	dataOff := int(tcp[12]>>4) * 4
	if dataOff < tcpHeaderLen || dataOff > len(tcp) {
		return false
	}
	clamped := false
	opts := tcp[tcpHeaderLen:dataOff]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case tcpOptEnd:
			return clamped
		case tcpOptNOP:
			i++
			continue
		}
		// Where a receiver stops reading (Linux's tcp_parse_options does
		// the same), so does the clamp: a length under 2 or past the
		// options.
		if i+1 >= len(opts) {
			return clamped
		}
		n := int(opts[i+1])
		if n < 2 || n > len(opts)-i {
			return clamped
		}
		// An MSS option of another length is one no receiver takes, so it
		// is not worth changing. Every well-formed one is clamped, not just
		// the first: receivers differ in which of several they believe.
		if opts[i] == tcpOptMSS && n == tcpOptMSSLen {
			at := tcpHeaderLen + i + 2
			if old := binary.BigEndian.Uint16(tcp[at:]); old > mss {
				binary.BigEndian.PutUint16(tcp[at:], mss)
				sum := binary.BigEndian.Uint16(tcp[tcpOffChecksum:])
				binary.BigEndian.PutUint16(tcp[tcpOffChecksum:], checksumReplace(sum, at, old, mss))
				clamped = true
			}
		}
		i += n
	}
	return clamped
}

// checksumReplace returns sum, the Internet checksum of some data, updated
// for the 16 bits at offset at of that data changing from one value to
// another: RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), which gives what
// recomputing would (RFC 1141's form can give 0xffff for 0). A value at an
// odd offset straddles two checksum words, its first octet the low half of
// one and its second the high half of the next: its weight in the sum is
// the value byte-swapped.
func checksumReplace(sum uint16, at int, from, to uint16) uint16 {
	if at%2 == 1 {
		from, to = bits.ReverseBytes16(from), bits.ReverseBytes16(to)
	}
	s := uint32(^sum) + uint32(^from) + uint32(to)
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return ^uint16(s)
}
