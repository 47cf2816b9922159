package isakmp

import (
	"encoding/binary"
	"fmt"
)

// SA is the Security Association payload in its RFC 2408 §3.4 form, as IKEv1
// phase 1 sends it: DOI, situation and a chain of proposals (§3.5), each with
// a chain of transforms (§3.6). A GDOI SA (exchanges 32 and 33) has another
// body; see package gdoi.
//
// The situation is 4 octets. An IPsec DOI situation with SIT_SECRECY or
// SIT_INTEGRITY set (labelled domains, RFC 2407 §4.6.1) is not decoded.
type SA struct {
	DOI       uint32 // DOIGDOI for GDOI's phase 1 (RFC 6407 §2.1), DOIIPsec elsewhere
	Situation uint32
	Proposals []Proposal
}

// Type returns PayloadSA.
func (*SA) Type() PayloadType { return PayloadSA }

// Append appends the SA body: DOI, situation, then the proposals, each with
// its generic header (Next Payload 2 for all but the last proposal, 0 for it).
func (sa *SA) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, sa.DOI)
	b = binary.BigEndian.AppendUint32(b, sa.Situation)
	for i := range sa.Proposals {
		next := PayloadNone
		if i+1 < len(sa.Proposals) {
			next = PayloadProposal
		}
		b = AppendPayload(b, next, &sa.Proposals[i])
	}
	return b
}

// Nested returns the proposals.
func (sa *SA) Nested() []Payload {
	ps := make([]Payload, len(sa.Proposals))
	for i := range sa.Proposals {
		ps[i] = &sa.Proposals[i]
	}
	return ps
}

// Check reports a proposal that cannot be encoded.
func (sa *SA) Check() error {
	for i := range sa.Proposals {
		if err := sa.Proposals[i].Check(); err != nil {
			return fmt.Errorf("proposal %d: %w", i+1, err)
		}
	}
	return nil
}

