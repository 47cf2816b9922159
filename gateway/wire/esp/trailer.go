package esp

// TrailerLen is the length of the fixed part of the ESP trailer: Pad Length
// (1) and Next Header (1).
const TrailerLen = 2

// Next Header values a tunnel-mode ESP packet carries (IANA protocol numbers).
const (
	NextHeaderIPv4  = 4  // IP-in-IP: tunnel mode, inner IPv4 packet
	NextHeaderIPv6  = 41 // tunnel mode, inner IPv6 packet
	NextHeaderDummy = 59 // "no next header": a dummy packet to be discarded (RFC 4303 §2.6)
)

// Trailer is the end of the plaintext of an ESP packet: PadLen padding octets
// 1, 2, 3, ... (RFC 4303 §2.4), the Pad Length and the Next Header.
type Trailer struct {
	PadLen     uint8
	NextHeader uint8
}

// Append appends the padding octets 1..PadLen, the pad length and the next
// header to b; b should end with the payload.
func (t Trailer) Append(b []byte) []byte {
	for i := 1; i <= int(t.PadLen); i++ {
		b = append(b, byte(i))
	}
	return append(b, t.PadLen, t.NextHeader)
}

// PadLen is the number of padding octets that aligns a payload of payloadLen
// octets plus the 2-octet trailer to a multiple of align (align ≥ 1).
func PadLen(payloadLen, align int) int {
	if align <= 1 {
		return 0
	}
	return (align - (payloadLen+TrailerLen)%align) % align
}

// ParseTrailer parses the trailer at the end of the decrypted plaintext
// (payload | padding | pad length | next header), checks that every padding
// octet has the RFC 4303 §2.4 value (1, 2, 3, ...), and returns the trailer
// and the payload length: plain[:n] is the payload. Offsets in errors are
// offsets in plain.
func ParseTrailer(plain []byte) (Trailer, int, error) {
	n := len(plain)
	if n < TrailerLen {
		return Trailer{}, 0, short("ESP trailer", 0, TrailerLen, n)
	}
	t := Trailer{PadLen: plain[n-2], NextHeader: plain[n-1]}
	avail := n - TrailerLen
	if int(t.PadLen) > avail {
		return Trailer{}, 0, &ParseError{Field: "pad length", Offset: n - 2, Err: ErrPadding, Want: avail, Have: int(t.PadLen)}
	}
	start := avail - int(t.PadLen)
	for i, v := range plain[start:avail] {
		if v != byte(i+1) {
			return Trailer{}, 0, &ParseError{Field: "padding", Offset: start + i, Err: ErrPadding, Want: i + 1, Have: int(v)}
		}
	}
	return t, start, nil
}
