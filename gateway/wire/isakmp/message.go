package isakmp

import (
	"encoding/binary"
	"fmt"
)

// Message is an ISAKMP message: the header and either its payloads
// (plaintext) or its encrypted body.
type Message struct {
	Header Header
	// Payloads are the decoded payloads of a plaintext message.
	Payloads []Payload
	// Encrypted is the body after the header, undecoded, of a message parsed
	// with the E flag set (non-nil then, even when empty). Decrypt it
	// elsewhere and decode the plaintext with ParseBody. When Encrypted is
	// non-nil, Append writes it instead of Payloads.
	Encrypted []byte
	// Padding holds the octets after the payload that ended the chain, up to
	// the header's Length: the block-cipher padding of a decrypted body.
	Padding []byte
}

// ParseMessage parses a whole message: b must hold exactly the header's
// Length octets. If the E flag is set the body is returned undecoded in
// Encrypted; otherwise the payloads are decoded with dec (DefaultDecoder if
// nil). Errors are *Error values with absolute offsets in b.
func ParseMessage(b []byte, dec Decoder) (*Message, error) {
	h, _, err := parseHeader(b)
	if err != nil {
		return nil, &Error{Payload: "header", Err: err}
	}
	switch {
	case h.Length < HeaderLen:
		return nil, &Error{Payload: "header", Err: Errorf(ErrLength, "length %d smaller than the %d-octet header", h.Length, HeaderLen)}
	case uint64(h.Length) > uint64(len(b)):
		return nil, &Error{Payload: "header", Err: Errorf(ErrLength, "length %d exceeds the %d octets present", h.Length, len(b))}
	case uint64(h.Length) < uint64(len(b)):
		return nil, &Error{Payload: "header", Err: Errorf(ErrLength, "length %d leaves %d octets after the message", h.Length, len(b)-int(h.Length))}
	}
	body := b[HeaderLen:h.Length]
	if h.Flags&FlagEncryption != 0 {
		return &Message{Header: h, Encrypted: append([]byte{}, body...)}, nil
	}
	return ParseBody(h, body, dec)
}

// ParseBody decodes the plaintext body of a message with header h (the
// decrypted body of an encrypted one): the payload chain starting with
// h.NextPayload, then padding up to the end of body. Offsets in errors count
// from the start of the message (the body starts at HeaderLen). h is kept as
// given; its Length is not checked against body.
func ParseBody(h Header, body []byte, dec Decoder) (*Message, error) {
	ps, n, _, err := parseChain(DecodeContext{Exchange: h.Exchange, Offset: HeaderLen}, h.NextPayload, body, dec)
	if err != nil {
		return nil, err
	}
	return &Message{Header: h, Payloads: ps, Padding: cloneBytes(body[n:])}, nil
}

// Append appends the message to b. For a plaintext message it sets
// m.Header.NextPayload to the first payload's type (NONE if there is none)
// and writes the payloads and Padding; with Encrypted non-nil it writes
// Encrypted and keeps m.Header.NextPayload. Either way it sets m.Header.Length
// to the message's length and writes that.
func (m *Message) Append(b []byte) []byte {
	start := len(b)
	if m.Encrypted == nil {
		m.Header.NextPayload = PayloadNone
		if len(m.Payloads) > 0 {
			m.Header.NextPayload = m.Payloads[0].Type()
		}
	}
	b = m.Header.Append(b)
	if m.Encrypted != nil {
		b = append(b, m.Encrypted...)
	} else {
		b = AppendPayloads(b, m.Payloads...)
		b = append(b, m.Padding...)
	}
	m.Header.Length = uint32(len(b) - start)
	binary.BigEndian.PutUint32(b[start+24:], m.Header.Length)
	return b
}

// Get returns the first top-level payload of type t.
func (m *Message) Get(t PayloadType) (Payload, bool) {
	for _, p := range m.Payloads {
		if p.Type() == t {
			return p, true
		}
	}
	return nil, false
}

// First returns the first top-level payload of m of type T (a pointer
// type such as *Nonce, or a GDOI payload type), and whether there is one.
func First[T Payload](m *Message) (T, bool) {
	for _, p := range m.Payloads {
		if v, ok := p.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// Offsets returns the offset in the encoded message of each payload of
// m.Payloads (of its generic header), and the offset where Padding starts.
// For a parsed message they are the offsets in the octets it was parsed
// from (re-encoding keeps every length), which is what the IKEv1 and GDOI
// hashes need: "all payloads after HASH" of a received message are
// b[offs[1]:end].
func (m *Message) Offsets() (offs []int, end int) {
	off := HeaderLen
	for _, p := range m.Payloads {
		offs = append(offs, off)
		off += 4 + len(p.Append(nil))
	}
	return offs, off
}

// Layout returns Layout(m.Payloads), "" for an encrypted message.
func (m *Message) Layout() string { return Layout(m.Payloads) }

// Check reports a message that cannot be encoded (see CheckPayloads).
func (m *Message) Check() error {
	if m.Encrypted != nil {
		if uint64(len(m.Encrypted))+HeaderLen > 0xffffffff {
			return fmt.Errorf("encrypted body of %d octets: %w", len(m.Encrypted), ErrLength)
		}
		return nil
	}
	return CheckPayloads(m.Payloads...)
}

// String summarises the message as tshark's Info column would, for logs:
// "GROUPKEY-PULL id=0x1234abcd flags=0 HASH,NONCE,SA(SAK,GAP,SAT)".
func (m *Message) String() string {
	s := fmt.Sprintf("%s id=0x%08x flags=%s", m.Header.Exchange, m.Header.MessageID, m.Header.Flags)
	if m.Encrypted != nil {
		return fmt.Sprintf("%s <%d octets encrypted>", s, len(m.Encrypted))
	}
	return s + " " + m.Layout()
}
