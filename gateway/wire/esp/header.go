package esp

import "encoding/binary"

// HeaderLen is the length of the ESP header: SPI (4) and Sequence Number (4).
const HeaderLen = 8

// Header is the clear part in front of every ESP packet (RFC 4303 §2.1, §2.2).
// Seq is the 32 bits sent on the wire; with extended sequence numbers
// (RFC 4303 §2.2.1) the high-order 32 bits are never sent.
//
// SPI 0 is reserved and must not be sent (RFC 4303 §2.1); the codec still
// parses it, rejecting it is up to the SA lookup.
type Header struct {
	SPI uint32
	Seq uint32
}

// Append appends the 8-octet header to b.
func (h Header) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, h.SPI)
	return binary.BigEndian.AppendUint32(b, h.Seq)
}

// ParseHeader parses the ESP header at the start of b and returns it with the
// number of octets consumed (HeaderLen).
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) < HeaderLen {
		return Header{}, 0, short("ESP header", 0, HeaderLen, len(b))
	}
	return Header{
		SPI: binary.BigEndian.Uint32(b[0:4]),
		Seq: binary.BigEndian.Uint32(b[4:8]),
	}, HeaderLen, nil
}