func parseSA(b []byte) (*SA, int, error) {
	if len(b) < 8 {
		return nil, 0, needShort("DOI and situation", 8, len(b))
	}
	sa := &SA{
		DOI:       binary.BigEndian.Uint32(b[0:4]),
		Situation: binary.BigEndian.Uint32(b[4:8]),
	}
	if sa.DOI == DOIIPsec && sa.Situation&^SitIdentityOnly != 0 {
		return nil, 0, Errorf(ErrUnsupported, "IPsec DOI situation 0x%08x with labelled domains", sa.Situation)
	}
	off := 8
	if off == len(b) {
		return sa, off, nil
	}
	for i := 1; ; i++ {
		p, next, n, err := parseProposal(b[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("proposal %d: %w", i, err)
		}
		sa.Proposals = append(sa.Proposals, p)
		off += n
		switch next {
		case PayloadNone:
			if off != len(b) {
				return nil, 0, Errorf(ErrChain, "proposal %d: next payload NONE but %d octets follow", i, len(b)-off)
			}
			return sa, off, nil
		case PayloadProposal:
			if off == len(b) {
				return nil, 0, Errorf(ErrChain, "proposal %d: next payload P but no octets follow", i)
			}
		default:
			return nil, 0, Errorf(ErrChain, "proposal %d: next payload %s, want P or NONE", i, next)
		}
	}
}

// Proposal is a Proposal payload (RFC 2408 §3.5) inside an SA.
type Proposal struct {
	Number     uint8
	ProtocolID uint8 // ProtoISAKMP in phase 1
	SPI        []byte
	Transforms []Transform
}

// Type returns PayloadProposal.
func (*Proposal) Type() PayloadType { return PayloadProposal }

// Append appends the proposal body: number, protocol, SPI size, number of
// transforms, SPI, then the transforms with their generic headers.
func (p *Proposal) Append(b []byte) []byte {
	b = append(b, p.Number, p.ProtocolID, uint8(len(p.SPI)), uint8(len(p.Transforms)))
	b = append(b, p.SPI...)
	for i := range p.Transforms {
		next := PayloadNone
		if i+1 < len(p.Transforms) {
			next = PayloadTransform
		}
		b = AppendPayload(b, next, &p.Transforms[i])
	}
	return b
}

// Nested returns the transforms.
func (p *Proposal) Nested() []Payload {
	ps := make([]Payload, len(p.Transforms))
	for i := range p.Transforms {
		ps[i] = &p.Transforms[i]
	}
	return ps
}

// Check reports an SPI or transform count beyond one octet, or an attribute
// that cannot be encoded.
func (p *Proposal) Check() error {
	if len(p.SPI) > 0xff {
		return Errorf(ErrLength, "SPI of %d octets does not fit the 1-octet SPI size", len(p.SPI))
	}
	if len(p.Transforms) > 0xff {
		return Errorf(ErrLength, "%d transforms do not fit the 1-octet count", len(p.Transforms))
	}
	for i := range p.Transforms {
		if err := p.Transforms[i].Attributes.Check(); err != nil {
			return fmt.Errorf("transform %d: %w", i+1, err)
		}
	}
	return nil
}

// parseProposal parses a proposal with its generic header at the start of b
// and returns it with the header's Next Payload and the octets consumed.
func parseProposal(b []byte) (Proposal, PayloadType, int, error) {
	next, body, n, err := nestedPayload(b, 8)
	if err != nil {
		return Proposal{}, 0, 0, err
	}
	p := Proposal{Number: body[0], ProtocolID: body[1]}
	spiSize, count := int(body[2]), int(body[3])
	if spiSize > len(body)-4 {
		return Proposal{}, 0, 0, Errorf(ErrLength, "SPI size %d exceeds %d remaining", spiSize, len(body)-4)
	}
	p.SPI = cloneBytes(body[4 : 4+spiSize])
	off := 4 + spiSize
	for i := 1; off < len(body); i++ {
		t, tnext, tn, err := parseTransform(body[off:])
		if err != nil {
			return Proposal{}, 0, 0, fmt.Errorf("transform %d: %w", i, err)
		}
		p.Transforms = append(p.Transforms, t)
		off += tn
		if tnext == PayloadNone {
			break
		}
		if tnext != PayloadTransform {
			return Proposal{}, 0, 0, Errorf(ErrChain, "transform %d: next payload %s, want T or NONE", i, tnext)
		}
		if off == len(body) {
			return Proposal{}, 0, 0, Errorf(ErrChain, "transform %d: next payload T but no octets follow", i)
		}
	}
	if off != len(body) {
		return Proposal{}, 0, 0, Errorf(ErrChain, "transform %d: next payload NONE but %d octets follow", len(p.Transforms), len(body)-off)
	}
	if count != len(p.Transforms) {
		return Proposal{}, 0, 0, Errorf(ErrLength, "%d transforms announced, %d present", count, len(p.Transforms))
	}
	return p, next, n, nil
}

// Transform is a Transform payload (RFC 2408 §3.6) inside a proposal. In
// phase 1 its attributes are the IKE attribute classes (AttrEncryptionAlgorithm, ...).
type Transform struct {
	Number     uint8
	ID         uint8 // Transform-ID: TransformKeyIKE in phase 1
	Attributes Attributes
}

// Type returns PayloadTransform.
func (*Transform) Type() PayloadType { return PayloadTransform }

// Append appends the transform body: number, transform ID, RESERVED2 (zero),
// attributes.
func (t *Transform) Append(b []byte) []byte {
	b = append(b, t.Number, t.ID, 0, 0)
	return t.Attributes.Append(b)
}

func parseTransform(b []byte) (Transform, PayloadType, int, error) {
	next, body, n, err := nestedPayload(b, 8)
	if err != nil {
		return Transform{}, 0, 0, err
	}
	attrs, err := ParseAttributes(body[4:])
	if err != nil {
		return Transform{}, 0, 0, err
	}
	return Transform{Number: body[0], ID: body[1], Attributes: attrs}, next, n, nil
}

// nestedPayload reads the generic header of a payload nested in another
// payload's body (a proposal, a transform) at the start of b and returns its
// Next Payload, its body and its total length. min is the smallest length
// the payload may have.
func nestedPayload(b []byte, min int) (PayloadType, []byte, int, error) {
	if len(b) < 4 {
		return 0, nil, 0, needShort("generic payload header", 4, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < min {
		return 0, nil, 0, Errorf(ErrLength, "payload length %d smaller than %d", n, min)
	}
	if n > len(b) {
		return 0, nil, 0, Errorf(ErrLength, "payload length %d exceeds %d remaining", n, len(b))
	}
	return PayloadType(b[0]), b[4:n], n, nil
}
