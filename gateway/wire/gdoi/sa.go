package gdoi

import (
	"encoding/binary"

	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// SA is the GDOI SA payload (RFC 6407 §5.2): DOI, situation, the 2-octet SA
// Attribute Next Payload and a chain of nested payloads, SAK (at most one),
// GAP and SATs, each with its own generic header. The SA's Payload Length
// covers the nested payloads; its own Next Payload names the payload after
// it.
type SA struct {
	DOI       uint32 // isakmp.DOIGDOI
	Situation uint32 // 0
	// Payloads are the nested payloads in wire order: *SAK, *GAP, *SAT, or
	// *isakmp.Raw for any other type.
	Payloads []isakmp.Payload
}

// NewSA returns a GDOI SA (DOI 2, situation 0) holding ps.
func NewSA(ps ...isakmp.Payload) *SA { return &SA{DOI: isakmp.DOIGDOI, Payloads: ps} }

// Type returns isakmp.PayloadSA.
func (*SA) Type() isakmp.PayloadType { return isakmp.PayloadSA }

// Append appends the SA body: DOI, situation, SA Attribute Next Payload (the
// first nested payload's type), RESERVED2 (zero), then the nested chain.
func (sa *SA) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, sa.DOI)
	b = binary.BigEndian.AppendUint32(b, sa.Situation)
	first := isakmp.PayloadNone
	if len(sa.Payloads) > 0 {
		first = sa.Payloads[0].Type()
	}
	b = binary.BigEndian.AppendUint16(b, uint16(first))
	b = append(b, 0, 0)
	return isakmp.AppendPayloads(b, sa.Payloads...)
}

// Nested returns the nested payloads.
func (sa *SA) Nested() []isakmp.Payload { return sa.Payloads }

// Check reports a nested payload that cannot be encoded.
func (sa *SA) Check() error { return isakmp.CheckPayloads(sa.Payloads...) }

// SAK returns the first nested SAK, or nil.
func (sa *SA) SAK() *SAK {
	for _, p := range sa.Payloads {
		if s, ok := p.(*SAK); ok {
			return s
		}
	}
	return nil
}

// GAP returns the first nested GAP, or nil.
func (sa *SA) GAP() *GAP {
	for _, p := range sa.Payloads {
		if g, ok := p.(*GAP); ok {
			return g
		}
	}
	return nil
}

// SATs returns the nested SATs in order.
func (sa *SA) SATs() []*SAT {
	var out []*SAT
	for _, p := range sa.Payloads {
		if s, ok := p.(*SAT); ok {
			out = append(out, s)
		}
	}
	return out
}

// parseSA parses a GDOI SA body; base is the absolute offset of b[0] (for
// the nested payloads' errors).
func parseSA(ctx isakmp.DecodeContext, b []byte, base int, p Profile) (*SA, int, error) {
	if len(b) < 12 {
		return nil, 0, isakmp.Errorf(isakmp.ErrShort, "DOI, situation, SA attribute next payload and RESERVED2 need 12 octets, %d remaining", len(b))
	}
	sa := &SA{
		DOI:       binary.BigEndian.Uint32(b[0:4]),
		Situation: binary.BigEndian.Uint32(b[4:8]),
	}
	first := binary.BigEndian.Uint16(b[8:10])
	if first > 0xff {
		return nil, 0, isakmp.Errorf(isakmp.ErrChain, "SA attribute next payload %d is not a payload type", first)
	}
	nctx := isakmp.DecodeContext{Exchange: ctx.Exchange, Offset: base + 12}
	ps, err := isakmp.ParsePayloadsContext(nctx, isakmp.PayloadType(first), b[12:], nestedDecoder(p))
	if err != nil {
		return nil, 0, err
	}
	sa.Payloads = ps
	return sa, len(b), nil
}

// nestedDecoder decodes the payloads nested in a GDOI SA.
func nestedDecoder(p Profile) isakmp.Decoder {
	return isakmp.DecoderFunc(func(_ isakmp.DecodeContext, t isakmp.PayloadType, b []byte) (isakmp.Payload, error) {
		switch t {
		case isakmp.PayloadSAK:
			return whole(parseSAK(b, p))
		case isakmp.PayloadSAT:
			return whole(parseSAT(b, p))
		case isakmp.PayloadGAP:
			return whole(parseGAP(b))
		}
		return &isakmp.Raw{Kind: t, Body: cloneBytes(b)}, nil
	})
}
