// Package ipv4 reads and writes the IPv4 header fields getvpnd's data plane
// needs (RFC 791): version and header length, TOS (DSCP and ECN), total
// length, fragment fields, TTL, protocol, addresses, the transport ports
// that ACLs match on, and the header checksum. It works on the raw packet
// bytes, without allocating, because it runs once per forwarded packet; it is
// not a general IP codec (the bench decodes with gopacket). Version, Check
// and ParseFlow take any octets; the field accessors expect a packet Check
// (or ParseFlow) has accepted, and slice without checking.
package ipv4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// HeaderLen is the length of an IPv4 header without options.
const HeaderLen = 20

// Field offsets in the header.
const (
	offTOS      = 1
	offTotalLen = 2
	offID       = 4
	offFlags    = 6
	offTTL      = 8
	offProtocol = 9
	offChecksum = 10
	offSrc      = 12
	offDst      = 16
)

// Flag bits of the flags/fragment-offset word.
const (
	flagDF         = 0x4000
	flagMF         = 0x2000
	fragOffsetMask = 0x1fff
)

// IP protocol numbers the data plane looks at.
const (
	ProtoICMP = 1
	ProtoIPIP = 4
	ProtoTCP  = 6
	ProtoUDP  = 17
	ProtoESP  = 50
)

// Errors of Parse.
var (
	ErrShort   = errors.New("ipv4: packet shorter than its header")
	ErrVersion = errors.New("ipv4: not an IPv4 packet")
	ErrLength  = errors.New("ipv4: total length does not match the packet")
)

// Flow is what an ACL matches in a packet: protocol, addresses and, for the
// first (or only) fragment of a TCP or UDP packet, the ports.
type Flow struct {
	Protocol         uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// HasPorts is false for non-TCP/UDP packets, non-first fragments and
	// first fragments too short to hold the ports.
	HasPorts bool
}

func (f Flow) String() string {
	if f.HasPorts {
		return fmt.Sprintf("proto %d %s:%d > %s:%d", f.Protocol, f.Src, f.SrcPort, f.Dst, f.DstPort)
	}
	return fmt.Sprintf("proto %d %s > %s", f.Protocol, f.Src, f.Dst)
}

// Version returns the IP version nibble of b (0 for an empty b).
func Version(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return int(b[0] >> 4)
}

// Check verifies that b is one whole IPv4 packet: version 4, a header length
// of at least 20 octets that fits, and a total length equal to len(b). It
// returns the header length.
func Check(b []byte) (int, error) {
	if len(b) < HeaderLen {
		return 0, ErrShort
	}
	if b[0]>>4 != 4 {
		return 0, ErrVersion
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < HeaderLen || ihl > len(b) {
		return 0, ErrShort
	}
	if int(binary.BigEndian.Uint16(b[offTotalLen:])) != len(b) {
		return 0, ErrLength
	}
	return ihl, nil
}

// ParseFlow returns the flow of the whole IPv4 packet b (see Check).
func ParseFlow(b []byte) (Flow, error) {
	ihl, err := Check(b)
	if err != nil {
		return Flow{}, err
	}
	f := Flow{
		Protocol: b[offProtocol],
		Src:      netip.AddrFrom4([4]byte(b[offSrc : offSrc+4])),
		Dst:      netip.AddrFrom4([4]byte(b[offDst : offDst+4])),
	}
	if (f.Protocol == ProtoTCP || f.Protocol == ProtoUDP) && FragmentOffset(b) == 0 && len(b) >= ihl+4 {
		f.SrcPort = binary.BigEndian.Uint16(b[ihl:])
		f.DstPort = binary.BigEndian.Uint16(b[ihl+2:])
		f.HasPorts = true
	}
	return f, nil
}

// TOS returns the TOS octet (DSCP << 2 | ECN).
func TOS(b []byte) uint8 { return b[offTOS] }

// DSCP returns the Differentiated Services code point.
func DSCP(b []byte) uint8 { return b[offTOS] >> 2 }

// ECN returns the ECN field (RFC 3168): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
func ECN(b []byte) uint8 { return b[offTOS] & 3 }

// ECN codepoints.
const (
	NotECT = 0
	CE     = 3
)

// TotalLen returns the Total Length field.
func TotalLen(b []byte) int { return int(binary.BigEndian.Uint16(b[offTotalLen:])) }

// TTL returns the Time To Live.
func TTL(b []byte) uint8 { return b[offTTL] }

// Protocol returns the Protocol field.
func Protocol(b []byte) uint8 { return b[offProtocol] }

// DF reports whether Don't Fragment is set.
func DF(b []byte) bool { return binary.BigEndian.Uint16(b[offFlags:])&flagDF != 0 }

// FragmentOffset returns the fragment offset in octets.
func FragmentOffset(b []byte) int {
	return int(binary.BigEndian.Uint16(b[offFlags:])&fragOffsetMask) * 8
}

// IsFragment reports whether b is a fragment (More Fragments set or a
// non-zero offset).
func IsFragment(b []byte) bool {
	return binary.BigEndian.Uint16(b[offFlags:])&(flagMF|fragOffsetMask) != 0
}

// Src and Dst return the addresses.
func Src(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[offSrc : offSrc+4])) }
func Dst(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[offDst : offDst+4])) }

// Header is the header WriteHeader writes: no options, fragment offset 0.
type Header struct {
	TOS      uint8
	TotalLen int
	ID       uint16
	DF       bool
	TTL      uint8
	Protocol uint8
	Src, Dst netip.Addr
}

// WriteHeader writes h into b[:20], checksum included. Src and Dst must be
// IPv4 addresses and TotalLen at most 65535.
func WriteHeader(b []byte, h *Header) {
	_ = b[HeaderLen-1]
	b[0] = 0x45
	b[offTOS] = h.TOS
	binary.BigEndian.PutUint16(b[offTotalLen:], uint16(h.TotalLen))
	binary.BigEndian.PutUint16(b[offID:], h.ID)
	var flags uint16
	if h.DF {
		flags = flagDF
	}
	binary.BigEndian.PutUint16(b[offFlags:], flags)
	b[offTTL] = h.TTL
	b[offProtocol] = h.Protocol
	b[offChecksum], b[offChecksum+1] = 0, 0
	s, d := h.Src.As4(), h.Dst.As4()
	copy(b[offSrc:], s[:])
	copy(b[offDst:], d[:])
	binary.BigEndian.PutUint16(b[offChecksum:], Checksum(b[:HeaderLen]))
}

// SetECN sets the ECN field of the header in b and updates its checksum.
func SetECN(b []byte, ecn uint8) {
	ihl := int(b[0]&0x0f) * 4
	b[offTOS] = b[offTOS]&^3 | ecn&3
	b[offChecksum], b[offChecksum+1] = 0, 0
	binary.BigEndian.PutUint16(b[offChecksum:], Checksum(b[:ihl]))
}

// Checksum is the Internet checksum (RFC 1071) of b: over a header whose
// checksum field is zero it is the value to put there; over a header with
// its checksum in place it is 0 when the header is intact.
func Checksum(b []byte) uint16 {
	var sum uint32
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// HeaderOK reports whether the header checksum of the packet b verifies.
func HeaderOK(b []byte) bool {
	ihl := int(b[0]&0x0f) * 4
	return Checksum(b[:ihl]) == 0
}
