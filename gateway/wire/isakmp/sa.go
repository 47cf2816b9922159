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
	return AppendPayloads(b, sa.Nested()...)
}

// Nested returns the proposals.
func (sa *SA) Nested() []Payload { return payloadsOf(sa.Proposals) }

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
	ps, err := parseNested(b[8:], PayloadProposal, "proposal", parseProposal)
	if err != nil {
		return nil, 0, err
	}
	sa.Proposals = ps
	return sa, len(b), nil
}

// nestedPayload reads the generic header of a payload nested in another
// payload's body (a proposal, a transform) at the start of b and returns its
// Next Payload, its body and its total length. min is the smallest length
// the payload may have.
func nestedPayload(b []byte, minLen int) (PayloadType, []byte, int, error) {
	if len(b) < 4 {
		return 0, nil, 0, needShort("generic payload header", 4, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < minLen {
		return 0, nil, 0, Errorf(ErrLength, "payload length %d smaller than %d", n, minLen)
	}
	if n > len(b) {
		return 0, nil, 0, Errorf(ErrLength, "payload length %d exceeds %d remaining", n, len(b))
	}
	return PayloadType(b[0]), b[4:n], n, nil
}

// payloadsOf returns pointers to the elements of items as payloads: the
// Nested of a payload that holds a chain of them.
func payloadsOf[T any, P interface {
	*T
	Payload
}](items []T) []Payload {
	ps := make([]Payload, len(items))
	for i := range items {
		ps[i] = P(&items[i])
	}
	return ps
}

// parseNested parses the chain of nested payloads of type kind (the
// proposals of an SA, the transforms of a proposal) that fills b exactly:
// each one's Next Payload is kind, NONE for the last. name is what errors
// call one of them, numbered from 1.
func parseNested[T any](b []byte, kind PayloadType, name string, parse func([]byte) (T, PayloadType, int, error)) ([]T, error) {
	var items []T
	off := 0
	for i := 1; off < len(b); i++ {
		item, next, n, err := parse(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%s %d: %w", name, i, err)
		}
		items = append(items, item)
		off += n
		switch next {
		case PayloadNone:
			if off != len(b) {
				return nil, Errorf(ErrChain, "%s %d: next payload NONE but %d octets follow", name, i, len(b)-off)
			}
		case kind:
			if off == len(b) {
				return nil, Errorf(ErrChain, "%s %d: next payload %s but no octets follow", name, i, kind)
			}
		default:
			return nil, Errorf(ErrChain, "%s %d: next payload %s, want %s or NONE", name, i, next, kind)
		}
	}
	return items, nil
}
