package isakmp

import "encoding/binary"

// HeaderLen is the length of the ISAKMP header.
const HeaderLen = 28

// Version1 is the Version octet of ISAKMP 1.0 (major 1, minor 0).
const Version1 uint8 = 0x10

// Header is the ISAKMP header (RFC 2408 §3.1). All integers are big-endian
// on the wire. In a GROUPKEY-PUSH the two cookies are the 16-octet KEK SPI.
type Header struct {
	ICookie     [8]byte // initiator cookie (CKY-I)
	RCookie     [8]byte // responder cookie (CKY-R)
	NextPayload PayloadType
	Version     uint8 // major version in the high nibble; 0 is sent as Version1
	Exchange    ExchangeType
	Flags       Flags
	MessageID   uint32
	Length      uint32 // whole message, header and padding included
}

// Cookies returns CKY-I | CKY-R, the ISAKMP SA's (or the KEK's) SPI.
func (h Header) Cookies() [16]byte { return JoinCookies(h.ICookie, h.RCookie) }

// SetCookies sets CKY-I and CKY-R from a cookie pair (a KEK SPI).
func (h *Header) SetCookies(c [16]byte) { h.ICookie, h.RCookie = [8]byte(c[:8]), [8]byte(c[8:]) }

// JoinCookies returns the cookie pair CKY-I | CKY-R.
func JoinCookies(i, r [8]byte) [16]byte {
	var c [16]byte
	copy(c[:8], i[:])
	copy(c[8:], r[:])
	return c
}

// Append appends the 28-octet header to b, as the fields say (Length
// included; Message.Append fills in NextPayload and Length). A zero Version
// is written as Version1.
func (h Header) Append(b []byte) []byte {
	v := h.Version
	if v == 0 {
		v = Version1
	}
	b = append(b, h.ICookie[:]...)
	b = append(b, h.RCookie[:]...)
	b = append(b, uint8(h.NextPayload), v, uint8(h.Exchange), uint8(h.Flags))
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// ParseHeader parses the header at the start of b and returns it with the
// number of octets consumed (HeaderLen). It checks the major version (1) but
// not Length against len(b); ParseMessage does.
func ParseHeader(b []byte) (Header, int, error) {
	h, n, err := parseHeader(b)
	if err != nil {
		return Header{}, 0, &Error{Payload: "header", Offset: 0, Err: err}
	}
	return h, n, nil
}

func parseHeader(b []byte) (Header, int, error) {
	if len(b) < HeaderLen {
		return Header{}, 0, needShort("header", HeaderLen, len(b))
	}
	var h Header
	copy(h.ICookie[:], b[0:8])
	copy(h.RCookie[:], b[8:16])
	h.NextPayload = PayloadType(b[16])
	h.Version = b[17]
	h.Exchange = ExchangeType(b[18])
	h.Flags = Flags(b[19])
	h.MessageID = binary.BigEndian.Uint32(b[20:24])
	h.Length = binary.BigEndian.Uint32(b[24:28])
	if h.Version>>4 != 1 {
		return Header{}, 0, Errorf(ErrVersion, "version 0x%02x: major version %d, want 1", h.Version, h.Version>>4)
	}
	return h, HeaderLen, nil
}
