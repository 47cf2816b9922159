package isakmp

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Payload is one ISAKMP payload. Append appends its body: everything after
// the 4-octet generic payload header, which AppendPayloads writes.
type Payload interface {
	Type() PayloadType
	Append(b []byte) []byte
}

// Nester is a payload whose body holds further payloads in wire order: the
// proposals of a phase-1 SA, the transforms of a proposal, the SAK/GAP/SAT
// chain of a GDOI SA. Walk and Layout descend into them.
type Nester interface {
	Nested() []Payload
}

// Checker is a payload that can report values its wire form cannot carry (a
// field longer than its length octet allows, counts that do not agree).
// Append never fails; CheckPayloads and Message.Check call Check.
type Checker interface {
	Check() error
}

// DecodeContext is what a Decoder knows about the payload it decodes.
type DecodeContext struct {
	// Exchange is the message's exchange type (ExchangeNone when unknown).
	Exchange ExchangeType
	// Offset is the absolute offset of the payload's generic header, for
	// error reports about payloads nested in its body.
	Offset int
}

// Decoder decodes the body of one payload of type t. It returns a payload
// whose Type is t, or an error describing what is wrong inside the body
// (the caller wraps it in an *Error naming the payload and its offset).
type Decoder interface {
	DecodePayload(ctx DecodeContext, t PayloadType, body []byte) (Payload, error)
}

// DecoderFunc adapts a function to the Decoder interface.
type DecoderFunc func(ctx DecodeContext, t PayloadType, body []byte) (Payload, error)

// DecodePayload calls f.
func (f DecoderFunc) DecodePayload(ctx DecodeContext, t PayloadType, body []byte) (Payload, error) {
	return f(ctx, t, body)
}

// DefaultDecoder decodes the RFC 2408 payloads of this package (the SA in its
// phase-1 form) and returns *Raw for every other type. It ignores ctx.
var DefaultDecoder Decoder = DecoderFunc(decodeDefault)

// bodyParser parses the body of one payload. A body is exactly what the
// generic header's length gives, so a parser consumes all of it or fails.
type bodyParser func([]byte) (Payload, int, error)

// adapt makes a parser that returns its payload's own type a bodyParser.
func adapt[T Payload](parse func([]byte) (T, int, error)) bodyParser {
	return func(b []byte) (Payload, int, error) {
		p, n, err := parse(b)
		if err != nil {
			return nil, 0, err
		}
		return p, n, nil
	}
}

// parsers holds the body parser of every payload type DefaultDecoder
// decodes; it keeps the others as Raw.
var parsers = map[PayloadType]bodyParser{
	PayloadSA:           adapt(parseSA),
	PayloadKE:           adapt(parseData[KE]),
	PayloadID:           adapt(parseID),
	PayloadCert:         adapt(parseCert),
	PayloadCR:           adapt(parseCertRequest),
	PayloadHash:         adapt(parseData[Hash]),
	PayloadSig:          adapt(parseData[Signature]),
	PayloadNonce:        adapt(parseData[Nonce]),
	PayloadNotification: adapt(parseNotification),
	PayloadDelete:       adapt(parseDelete),
	PayloadVendorID:     adapt(parseData[VendorID]),
}

// parseData parses the body of a payload that is its data and nothing else
// (KE, HASH, SIG, NONCE, Vendor ID): one parser for the five types whose
// only field is Data.
func parseData[T ~struct{ Data []byte }](b []byte) (*T, int, error) {
	return &T{Data: cloneBytes(b)}, len(b), nil
}

func decodeDefault(_ DecodeContext, t PayloadType, b []byte) (Payload, error) {
	parse, ok := parsers[t]
	if !ok {
		parse = func(b []byte) (Payload, int, error) { return parseRaw(t, b) }
	}
	p, n, err := parse(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, Errorf(ErrLength, "%d octets after the %s body", len(b)-n, t)
	}
	return p, nil
}

// AppendPayloads appends ps to b, each with its generic payload header: Next
// Payload is the type of the payload after it (NONE for the last one),
// RESERVED is zero, Payload Length is 4 plus the body's length.
func AppendPayloads(b []byte, ps ...Payload) []byte {
	for i, p := range ps {
		next := PayloadNone
		if i+1 < len(ps) {
			next = ps[i+1].Type()
		}
		b = AppendPayload(b, next, p)
	}
	return b
}

