package isakmp

import "fmt"

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
	return AppendPayloads(b, p.Nested()...)
}

// Nested returns the transforms.
func (p *Proposal) Nested() []Payload { return payloadsOf(p.Transforms) }

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
	ts, err := parseNested(body[4+spiSize:], PayloadTransform, "transform", parseTransform)
	if err != nil {
		return Proposal{}, 0, 0, err
	}
	p.Transforms = ts
	if count != len(p.Transforms) {
		return Proposal{}, 0, 0, Errorf(ErrLength, "%d transforms announced, %d present", count, len(p.Transforms))
	}
	return p, next, n, nil
}
