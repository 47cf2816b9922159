package coop

import (
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/getlab/getlab/gateway/ikev1"
	wire "github.com/getlab/getlab/gateway/wire/coop"
	gdoiwire "github.com/getlab/getlab/gateway/wire/gdoi"
	"github.com/getlab/getlab/gateway/wire/isakmp"
)

// Message is one announcement: the ANN, the sender's policy and keys
// (SA and KD, with the POLICY flag) and its member database.
type Message struct {
	ANN     *wire.ANN
	SA      *gdoiwire.SA
	KD      *gdoiwire.KD
	Members *wire.Members
}

// ErrHash is an ANN whose HASH does not verify.
var ErrHash = errors.New("coop: HASH does not verify")

// Seal builds the ANN message on phase-1 SA sa with a fresh message ID:
// HDR*, HASH, ANN [, SA, KD] [, MEMBERS] (gateway/wire/coop).
func Seal(sa *ikev1.SA, m *Message) ([]byte, error) {
	ps := []isakmp.Payload{m.ANN}
	if (m.SA != nil) != m.ANN.Flags.Has(wire.FlagPolicy) || (m.SA != nil) != (m.KD != nil) {
		return nil, errors.New("coop: the POLICY flag needs SA and KD, and only then")
	}
	if m.SA != nil {
		ps = append(ps, m.SA, m.KD)
	}
	if m.Members != nil {
		ps = append(ps, m.Members)
	}
	if err := isakmp.CheckPayloads(ps...); err != nil {
		return nil, err
	}
	x := sa.NewExchange(wire.Exchange)
	after := isakmp.AppendPayloads(nil, ps...)
	h := &isakmp.Hash{Data: sa.HashA(x.MessageIDBytes(), after)}
	body := isakmp.AppendPayload(nil, wire.PayloadANN, h)
	return x.Seal(isakmp.PayloadHash, append(body, after...)), nil
}

// Open decrypts an ANN message received on phase-1 SA sa and checks its
// HASH and layout. A HASH that does not verify wraps ErrHash.
func Open(sa *ikev1.SA, pkt []byte) (*Message, error) {
	h, _, err := isakmp.ParseHeader(pkt)
	if err != nil {
		return nil, err
	}
	if h.Exchange != wire.Exchange {
		return nil, fmt.Errorf("coop: exchange %s is not an announcement", h.Exchange)
	}
	x := sa.Exchange(wire.Exchange, h.MessageID)
	m, err := x.Open(pkt, wire.Decoder)
	if err != nil {
		return nil, fmt.Errorf("coop: %w", err)
	}
	if len(m.Payloads) < 2 {
		return nil, errors.New("coop: an announcement needs HASH and ANN")
	}
	hash, ok := m.Payloads[0].(*isakmp.Hash)
	if !ok {
		return nil, fmt.Errorf("coop: first payload is %s, not HASH", m.Payloads[0].Type())
	}
	rest := m.Payloads[1:]
	if !hmac.Equal(hash.Data, sa.HashA(x.MessageIDBytes(), isakmp.AppendPayloads(nil, rest...))) {
		return nil, ErrHash
	}
	return layout(rest)
}

// layout reads the payloads after HASH: ANN, then SA and KD when the
// POLICY flag says so, then MEMBERS, and nothing else.
func layout(rest []isakmp.Payload) (*Message, error) {
	out := &Message{}
	var ok bool
	if len(rest) == 0 {
		return nil, errors.New("coop: no ANN payload")
	}
	if out.ANN, ok = rest[0].(*wire.ANN); !ok {
		return nil, fmt.Errorf("coop: payload after HASH is %s, not ANN", rest[0].Type())
	}
	rest = rest[1:]
	if out.ANN.Flags.Has(wire.FlagPolicy) {
		if len(rest) < 2 {
			return nil, errors.New("coop: POLICY flag without SA and KD")
		}
		sa, ok1 := rest[0].(*gdoiwire.SA)
		kd, ok2 := rest[1].(*gdoiwire.KD)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("coop: POLICY flag with %s, %s instead of SA, KD", rest[0].Type(), rest[1].Type())
		}
		out.SA, out.KD, rest = sa, kd, rest[2:]
	}
	if len(rest) > 0 {
		if out.Members, ok = rest[0].(*wire.Members); !ok {
			return nil, fmt.Errorf("coop: unexpected %s payload", rest[0].Type())
		}
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("coop: unexpected %s payload", rest[0].Type())
	}
	return out, nil
}