// AppendPayload appends one payload with its generic header and the given
// Next Payload value.
func AppendPayload(b []byte, next PayloadType, p Payload) []byte {
	start := len(b)
	b = append(b, uint8(next), 0, 0, 0)
	b = p.Append(b)
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

// ParsePayloads parses the payload chain that starts with a payload of type
// first and fills b exactly, decoding each body with dec (DefaultDecoder if
// nil). Offsets in errors are relative to b and the exchange is unknown; see
// ParsePayloadsContext.
func ParsePayloads(first PayloadType, b []byte, dec Decoder) ([]Payload, error) {
	return ParsePayloadsContext(DecodeContext{}, first, b, dec)
}

// ParsePayloadsContext is ParsePayloads for a chain at absolute offset
// ctx.Offset of a message of exchange ctx.Exchange: decoders see the exchange,
// and errors carry absolute offsets. Octets left after the payload whose Next
// Payload is NONE are an ErrChain error.
func ParsePayloadsContext(ctx DecodeContext, first PayloadType, b []byte, dec Decoder) ([]Payload, error) {
	ps, n, last, err := parseChain(ctx, first, b, dec)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, trailingError(ctx.Offset, ps, last, len(b)-n)
	}
	return ps, nil
}

// trailingError is the error for extra octets after a chain that ended; last
// is the offset of the chain's last payload (relative to base).
func trailingError(base int, ps []Payload, last, extra int) error {
	if len(ps) == 0 {
		return &Error{Offset: base, Err: Errorf(ErrChain, "first payload NONE but %d octets follow", extra)}
	}
	return &Error{
		Payload: ps[len(ps)-1].Type().String(),
		Offset:  base + last,
		Err:     Errorf(ErrChain, "next payload NONE but %d octets follow the payload", extra),
	}
}

// parseChain parses payloads from the start of b until a Next Payload of
// NONE, and returns them with the number of octets they took and the offset
// of the last one in b.
func parseChain(ctx DecodeContext, first PayloadType, b []byte, dec Decoder) (ps []Payload, end, last int, err error) {
	if dec == nil {
		dec = DefaultDecoder
	}
	off := 0
	for next := first; next != PayloadNone; {
		pos := ctx.Offset + off
		rem := len(b) - off
		fail := func(err error) ([]Payload, int, int, error) {
			return nil, 0, 0, &Error{Payload: next.String(), Offset: pos, Err: err}
		}
		if rem == 0 {
			return fail(Errorf(ErrChain, "payload announced, but no octets remain"))
		}
		if rem < 4 {
			return fail(needShort("generic payload header", 4, rem))
		}
		np := PayloadType(b[off])
		plen := int(binary.BigEndian.Uint16(b[off+2:]))
		if plen < 4 {
			return fail(Errorf(ErrLength, "payload length %d smaller than the 4-octet generic header", plen))
		}
		if plen > rem {
			return fail(Errorf(ErrLength, "payload length %d exceeds %d remaining", plen, rem))
		}
		p, err := dec.DecodePayload(DecodeContext{Exchange: ctx.Exchange, Offset: pos}, next, b[off+4:off+plen])
		if err != nil {
			return fail(err)
		}
		if p == nil || p.Type() != next {
			return fail(fmt.Errorf("decoder returned %v for a %s payload", p, next))
		}
		ps = append(ps, p)
		last = off
		off += plen
		next = np
	}
	return ps, off, last, nil
}

// Walk calls fn for every payload of ps in wire order, descending into the
// payloads of a Nester right after it; depth is 0 for the payloads of ps.
func Walk(ps []Payload, fn func(depth int, p Payload)) {
	walk(ps, 0, fn)
}

func walk(ps []Payload, depth int, fn func(int, Payload)) {
	for _, p := range ps {
		fn(depth, p)
		if n, ok := p.(Nester); ok {
			walk(n.Nested(), depth+1, fn)
		}
	}
}

// Types returns the types of ps and of all payloads nested in them, in wire
// order (as tshark lists isakmp.typepayload).
func Types(ps []Payload) []PayloadType {
	var ts []PayloadType
	Walk(ps, func(_ int, p Payload) { ts = append(ts, p.Type()) })
	return ts
}

// Layout returns the payload types of ps in wire order, the payloads nested
// in one in parentheses after it: "HASH,NONCE,SA(SAK,GAP,SAT)" for a
// GROUPKEY-PULL message 2, "SA(P(T,T))" for a main mode message 1.
func Layout(ps []Payload) string {
	var sb strings.Builder
	layout(&sb, ps)
	return sb.String()
}

func layout(sb *strings.Builder, ps []Payload) {
	for i, p := range ps {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(p.Type().String())
		if n, ok := p.(Nester); ok {
			if nested := n.Nested(); len(nested) > 0 {
				sb.WriteByte('(')
				layout(sb, nested)
				sb.WriteByte(')')
			}
		}
	}
}

// CheckPayloads reports the first payload of ps that cannot be encoded: one
// whose body does not fit the 2-octet Payload Length, or a Checker whose
// Check fails.
func CheckPayloads(ps ...Payload) error {
	for i, p := range ps {
		if n := 4 + len(p.Append(nil)); n > 0xffff {
			return fmt.Errorf("payload %d (%s): length %d does not fit in 2 octets: %w", i+1, p.Type(), n, ErrLength)
		}
		if c, ok := p.(Checker); ok {
			if err := c.Check(); err != nil {
				return fmt.Errorf("payload %d (%s): %w", i+1, p.Type(), err)
			}
		}
	}
	return nil
}
